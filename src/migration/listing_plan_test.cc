#include "migration/listing_plan.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "migration/scan.h"
#include "storage/memory_store.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

using catalog::Catalog;
using testing::TempDir;

// `folders` folders of `blobs` blobs each.
void Fill(storage::MemoryStore& store, int folders, int blobs) {
  for (int d = 0; d < folders; ++d) {
    for (int b = 0; b < blobs; ++b) {
      ASSERT_OK(store.Write(fmt::format("d{}/b{:05d}", d, b), http::Body::FromString("x"), {}));
    }
  }
}

// A catalog in `dir` that knows the items of `store` (a scan of it).
std::unique_ptr<Catalog> Scanned(storage::MemoryStore& store, const std::string& dir) {
  std::unique_ptr<Catalog> catalog = std::move(Catalog::Create(dir, {})).value();
  storage::MemoryStore target;
  EXPECT_OK(Scan(*catalog, store, target, ScanOptions{}));
  store.level_pages = 0;
  return catalog;
}

size_t Parts(const Result<std::optional<SharedPlan>>& plan) {
  EXPECT_OK(plan);
  return plan.ok() && *plan ? (*plan)->prefixes.size() : 0;
}

// A level is read a page of 1,000 results at most, only to learn whether it is bigger: folders
// of 1,500 blobs are parts of a first scan's plan (with whole pages of 5,000, a plan would have
// read them whole, and left nothing to split).
TEST(ListingPlan, AFirstScanSplitsFoldersOfMoreThanAThousand) {
  TempDir dir;
  storage::MemoryStore store;
  Fill(store, 8, 1500);
  std::unique_ptr<Catalog> empty = std::move(Catalog::Create(dir.Sub("m"), {})).value();
  Result<std::optional<SharedPlan>> plan = PlanSharedListing(store, false, *empty, 1, Split::kAuto);
  ASSERT_EQ(Parts(plan), 8u);
  EXPECT_EQ((*plan)->prefixes.front(), "d0/");
  EXPECT_TRUE((*plan)->entries.empty());
  EXPECT_EQ(store.level_pages, 9) << "the root and one page of each folder";
}

// Where the catalog knows the items, auto splits only parts a process left alone with them
// gains from: listing them 4 at once, a page (5,000) each on average; one at a time, 20,000.
// Always splits what a first scan would; never splits nothing, and reads nothing.
TEST(ListingPlan, AutoSplitsOnlyPartsThatPayOffForAProcessAlone) {
  TempDir dir;
  storage::MemoryStore store;
  Fill(store, 8, 6000);  // 48,008 items
  std::unique_ptr<Catalog> known = Scanned(store, dir.Sub("m"));
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAuto)), 8u);
  store.level_pages = 0;
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 1, Split::kAuto)), 0u)
      << "6,000 a part, where 20,000 would pay off";
  EXPECT_EQ(store.level_pages, 1)
      << "the root names 8 folders, the items fill 2 parts: no folder is read";
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 1, Split::kAlways)), 8u);
  store.level_pages = 0;
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kNever)), 0u);
  EXPECT_EQ(store.level_pages, 0);
}

// A catalog with too few items for two parts worth it is not planned at all: no level is read.
TEST(ListingPlan, TooFewItemsForTwoPartsAreNotPlanned) {
  TempDir dir;
  storage::MemoryStore store;
  Fill(store, 8, 1500);  // 12,008 items: two parts of 20,000 are 40,000
  std::unique_ptr<Catalog> known = Scanned(store, dir.Sub("m"));
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 1, Split::kAuto)), 0u);
  EXPECT_EQ(store.level_pages, 0);
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAuto)), 0u)
      << "planned (12,008 items could be two parts of 5,000), then 8 folders for 2 parts";
  EXPECT_EQ(store.level_pages, 1) << "the root only";
}

// The root's own level is read a whole page: 2,000 blobs beside two folders do not make it flat,
// and the plan still goes down to their 80 subfolders.
TEST(ListingPlan, TheRootIsReadAWholePage) {
  TempDir dir;
  storage::MemoryStore store;
  for (int b = 0; b < 2000; ++b) {
    ASSERT_OK(store.Write(fmt::format("b{:04d}", b), http::Body::FromString("x"), {}));
  }
  for (const char* top : {"x", "y"}) {
    for (int sub = 0; sub < 40; ++sub) {
      for (int f = 0; f < 3; ++f) {
        ASSERT_OK(store.Write(fmt::format("{}/s{:02d}/f{}", top, sub, f),
                              http::Body::FromString("x"), {}));
      }
    }
  }
  std::unique_ptr<Catalog> empty = std::move(Catalog::Create(dir.Sub("m"), {})).value();
  Result<std::optional<SharedPlan>> plan = PlanSharedListing(store, false, *empty, 4, Split::kAuto);
  ASSERT_EQ(Parts(plan), 80u);
  EXPECT_EQ((*plan)->entries.size(), 2000u);
}

// The parts' average counts the items in them: the blobs of the levels above (here a root of
// 45,000, read whole) are not spread over two folders of 1,500.
TEST(ListingPlan, TheLevelsOwnItemsAreNotCountedAsThePartsOnes) {
  TempDir dir;
  storage::MemoryStore store;
  for (int b = 0; b < 45000; ++b) {
    ASSERT_OK(store.Write(fmt::format("b{:05d}", b), http::Body::FromString("x"), {}));
  }
  Fill(store, 2, 1500);
  std::unique_ptr<Catalog> known = Scanned(store, dir.Sub("m"));
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAuto)), 0u)
      << "3,000 items in two parts";
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAlways)), 2u);
}

// What stopping early costs: a level that names more folders than the items can fill is not
// read further, though some of its folders hold only a few blobs. 63,015 items (the blobs and
// their 5 folders) fill 3 parts of 20,000 (listed one at a time); the root names 5 folders, 2 of
// them of 5 blobs: not split. Listing parts 4 at once (room for 12 of 5,000), or always, the 3 big
// folders are the parts.
TEST(ListingPlan, ALevelOfMoreFoldersThanTheItemsCanFillStopsThePlan) {
  TempDir dir;
  storage::MemoryStore store;
  Fill(store, 3, 21000);
  for (int f = 0; f < 10; ++f) {
    ASSERT_OK(store.Write(fmt::format("e{}/small{}", f % 2, f), http::Body::FromString("x"), {}));
  }
  std::unique_ptr<Catalog> known = Scanned(store, dir.Sub("m"));
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 1, Split::kAuto)), 0u);
  EXPECT_EQ(store.level_pages, 1) << "the root only";
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAuto)), 3u);
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 1, Split::kAlways)), 3u);
}

// Where the catalog holds more items than the plan counts at first (16 parts' worth: 16,000 with
// always), parts beyond 64 are checked by counting further: 100 folders of 1,001 blobs are 100
// parts of more than 1,000 items each.
TEST(ListingPlan, ManyPartsAreCheckedByCountingFurther) {
  TempDir dir;
  storage::MemoryStore store;
  Fill(store, 100, 1001);
  std::unique_ptr<Catalog> known = Scanned(store, dir.Sub("m"));
  EXPECT_EQ(Parts(PlanSharedListing(store, false, *known, 4, Split::kAlways)), 100u);
}

}  // namespace
}  // namespace ferry::migration
