// The copy engine on a real local source and an in-memory target.
#include "migration/copy.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "migration/scan.h"
#include "storage/local_store.h"
#include "storage/memory_store.h"
#include "support/store_conformance.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

using catalog::Catalog;
using catalog::Item;
using catalog::ItemState;
using testing::TempDir;
using testing::WriteFile;

std::string Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

// A source that touches a file while it is being read, the first `times` reads.
class ChangingSource : public storage::LocalStore {
 public:
  ChangingSource(std::string root, std::string victim, int times)
      : LocalStore(std::move(root)), victim_(std::move(victim)), times_(times) {}
  Status Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) override {
    Touch(path);
    return LocalStore::Read(path, offset, length, sink);
  }
  Result<size_t> ReadInto(std::string_view path, uint64_t offset, char* buffer,
                          size_t length) override {
    Touch(path);
    return LocalStore::ReadInto(path, offset, buffer, length);
  }

 private:
  void Touch(std::string_view path) {
    if (path == victim_ && times_ > 0) {
      --times_;
      struct timespec later[2] = {{0, UTIME_OMIT}, {2'000'000'000 + times_, 0}};
      ::utimensat(AT_FDCWD, (root() + "/" + victim_).c_str(), later, 0);
    }
  }

  std::string victim_;
  int times_;
};

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(dir_.Sub("src").c_str(), 0755);
    catalog_ = std::move(Catalog::Create(dir_.Sub("migration"), {})).value();
    source_ = std::make_unique<storage::LocalStore>(dir_.Sub("src"));
    options_.engine.streams = 4;
    options_.upload.single_shot_limit = 256 << 10;  // larger files stream as one write,
    options_.engine.block_above = 2 << 20;          // and these in blocks
    options_.upload.block_size = 1 << 20;
  }
  void ScanNow() { ASSERT_TRUE(Scan(*catalog_, *source_, target_, {}).ok()); }
  CopyReport CopyNow(storage::Store* source = nullptr) {
    auto report = Copy(*catalog_, source ? *source : *source_, target_, options_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : CopyReport{};
  }
  Item ItemAt(const std::string& path) { return **catalog_->FindItem(path); }

  TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<storage::LocalStore> source_;
  storage::MemoryStore target_;
  CopyOptions options_;
};

TEST_F(CopyTest, CopiesFilesFoldersAndMetadata) {
  std::string big = Random(3'500'000, 1);
  WriteFile(dir_.Sub("src/a/small.txt"), "hello");
  WriteFile(dir_.Sub("src/a/big.bin"), big);
  WriteFile(dir_.Sub("src/zero"), "");
  ::mkdir(dir_.Sub("src/empty").c_str(), 0750);
  ::chmod(dir_.Sub("src/a/small.txt").c_str(), 0600);
  ScanNow();
  CopyReport r = CopyNow();
  EXPECT_EQ(r.copied, 3);   // three files
  EXPECT_EQ(r.folders, 2);  // a/ (through its files) and the empty one (a marker)
  EXPECT_EQ(r.failed, 0);

  EXPECT_EQ(testing::ReadAllOf(target_, "a/big.bin"), big);
  auto small = target_.Stat("a/small.txt");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->content_md5, Md5::Of("hello"));
  struct stat st;
  ::stat(dir_.Sub("src/a/small.txt").c_str(), &st);
  EXPECT_EQ(small->metadata.at("permissions"), std::to_string(st.st_mode));
  EXPECT_EQ(small->metadata.at("modtime"),
            std::to_string(int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec));
  EXPECT_EQ(small->metadata.at("posix_owner"), std::to_string(st.st_uid));
  EXPECT_EQ(target_.Stat("a/big.bin")->content_md5, Md5::Of(big));
  EXPECT_EQ(target_.Stat("empty")->kind, storage::Kind::kFolder);
  EXPECT_EQ(target_.Stat("a").status().code(), Code::kNotFound)
      << "a folder with contents needs no marker";

  Item item = ItemAt("a/big.bin");
  EXPECT_EQ(item.state, ItemState::kCopied);
  EXPECT_EQ(item.md5, Md5::Of(big));
  EXPECT_EQ(item.target_etag, target_.Stat("a/big.bin")->etag);
  EXPECT_EQ(ItemAt("a").state, ItemState::kCopied);

  CopyReport again = CopyNow();
  EXPECT_EQ(again.copied + again.adopted + again.failed, 0) << "nothing is left to copy";
}

TEST_F(CopyTest, ABlobLeftByACrashedRunIsAdoptedAndADifferentOneIsAConflict) {
  WriteFile(dir_.Sub("src/same"), "same content");
  WriteFile(dir_.Sub("src/other"), "ours");
  ScanNow();
  storage::WriteOptions with_md5;
  with_md5.content_md5 = Md5::Of("same content");
  ASSERT_TRUE(target_.Write("same", http::Body::FromString("same content"), with_md5).ok());
  ASSERT_TRUE(target_.Write("other", http::Body::FromString("theirs"), {}).ok());
  CopyReport r = CopyNow();
  EXPECT_EQ(r.adopted, 1);
  EXPECT_EQ(r.conflicts, 1);
  EXPECT_EQ(ItemAt("same").state, ItemState::kCopied);
  Item other = ItemAt("other");
  EXPECT_EQ(other.state, ItemState::kConflict);
  EXPECT_NE(other.reason.find("different blob"), std::string::npos);
  EXPECT_EQ(testing::ReadAllOf(target_, "other"), "theirs") << "never overwritten";
}

TEST_F(CopyTest, LargeFilesResumeFromStagedBlocksThatHoldTheirCurrentBytes) {
  std::string big = Random(4'200'000, 2);
  WriteFile(dir_.Sub("src/big"), big);
  ScanNow();
  Item item = ItemAt("big");
  // Blocks 0, 1 and 2 were staged by a run that then crashed; block 2's bytes changed since
  // (with the size and mtime the same).
  for (uint64_t i = 0; i < 3; ++i) {
    std::string block = big.substr(i << 20, 1 << 20);
    std::string staged = i == 2 ? std::string(block.size(), 'x') : block;
    ASSERT_TRUE(
        target_
            .StageBlock("big",
                        transfer::BlockId("big", item.size, item.mtime_ns, i, Md5::Of(staged)),
                        http::Body::FromString(staged), std::nullopt)
            .ok());
  }
  CopyReport r = CopyNow();
  EXPECT_EQ(r.copied, 1);
  EXPECT_EQ(r.blocks_reused, 2);
  EXPECT_EQ(r.bytes_sent, int64_t(big.size() - (2 << 20)));
  EXPECT_EQ(testing::ReadAllOf(target_, "big"), big);
}

TEST_F(CopyTest, AFileDeletedAfterTheScanIsVanishedNotAnError) {
  WriteFile(dir_.Sub("src/gone"), "g");
  WriteFile(dir_.Sub("src/kept"), "k");
  ScanNow();
  ::unlink(dir_.Sub("src/gone").c_str());
  CopyReport r = CopyNow();
  EXPECT_EQ(r.vanished, 1);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.copied, 1);
  EXPECT_EQ(ItemAt("gone").state, ItemState::kVanished);
}

TEST_F(CopyTest, AFileThatChangedWhileReadIsReadAgain) {
  WriteFile(dir_.Sub("src/busy"), "content");
  ScanNow();
  ChangingSource source(dir_.Sub("src"), "busy", /*times=*/2);
  CopyReport r = CopyNow(&source);
  EXPECT_EQ(r.copied, 1);
  Item item = ItemAt("busy");
  EXPECT_EQ(item.state, ItemState::kCopied);
  struct stat st;
  ::stat(dir_.Sub("src/busy").c_str(), &st);
  EXPECT_EQ(item.mtime_ns, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec)
      << "the catalog records the version that was copied";
}

TEST_F(CopyTest, AFileThatKeepsChangingIsFailedAndNotStoredTorn) {
  for (std::string hot : {"hot-streamed", "hot-in-blocks"}) {
    SCOPED_TRACE(hot);
    WriteFile(dir_.Sub("src/" + hot),
              std::string(hot == "hot-streamed" ? 600'000 : 3'000'000, 'h'));
    ScanNow();
    ChangingSource source(dir_.Sub("src"), hot, /*times=*/1000);
    CopyReport r = CopyNow(&source);
    EXPECT_EQ(r.failed, 1);
    Item item = ItemAt(hot);
    EXPECT_EQ(item.state, ItemState::kFailed);
    EXPECT_EQ(item.cause, "source: kept changing while read");
    EXPECT_EQ(target_.Stat(hot).status().code(), Code::kNotFound);
  }
  // Once they settle, the next copy takes them (the first was taken by the second round).
  CopyReport later = CopyNow();
  EXPECT_EQ(later.copied, 1);
  EXPECT_EQ(ItemAt("hot-streamed").state, ItemState::kCopied);
  EXPECT_EQ(ItemAt("hot-in-blocks").state, ItemState::kCopied);
}

TEST_F(CopyTest, KeptLinksBecomeLinkBlobs) {
  WriteFile(dir_.Sub("src/target.txt"), "t");
  ASSERT_EQ(::symlink("target.txt", dir_.Sub("src/link").c_str()), 0);
  ScanOptions scan;
  scan.symlinks = catalog::SymlinkPolicy::kKeep;
  ASSERT_TRUE(Scan(*catalog_, *source_, target_, scan).ok());
  CopyNow();
  auto link = target_.Stat("link");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->kind, storage::Kind::kSymlink);
  EXPECT_EQ(testing::ReadAllOf(target_, "link"), "target.txt");
}

TEST_F(CopyTest, EveryOutcomeIsInTheEventLog) {
  WriteFile(dir_.Sub("src/x"), "x");
  ScanNow();
  CopyNow();
  auto runs = catalog_->Runs();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].stage, "copy");
  EXPECT_EQ((*runs)[1].outcome, "done");
  EXPECT_EQ((*runs)[1].files, 1);
}

// A target that refuses every write with one error.
class RefusingStore : public storage::MemoryStore {
 public:
  explicit RefusingStore(Status error) : error_(std::move(error)) {}
  Result<storage::WriteResult> Write(std::string_view, const http::Body&,
                                     const storage::WriteOptions&) override {
    return error_;
  }

 private:
  Status error_;
};

TEST_F(CopyTest, ATargetThatRefusesItemAfterItemStopsTheRunAnItemsOwnErrorDoesNot) {
  for (int i = 0; i < 200; ++i) WriteFile(dir_.Sub(fmt::format("src/f{:03d}", i)), "x");
  ScanNow();
  const std::pair<Status, bool> cases[] = {
      {Status(Code::kAuth, "AuthenticationFailed: the SAS expired"), true},
      {Status(Code::kNotFound, "no container")
           .WithHttp(404, "ContainerNotFound", "r")
           .WithEndpointWide(),
       true},
      {Status(Code::kTransient, "Couldn't connect to server"), true},
      {Status(Code::kInvalidInput, "InvalidBlobOrBlock").WithHttp(400, "InvalidBlobOrBlock", "r"),
       false},
  };
  for (const auto& [error, stops] : cases) {
    RefusingStore refusing(error);
    auto report = Copy(*catalog_, *source_, refusing, options_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(!report->unreachable.empty(), stops) << error.ToString();
    EXPECT_EQ(report->stopped, stops) << error.ToString();
    if (stops) {
      EXPECT_LT(report->failed, 40) << "stopped after a run of failures: " << error.ToString();
    } else {
      EXPECT_EQ(report->failed, 200) << "every item tried: " << error.ToString();
    }
  }
}

TEST(CauseOf, GroupsByServiceCodeOrSourceError) {
  Status http(Code::kAuth, "write 'x': refused");
  http.WithHttp(403, "AuthorizationFailure", "r1");
  EXPECT_EQ(CauseOf(http), "target: HTTP 403 AuthorizationFailure");
  EXPECT_EQ(CauseOf(Status(Code::kIo, "cannot open '/a/b': Permission denied")),
            "source: Permission denied");
  EXPECT_EQ(CauseOf(Status(Code::kTransient, "PUT http://x: Couldn't connect to server")),
            "network: Couldn't connect to server");
}

}  // namespace
}  // namespace ferry::migration
