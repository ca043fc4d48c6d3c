#include "migration/scan.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "migration/watch.h"
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

// A source where one folder cannot be listed (as a folder with mode 000 is for a service
// account) and, optionally, one that has no change times or inodes (as some shares do).
class FlakySource : public storage::LocalStore {
 public:
  FlakySource(std::string root, std::string unreadable, bool stamps)
      : LocalStore(std::move(root)), unreadable_(std::move(unreadable)), stamps_(stamps) {}
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options = {}) override {
    auto inner = LocalStore::List(prefix, options);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<storage::Lister>(new Flaky(std::move(*inner), *this));
  }

 private:
  class Flaky : public storage::Lister {
   public:
    Flaky(std::unique_ptr<storage::Lister> inner, const FlakySource& source)
        : inner_(std::move(inner)), source_(source) {}
    Result<bool> Next(storage::Entry& entry) override {
      while (true) {
        auto more = inner_->Next(entry);
        if (!more.ok() || !*more) return more;
        if (!source_.stamps_) entry.ctime_ns = 0, entry.inode = 0;
        if (source_.unreadable_.empty() || !entry.path.starts_with(source_.unreadable_)) {
          return more;
        }
        if (failed_) continue;  // the rest of the folder is not seen
        failed_ = true;
        return Status(Code::kIo, "cannot list folder " + source_.unreadable_);
      }
    }
    std::string Unlisted() const override { return source_.unreadable_; }

   private:
    std::unique_ptr<storage::Lister> inner_;
    const FlakySource& source_;
    bool failed_ = false;
  };
  std::string unreadable_;
  bool stamps_;
};

TEST_F(ScanTest, AFolderThatCannotBeListedKeepsItsItemsAsTheyWere) {
  WriteFile(dir_.Sub("src/a/one"), "1");
  WriteFile(dir_.Sub("src/locked/two"), "2");
  WriteFile(dir_.Sub("src/locked/deeper/three"), "3");
  WriteFile(dir_.Sub("src/z"), "z");
  ScanNow();
  for (auto& [path, item] : AllItems(*catalog_)) {  // as if copied
    item.state = ItemState::kCopied;
    item.target_etag = "\"e\"";
    ASSERT_TRUE(catalog_->UpdateItem(item).ok());
  }
  ::unlink(dir_.Sub("src/a/one").c_str());
  FlakySource source(dir_.Sub("src"), "locked/", true);
  ScanOptions options;
  options.sync = true;
  auto report = Scan(*catalog_, source, target_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->unreadable, 1);
  EXPECT_EQ(report->kept_unknown, 3) << "locked/two, locked/deeper and locked/deeper/three";
  EXPECT_EQ(report->delta_deleted, 1) << "only a/one, which a full listing of a/ no longer shows";
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("a/one").state, ItemState::kSourceDeleted);
  EXPECT_EQ(items.at("locked/two").state, ItemState::kCopied);
  EXPECT_EQ(items.at("locked/deeper/three").state, ItemState::kCopied);
  EXPECT_EQ(items.at("locked").state, ItemState::kCopied) << "the folder itself was listed";
  EXPECT_EQ(items.at("z").state, ItemState::kCopied);
}

// After the cutover, a folder of the retired source that cannot be read hides any change
// there: the watch does not call the source unchanged, and the decommission gate stays shut;
// so do items that were skipped (they exist only at the source).
TEST_F(ScanTest, AnUnreadableFolderOrASkippedItemKeepsTheRetiredSourceFromGoing) {
  WriteFile(dir_.Sub("src/a"), "a");
  WriteFile(dir_.Sub("src/locked/two"), "2");
  ScanNow();
  for (auto& [path, item] : AllItems(*catalog_)) {  // as if copied and cut over
    item.state = ItemState::kCopied;
    item.target_etag = "\"e\"";
    ASSERT_TRUE(catalog_->UpdateItem(item).ok());
  }
  ASSERT_TRUE(catalog_->SetMeta("cutover", R"({"time_ns": 1})").ok());
  ASSERT_TRUE(catalog_->SetMeta("closed", "1").ok());

  auto readable = WatchSource(*catalog_, *source_, target_, {});
  ASSERT_TRUE(readable.ok()) << readable.status().ToString();
  EXPECT_TRUE(readable->unchanged());

  FlakySource locked(dir_.Sub("src"), "locked/", true);
  auto watched = WatchSource(*catalog_, locked, target_, {});
  ASSERT_TRUE(watched.ok()) << watched.status().ToString();
  EXPECT_TRUE(watched->changes.empty());
  EXPECT_EQ(watched->unreadable, 1);
  EXPECT_FALSE(watched->unchanged()) << "a change under locked/ would go unseen";

  catalog::Item skipped;
  skipped.path = "link";
  skipped.kind = storage::Kind::kSymlink;
  skipped.state = ItemState::kSkipped;
  ASSERT_TRUE(catalog_->InsertItem(skipped).ok());
  auto gate = CheckDecommission(*catalog_, locked, target_, {}, 0, false, int64_t(1) << 62);
  ASSERT_TRUE(gate.ok()) << gate.status().ToString();
  EXPECT_FALSE(gate->passed);
  std::string unmet;
  for (const auto& why : gate->unmet) unmet += why + "\n";
  EXPECT_NE(unmet.find("1 folder of the source could not be read"), std::string::npos) << unmet;
  EXPECT_NE(unmet.find("1 skipped item exists only at the source"), std::string::npos) << unmet;
  auto accepted = CheckDecommission(*catalog_, locked, target_, {}, 0, true, int64_t(1) << 62);
  ASSERT_TRUE(accepted.ok());
  unmet.clear();
  for (const auto& why : accepted->unmet) unmet += why + "\n";
  EXPECT_EQ(unmet.find("skipped"), std::string::npos) << unmet;
}

TEST_F(ScanTest, AStoppedScanTakesNothingItDidNotReachForGone) {
  WriteFile(dir_.Sub("src/a"), "a");
  WriteFile(dir_.Sub("src/b"), "b");
  ScanNow();
  std::atomic<bool> stop{true};
  ScanOptions options;
  options.sync = true;
  options.stop = &stop;
  ::unlink(dir_.Sub("src/b").c_str());
  auto report = Scan(*catalog_, *source_, target_, options);
  EXPECT_EQ(report.status().code(), Code::kCancelled);
  EXPECT_EQ(AllItems(*catalog_).at("b").state, ItemState::kPending);
  auto runs = catalog_->Runs();
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->back().outcome, "stopped");
}

TEST_F(ScanTest, AChangeTimeRevealsBytesReplacedUnderTheOldMtime) {
  WriteFile(dir_.Sub("src/f"), "AAAA");
  ScanNow();
  auto item = AllItems(*catalog_).at("f");
  item.state = ItemState::kCopied;
  item.md5 = Md5::Of("AAAA");
  item.target_etag = "\"e\"";
  ASSERT_TRUE(catalog_->UpdateItem(item).ok());
  struct stat before;
  ASSERT_EQ(::stat(dir_.Sub("src/f").c_str(), &before), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteFile(dir_.Sub("src/f"), "BBBB");
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, dir_.Sub("src/f").c_str(), times, 0), 0);

  // Without change times (some shares), only --checksum can tell.
  FlakySource plain(dir_.Sub("src"), "", /*stamps=*/false);
  ScanOptions options;
  options.sync = true;
  options.dry_run = true;
  catalog::Item unstamped = item;
  unstamped.ctime_ns = 0;
  unstamped.inode = 0;
  ASSERT_TRUE(catalog_->UpdateItem(unstamped).ok());
  auto blind = Scan(*catalog_, plain, target_, options);
  ASSERT_TRUE(blind.ok());
  EXPECT_EQ(blind->delta_changed, 0);
  options.checksum = true;
  auto summed = Scan(*catalog_, plain, target_, options);
  ASSERT_TRUE(summed.ok());
  EXPECT_EQ(summed->delta_changed, 1);

  // With them, a plain pass sees it.
  ASSERT_TRUE(catalog_->UpdateItem(item).ok());
  options.checksum = false;
  auto seen = Scan(*catalog_, *source_, target_, options);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->delta_changed, 1);
}

// An object store whose listing gives times in whole seconds, as S3's does.
class ObjectSource : public storage::MemoryStore {
 public:
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options = {}) override {
    auto inner = MemoryStore::List(prefix, options);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<storage::Lister>(new SameSecond(std::move(*inner)));
  }

 private:
  class SameSecond : public storage::Lister {
   public:
    explicit SameSecond(std::unique_ptr<storage::Lister> inner) : inner_(std::move(inner)) {}
    Result<bool> Next(storage::Entry& entry) override {
      auto more = inner_->Next(entry);
      entry.mtime_ns = 1'700'000'000'000'000'000;  // every write within one second
      return more;
    }

   private:
    std::unique_ptr<storage::Lister> inner_;
  };
};

TEST_F(ScanTest, AnObjectsEtagRevealsAReplacementOfTheSameSizeWithinTheSecond) {
  ObjectSource source;
  ASSERT_TRUE(source.Write("obj", http::Body::FromString("AAAA"), {}).ok());
  auto first = Scan(*catalog_, source, target_, {});
  ASSERT_TRUE(first.ok());
  auto item = AllItems(*catalog_).at("obj");
  EXPECT_EQ(item.source_etag, source.Stat("obj")->etag);
  item.state = ItemState::kCopied;
  item.md5 = Md5::Of("AAAA");
  item.target_etag = "\"e\"";
  ASSERT_TRUE(catalog_->UpdateItem(item).ok());

  ScanOptions options;
  options.sync = true;
  options.dry_run = true;
  auto unchanged = Scan(*catalog_, source, target_, options);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->delta_changed, 0);
  ASSERT_TRUE(source.Write("obj", http::Body::FromString("BBBB"), {}).ok());
  auto replaced = Scan(*catalog_, source, target_, options);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->delta_changed, 1) << "same size, same second: only the ETag differs";
}

// A service that lists keys out of byte order, as s3rver does ("a/a" before "a-b"; S3 itself
// sorts by UTF-8 bytes, '-' < '/').
class MisorderedSource : public storage::MemoryStore {
 public:
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options = {}) override {
    auto inner = MemoryStore::List(prefix, options);
    if (!inner.ok()) return inner.status();
    std::vector<storage::Entry> entries;
    storage::Entry entry;
    while (*(*inner)->Next(entry)) entries.push_back(entry);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path.substr(0, a.path.find_first_of("-/")) <
             b.path.substr(0, b.path.find_first_of("-/"));  // "folders" not in byte order
    });
    std::stable_partition(entries.begin(), entries.end(),
                          [](const auto& e) { return e.path.find('/') != std::string::npos; });
    return std::unique_ptr<storage::Lister>(new Replay(std::move(entries)));
  }

 private:
  class Replay : public storage::Lister {
   public:
    explicit Replay(std::vector<storage::Entry> entries) : entries_(std::move(entries)) {}
    Result<bool> Next(storage::Entry& entry) override {
      if (next_ == entries_.size()) return false;
      entry = entries_[next_++];
      return true;
    }

   private:
    std::vector<storage::Entry> entries_;
    size_t next_ = 0;
  };
};

TEST_F(ScanTest, AListingOutOfOrderStopsTheScanBeforeAnythingIsTakenForGone) {
  MisorderedSource source;
  for (const char* key : {"a-b", "a.txt", "a/a", "a/c", "b"}) {
    ASSERT_TRUE(source.Write(key, http::Body::FromString(key), {}).ok());
  }
  // The first scan of a migration records what a sorted listing gives.
  storage::MemoryStore sorted;
  for (const char* key : {"a-b", "a.txt", "a/a", "a/c", "b"}) {
    ASSERT_TRUE(sorted.Write(key, http::Body::FromString(key), {}).ok());
  }
  ASSERT_TRUE(Scan(*catalog_, sorted, target_, {}).ok());
  ASSERT_EQ(AllItems(*catalog_).size(), 5u);

  ScanOptions options;
  options.sync = true;
  auto misordered = Scan(*catalog_, source, target_, options);
  ASSERT_FALSE(misordered.ok()) << "a merge over a misordered listing takes items for gone";
  EXPECT_NE(misordered.status().message().find("order"), std::string::npos)
      << misordered.status().ToString();
  for (const auto& [path, item] : AllItems(*catalog_)) {
    EXPECT_NE(item.state, ItemState::kDeleted) << path;
  }
}

TEST_F(ScanTest, KeysThatAreNoPathAreSkippedWithTheReason) {
  ObjectSource source;
  for (const char* key : {"ok/a", "a//b", "x/../../escape", "./dot", "/lead"}) {
    ASSERT_TRUE(source.Write(key, http::Body::FromString("data"), {}).ok());
  }
  ASSERT_TRUE(Scan(*catalog_, source, target_, {}).ok());
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("ok/a").state, ItemState::kPending);
  for (const char* key : {"a//b", "x/../../escape", "./dot", "/lead"}) {
    EXPECT_EQ(items.at(key).state, ItemState::kSkipped) << key;
    EXPECT_NE(items.at(key).reason.find("empty, '.' or '..' part"), std::string::npos)
        << items.at(key).reason;
  }
}

TEST_F(ScanTest, ChecksumReadsAheadAndFindsEveryChangedFile) {
  auto content = [](int i, char c) { return fmt::format("{}-{:03}", std::string(8, c), i); };
  auto path = [](int i) { return fmt::format("d{}/f{:03}", i % 6, i); };
  for (int i = 0; i < 120; ++i) WriteFile(dir_.Sub("src/" + path(i)), content(i, 'a'));
  ScanNow();
  for (auto& [p, item] : AllItems(*catalog_)) {
    if (item.kind != storage::Kind::kFile) continue;
    item.state = ItemState::kCopied;
    item.md5 = Md5::Of(content(std::stoi(p.substr(p.size() - 3)), 'a'));
    item.target_etag = "\"e\"";
    item.ctime_ns = 0;  // as on a share without change times: only the bytes tell
    item.inode = 0;
    ASSERT_TRUE(catalog_->UpdateItem(item).ok());
  }
  std::set<std::string> changed;
  for (int i = 0; i < 120; i += 17) {  // same size, mtime put back
    struct stat before;
    ASSERT_EQ(::stat(dir_.Sub("src/" + path(i)).c_str(), &before), 0);
    WriteFile(dir_.Sub("src/" + path(i)), content(i, 'b'));
    struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, dir_.Sub("src/" + path(i)).c_str(), times, 0), 0);
    changed.insert(path(i));
  }
  WriteFile(dir_.Sub("src/" + path(7)), "longer than before");  // read ahead, then not needed
  changed.insert(path(7));
  ::unlink(dir_.Sub("src/" + path(50)).c_str());  // read ahead, and gone

  FlakySource plain(dir_.Sub("src"), "", /*stamps=*/false);
  ScanOptions options;
  options.sync = true;
  options.checksum = true;
  options.checksum_concurrency = 8;
  auto report = Scan(*catalog_, plain, target_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->unreadable, 0);
  std::set<std::string> pending;
  for (const auto& [p, item] : AllItems(*catalog_)) {
    if (item.kind == storage::Kind::kFile && item.state == ItemState::kPending) pending.insert(p);
  }
  EXPECT_EQ(pending, changed);
  EXPECT_EQ(AllItems(*catalog_).at(path(50)).state, ItemState::kSourceDeleted);
  EXPECT_EQ(AllItems(*catalog_).at(path(52)).state, ItemState::kCopied);
}

TEST_F(ScanTest, AFileLargerThanTheTargetsLargestItemIsSkippedWithTheReason) {
  // The in-memory target holds 50,000 blocks of 64 MiB: 3.05 TiB. A 4 TiB sparse file does not
  // fit; a 3 TiB one does.
  for (auto [name, size] : {std::pair{"huge", 4ull << 40}, std::pair{"large", 3ull << 40}}) {
    int fd = ::open(dir_.Sub(std::string("src/") + name).c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    if (::ftruncate(fd, off_t(size)) != 0) {
      ::close(fd);
      GTEST_SKIP() << "this file system cannot hold a 4 TiB sparse file";
    }
    ::close(fd);
  }
  ScanReport report = ScanNow();
  EXPECT_EQ(report.skipped, 1);
  auto items = AllItems(*catalog_);
  EXPECT_EQ(items.at("huge").state, ItemState::kSkipped);
  EXPECT_EQ(items.at("huge").cause, "too large for the target");
  EXPECT_NE(items.at("huge").reason.find("50000 blocks of 64 MiB"), std::string::npos)
      << items.at("huge").reason;
  EXPECT_EQ(items.at("large").state, ItemState::kPending);
}

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
  options.symlinks = catalog::SymlinkPolicy::kFollow;
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
