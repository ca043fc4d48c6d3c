#include "migration/scan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/azure_blob_store.h"
#include "storage/local_store.h"
#include "storage/memory_store.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

using catalog::Catalog;
using catalog::Item;
using catalog::ItemState;
using testing::TempDir;
using testing::WriteFile;

std::map<std::string, Item> AllItems(Catalog& catalog) {
  std::map<std::string, Item> out;
  auto cursor = catalog.Items();
  EXPECT_TRUE(cursor.ok());
  Item item;
  while (*cursor->Next(item)) out[item.path] = item;
  return out;
}

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = std::move(Catalog::Create(dir_.Sub("migration"), {})).value();
    source_ = std::make_unique<storage::LocalStore>(dir_.Sub("src"));
    ::mkdir(dir_.Sub("src").c_str(), 0755);
  }
  ScanReport ScanNow(ScanOptions options = {}) {
    auto report = Scan(*catalog_, *source_, target_, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : ScanReport{};
  }

  TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<storage::LocalStore> source_;
  storage::MemoryStore target_;
};

// A source that counts the folders it is asked to read.
class CountingSource : public storage::LocalStore {
 public:
  using LocalStore::LocalStore;
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options = {}) override {
    auto inner = LocalStore::List(prefix, options);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<storage::Lister>(new Counting(std::move(*inner), entries));
  }
  int entries = 0;

 private:
  class Counting : public storage::Lister {
   public:
    Counting(std::unique_ptr<storage::Lister> inner, int& entries)
        : inner_(std::move(inner)), entries_(entries) {}
    Result<bool> Next(storage::Entry& entry) override {
      auto more = inner_->Next(entry);
      if (more.ok() && *more) ++entries_;
      return more;
    }
    void SkipContents() override { inner_->SkipContents(); }

   private:
    std::unique_ptr<storage::Lister> inner_;
    int& entries_;
  };
};

TEST_F(ScanTest, AnExcludedFolderIsNotWalked) {
  for (int i = 0; i < 50; ++i)
    WriteFile(dir_.Sub("src/.snapshot/hourly/f" + std::to_string(i)), "s");
  WriteFile(dir_.Sub("src/data/kept"), "k");
  CountingSource source(dir_.Sub("src"));
  ScanOptions options;
  options.filter = *Filter::Parse({}, {".snapshot"});
  auto report = Scan(*catalog_, source, target_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->files, 1);
  EXPECT_EQ(source.entries, 3) << ".snapshot (seen, then skipped), data, data/kept";
}

TEST_F(ScanTest, CountsSizesAndTheLargestFolders) {
  WriteFile(dir_.Sub("src/big/one"), std::string(100'000, 'x'));
  WriteFile(dir_.Sub("src/big/deeper/two"), std::string(50'000, 'x'));
  WriteFile(dir_.Sub("src/small/a"), "a");
  WriteFile(dir_.Sub("src/empty-file"), "");
  ::mkdir(dir_.Sub("src/empty").c_str(), 0755);
  ScanReport r = ScanNow();
  EXPECT_EQ(r.files, 4);
  EXPECT_EQ(r.folders, 4);  // big, big/deeper, small, empty
  EXPECT_EQ(r.bytes, 150'001);
  EXPECT_EQ(r.added, 8);
  EXPECT_EQ(r.histogram[0], 1);  // the empty file
  EXPECT_EQ(r.histogram[1], 1);  // "a"
  EXPECT_EQ(r.histogram[2], 1);  // 50 KB < 64 KiB
  EXPECT_EQ(r.histogram[3], 1);  // 100 KB < 1 MiB
  ASSERT_GE(r.largest.size(), 3u);
  EXPECT_EQ(r.largest[0].path, "big");
  EXPECT_EQ(r.largest[0].bytes, 150'000);
  EXPECT_EQ(r.largest[0].files, 2);
  EXPECT_EQ(r.largest[1].path, "big/deeper");
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("big/one").state, ItemState::kPending);
  EXPECT_EQ(items.at("empty").kind, storage::Kind::kFolder);
}

TEST_F(ScanTest, LinksSpecialFilesAndUnstorableNamesAreSkippedWithAReason) {
  WriteFile(dir_.Sub("src/file"), "f");
  ASSERT_EQ(::symlink("file", dir_.Sub("src/link").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir_.Sub("src/pipe").c_str(), 0600), 0);
  WriteFile(dir_.Sub("src/trailing./x"), "x");
  auto azure =
      storage::AzureBlobStore(*storage::ParseAzureUrl("https://a.blob.core.windows.net/data"), {});
  auto report = Scan(*catalog_, *source_, azure, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->unstorable, 2);  // the folder and the file in it
  EXPECT_EQ(report->skipped, 4);
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("link").state, ItemState::kSkipped);
  EXPECT_EQ(items.at("link").cause, "symbolic link");
  EXPECT_EQ(items.at("pipe").cause, "special file");
  EXPECT_EQ(items.at("trailing./x").cause, "name the target cannot store");
  EXPECT_NE(items.at("trailing./x").reason.find("ends with '.'"), std::string::npos);
  EXPECT_EQ(items.at("file").state, ItemState::kPending);
}

TEST_F(ScanTest, FollowedLinksBecomeTheirTargetFiles) {
  WriteFile(dir_.Sub("src/real"), "12345");
  ASSERT_EQ(::symlink("real", dir_.Sub("src/link").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", dir_.Sub("src/broken").c_str()), 0);
  ScanOptions options;
  options.symlinks = "follow";
  ScanReport r = ScanNow(options);
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("link").kind, storage::Kind::kFile);
  EXPECT_EQ(items.at("link").size, 5u);
  EXPECT_EQ(items.at("link").state, ItemState::kPending);
  EXPECT_EQ(items.at("broken").state, ItemState::kSkipped);
}

TEST_F(ScanTest, FiltersLeaveItemsOut) {
  WriteFile(dir_.Sub("src/keep.csv"), "k");
  WriteFile(dir_.Sub("src/drop.tmp"), "d");
  WriteFile(dir_.Sub("src/cache/inner.csv"), "c");
  ScanOptions options;
  options.filter = *Filter::Parse({}, {"*.tmp", "cache"});
  ScanNow(options);
  auto items = AllItems(*catalog_);
  EXPECT_TRUE(items.contains("keep.csv"));
  EXPECT_FALSE(items.contains("drop.tmp"));
  EXPECT_FALSE(items.contains("cache"));
  EXPECT_FALSE(items.contains("cache/inner.csv"));
}

TEST_F(ScanTest, ARescanRecordsChangedAndVanishedItems) {
  WriteFile(dir_.Sub("src/stays"), "s");
  WriteFile(dir_.Sub("src/grows"), "g");
  WriteFile(dir_.Sub("src/goes"), "x");
  ScanNow();
  WriteFile(dir_.Sub("src/grows"), "gggg");
  ::unlink(dir_.Sub("src/goes").c_str());
  WriteFile(dir_.Sub("src/new"), "n");
  ScanReport r = ScanNow();
  EXPECT_EQ(r.added, 1);
  EXPECT_EQ(r.changed, 1);
  EXPECT_EQ(r.vanished, 1);
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("grows").size, 4u);
  EXPECT_EQ(items.at("goes").state, ItemState::kVanished);
  EXPECT_EQ(items.at("new").state, ItemState::kPending);

  WriteFile(dir_.Sub("src/goes"), "back");
  ScanNow();
  EXPECT_EQ(AllItems(*catalog_).at("goes").state, ItemState::kPending);
}

TEST_F(ScanTest, ManyItemsSpanSeveralTransactions) {
  for (int i = 0; i < 12'000; ++i) {
    WriteFile(dir_.Sub("src/d" + std::to_string(i % 10) + "/f" + std::to_string(i)), "");
  }
  ScanReport first = ScanNow();
  EXPECT_EQ(first.files, 12'000);
  EXPECT_EQ(first.added, 12'010);
  ScanReport second = ScanNow();
  EXPECT_EQ(second.added, 0);
  EXPECT_EQ(second.changed, 0);
  EXPECT_EQ(AllItems(*catalog_).size(), 12'010u);
}

}  // namespace
}  // namespace ferry::migration
