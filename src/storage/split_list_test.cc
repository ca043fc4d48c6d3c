#include "storage/split_list.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>

#include "storage/memory_store.h"

namespace ferry::storage {
namespace {

// A memory store that counts its flat listings and fails the one of `failing` (a prefix).
class CountingStore : public MemoryStore {
 public:
  Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options) override {
    ++lists;
    if (!failing.empty() && prefix == failing) {
      return Status(Code::kTransient, "list failed: " + std::string(prefix));
    }
    return MemoryStore::List(prefix, options);
  }
  Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                              const ListOptions& options) override {
    if (!failing_level.empty() && prefix == failing_level) {
      return Status(Code::kTransient, "list failed: " + std::string(prefix));
    }
    return MemoryStore::ListLevel(prefix, marker, options);
  }
  std::atomic<int> lists{0};
  std::string failing, failing_level;
};

void Put(MemoryStore& store, const std::string& path) {
  ASSERT_TRUE(store.Write(path, http::Body::FromString(path), {}).ok()) << path;
}

std::vector<std::string> Drain(Lister& lister) {
  std::vector<std::string> paths;
  Entry entry;
  while (true) {
    Result<bool> more = lister.Next(entry);
    EXPECT_TRUE(more.ok()) << more.status().message();
    if (!more.ok() || !*more) break;
    paths.push_back(entry.path);
  }
  return paths;
}

std::vector<std::string> Flat(MemoryStore& store) {
  auto lister = store.MemoryStore::List("", {});
  return Drain(**lister);
}

// Names that sort around the folder boundaries: "a" < "a.b" < "a/..." < "a0", a folder marker
// beside its folder, deep and shallow folders.
void FillTricky(MemoryStore& store) {
  for (const char* path : {"a", "a.b", "a-z/x", "a/b", "a/b/c", "a/b.c", "a/b0", "a/c/d/e/f", "a0",
                           "b/", "b/x", "c", "d/e/f/g/h/i", "z/z", "\xc3\xa9t\xc3\xa9/x"}) {
    Put(store, path);
  }
}

TEST(SplitListing, ListsTheSameEntriesInTheSameOrder) {
  for (bool ranges : {false, true}) {
    for (size_t page : {size_t(2), size_t(5), size_t(5000)}) {
      for (int streams : {2, 3, 8}) {
        CountingStore store;
        store.level_page_size = page;
        store.lists_after = ranges;
        FillTricky(store);
        auto split = SplitListing(store, "", {}, streams, nullptr);
        EXPECT_EQ(Drain(*split), Flat(store))
            << "page " << page << ", streams " << streams << ", ranges " << ranges;
      }
    }
  }
}

TEST(SplitListing, ARandomTreeListsAsFlat) {
  std::mt19937 random(7);
  const std::string letters = "ab./-0~";
  CountingStore store;
  store.level_page_size = 1000;
  std::set<std::string> names;
  for (int i = 0; i < 3000; ++i) {
    std::string path;
    int parts = 1 + int(random() % 4);
    for (int p = 0; p < parts; ++p) {
      if (p) path += '/';
      int length = 1 + int(random() % 3);
      for (int c = 0; c < length; ++c) {
        char ch = letters[random() % letters.size()];
        path += ch == '/' ? 'c' : ch;
      }
    }
    names.insert(path);
  }
  for (const std::string& name : names) Put(store, name);
  for (bool ranges : {false, true}) {
    store.lists = 0;
    store.lists_after = ranges;
    auto split = SplitListing(store, "", {}, 4, nullptr);
    std::vector<std::string> listed = Drain(*split);
    EXPECT_EQ(listed, Flat(store));
    EXPECT_GT(store.lists.load(), 4) << "the listing was split into flat parts";
    EXPECT_GE(store.level_pages.load(), 1);
  }
}

// 10 sites of 50 small projects: split by site, not into 500 parts of 3 objects each.
TEST(SplitListing, ALevelOfSmallFoldersIsNotSplitFurther) {
  CountingStore store;
  for (int site = 0; site < 10; ++site) {
    for (int project = 0; project < 50; ++project) {
      for (int file = 0; file < 3; ++file) {
        Put(store, fmt::format("site{}/p{:02}/f{}", site, project, file));
      }
    }
  }
  Put(store, "a-file-at-the-root");  // kept, whole, when the deeper level is not split
  Put(store, "z-file-at-the-root");
  auto split = SplitListing(store, "", {}, 8, nullptr);
  EXPECT_EQ(Drain(*split), Flat(store));
  EXPECT_EQ(store.lists.load(), 10) << "one stream per site";
  EXPECT_EQ(store.level_pages.load(), 1 + 10) << "the root's level, and the sites' looked at";
}

TEST(SplitListing, ASinglePageIsListedOnceAndNotSplit) {
  CountingStore store;
  FillTricky(store);
  // The memory store's own listing holds everything: its first page is its last.
  class WholeLister : public Lister {
   public:
    explicit WholeLister(std::unique_ptr<Lister> inner) : inner_(std::move(inner)) {}
    Result<bool> Next(Entry& entry) override { return inner_->Next(entry); }
    bool FullyFetched() const override { return true; }

   private:
    std::unique_ptr<Lister> inner_;
  };
  auto flat = std::make_unique<WholeLister>(std::move(store.MemoryStore::List("", {})).value());
  auto split = SplitListing(store, "", {}, 8, std::move(flat));
  EXPECT_EQ(Drain(*split), Flat(store));
  EXPECT_EQ(store.level_pages.load(), 0);
  EXPECT_TRUE(split->FullyFetched());
}

TEST(SplitListing, MoreThanAPageIsSplit) {
  CountingStore store;
  FillTricky(store);
  // A first page that is not the last: the split lists everything again, by level.
  auto flat = std::move(store.MemoryStore::List("", {})).value();
  auto split = SplitListing(store, "", {}, 4, std::move(flat));
  EXPECT_EQ(Drain(*split), Flat(store));
  EXPECT_GT(store.level_pages.load(), 0);
}

// Lists until the end or an error; the paths listed before.
Status ListUntilError(Lister& lister, std::vector<std::string>& before) {
  Entry entry;
  while (true) {
    Result<bool> more = lister.Next(entry);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    before.push_back(entry.path);
  }
}

TEST(SplitListing, AFailedPartEndsTheListing) {
  CountingStore store;
  FillTricky(store);
  store.failing = "d/e/f/g/";  // split this deep, it is listed flat
  auto split = SplitListing(store, "", {}, 3, nullptr);
  std::vector<std::string> before;
  Status status = ListUntilError(*split, before);
  ASSERT_FALSE(status.ok()) << "the listing ended as if complete";
  EXPECT_NE(status.message().find("d/e/f/g/"), std::string::npos);
  EXPECT_EQ(split->Unlisted(), "") << "nothing after the error can be trusted";
  ASSERT_FALSE(before.empty());
  for (const std::string& path : before) EXPECT_LT(path, "d/e/f/g/");
}

TEST(SplitListing, AFailedLevelEndsTheListing) {
  CountingStore store;
  FillTricky(store);
  store.failing_level = "a/";
  auto split = SplitListing(store, "", {}, 3, nullptr);
  std::vector<std::string> before;
  Status status = ListUntilError(*split, before);
  ASSERT_FALSE(status.ok()) << "the listing ended as if complete";
  EXPECT_TRUE(before.empty());
}

TEST(SplitListing, AReaderThatStopsEarlyLeavesNothingRunning) {
  CountingStore store;
  for (int folder = 0; folder < 40; ++folder) {
    for (int file = 0; file < 300; ++file) Put(store, fmt::format("f{:02}/{:04}", folder, file));
  }
  auto split = SplitListing(store, "", {}, 4, nullptr);
  Entry entry;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(*split->Next(entry));
  EXPECT_EQ(entry.path, "f00/0009");
  split.reset();  // must return: the streams blocked on full buffers are let go
}

TEST(SplitListing, RangesListWhatALevelListingLeftOut) {
  for (bool ranges : {false, true}) {
    CountingStore store;
    FillTricky(store);
    store.lists_after = ranges;
    store.hidden_prefixes = {"d/", "a/c/"};  // as s3rver, which misses prefixes with deeper keys
    auto split = SplitListing(store, "", {}, 3, nullptr);
    std::vector<std::string> listed = Drain(*split);
    if (ranges) {
      EXPECT_EQ(listed, Flat(store));
    } else {  // by prefix, the service's level listing is trusted (Azure's is its own)
      EXPECT_EQ(std::count(listed.begin(), listed.end(), "d/e/f/g/h/i"), 0);
    }
  }
}

TEST(SplitListing, RangesRefuseAListingOutOfByteOrder) {
  // A service that lists "a/..." before "a-b" (by segment, as s3rver does) would hide "a-b" from
  // the range that ends in "a/": the range sees it come after its end and refuses.
  class Misordered : public CountingStore {
   public:
    Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options) override {
      class Fixed : public Lister {
       public:
        explicit Fixed(std::vector<std::string> paths) : paths_(std::move(paths)) {}
        Result<bool> Next(Entry& entry) override {
          if (next_ == paths_.size()) return false;
          entry = Entry{};
          entry.path = paths_[next_++];
          return true;
        }

       private:
        std::vector<std::string> paths_;
        size_t next_ = 0;
      };
      std::vector<std::string> order{"a/1/2/3/4/x", "a-b", "b/y", "c"};
      std::vector<std::string> paths;
      for (const std::string& p : order) {
        if (p.starts_with(prefix) && (options.after.empty() || p > options.after)) {
          paths.push_back(p);
        }
      }
      return std::unique_ptr<Lister>(new Fixed(paths));
    }
  };
  Misordered store;
  store.lists_after = true;
  // Deep enough that a range starts at "a/1/2/3/".
  for (const char* path : {"a-b", "a/1/2/3/4/x", "b/y", "c"}) Put(store, path);
  auto split = SplitListing(store, "", {}, 2, nullptr);
  std::vector<std::string> before;
  Status status = ListUntilError(*split, before);
  EXPECT_EQ(status.code(), Code::kRefused) << status.ToString();
}

TEST(SplitListing, ListsUnderAPrefix) {
  CountingStore store;
  FillTricky(store);
  auto split = SplitListing(store, "a/", {}, 2, nullptr);
  EXPECT_EQ(Drain(*split),
            (std::vector<std::string>{"a/b", "a/b.c", "a/b/c", "a/b0", "a/c/d/e/f"}));
}

}  // namespace
}  // namespace ferry::storage
