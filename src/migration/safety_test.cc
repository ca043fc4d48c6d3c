#include "migration/safety.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "storage/local_store.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

using storage::RootIdentity;

RootIdentity Share() { return {"nfs", 1234, /*mount_point=*/true, /*empty=*/false}; }

TEST(IdentityProblemTest, TheSameShareHasNone) {
  EXPECT_EQ(IdentityProblem(Share(), Share(), 100), std::nullopt);
}

TEST(IdentityProblemTest, AnEmptyMountPointFolderLooksUnmounted) {
  RootIdentity folder{"ext4", 99, false, true};
  auto problem = IdentityProblem(Share(), folder, 100);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("looks unmounted"), std::string::npos) << *problem;
}

TEST(IdentityProblemTest, AnotherFileSystemOrRootFolderIsRefused) {
  RootIdentity other = Share();
  other.filesystem = "cifs";
  EXPECT_TRUE(IdentityProblem(Share(), other, 100));
  RootIdentity moved = Share();
  moved.root_inode = 5678;
  EXPECT_TRUE(IdentityProblem(Share(), moved, 100));
}

TEST(IdentityProblemTest, SmbRootInodesMayChangeAcrossMounts) {
  RootIdentity smb{"cifs", 1, true, false};
  RootIdentity remounted = smb;
  remounted.root_inode = 2;
  EXPECT_EQ(IdentityProblem(smb, remounted, 100), std::nullopt);
}

TEST(IdentityProblemTest, AnEmptySourceIsFineOnlyWhenTheCatalogKnowsNothing) {
  RootIdentity empty = Share();
  empty.empty = true;
  EXPECT_EQ(IdentityProblem(Share(), empty, 0), std::nullopt);
  EXPECT_TRUE(IdentityProblem(Share(), empty, 1));
}

TEST(IdentityProblemTest, AnEmptiedBucketIsRefusedInItsOwnWords) {
  RootIdentity bucket{.filesystem = "s3"};
  RootIdentity emptied = bucket;
  emptied.empty = true;
  EXPECT_EQ(IdentityProblem(bucket, bucket, 100), std::nullopt);
  EXPECT_EQ(IdentityProblem(bucket, emptied, 0), std::nullopt);
  auto problem = IdentityProblem(bucket, emptied, 100);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("holds nothing now"), std::string::npos) << *problem;
  // Recorded before buckets named their kind: no file system to compare.
  EXPECT_EQ(IdentityProblem(RootIdentity{}, bucket, 100), std::nullopt);
}

TEST(SourceIdentityTest, AReplacedFolderIsRefusedUntilTheChangeIsAccepted) {
  testing::TempDir dir;
  std::string src = dir.Sub("src");
  testing::WriteFile(src + "/file", "x");
  auto catalog = std::move(catalog::Catalog::Create(dir.Sub("m"), {})).value();
  storage::LocalStore source(src);
  ASSERT_TRUE(RecordSourceIdentity(*catalog, source).ok());
  EXPECT_TRUE(CheckSourceIdentity(*catalog, source, false, 0).ok());

  catalog::Item item;
  item.path = "file";
  item.state = catalog::ItemState::kCopied;
  ASSERT_TRUE(catalog->InsertItem(item).ok());
  ASSERT_EQ(::rename(src.c_str(), dir.Sub("old").c_str()), 0);
  testing::WriteFile(src + "/file", "x");  // a new folder: another inode
  Status refused = CheckSourceIdentity(*catalog, source, false, 0);
  EXPECT_EQ(refused.code(), Code::kRefused) << refused.ToString();
  EXPECT_NE(refused.message().find("--accept-source-change"), std::string::npos);
  EXPECT_TRUE(CheckSourceIdentity(*catalog, source, true, 0).ok());
  EXPECT_TRUE(CheckSourceIdentity(*catalog, source, false, 0).ok()) << "recorded as accepted";
}

TEST(DeleteBudgetTest, ParsesCountsAndPercentages) {
  EXPECT_EQ(DeleteBudget::Parse("500")->count, 500);
  EXPECT_EQ(DeleteBudget::Parse("0")->count, 0);
  EXPECT_DOUBLE_EQ(DeleteBudget::Parse("12.5%")->percent, 12.5);
  EXPECT_FALSE(DeleteBudget::Parse("12.5%")->count);
  for (const char* bad : {"", "-1", "abc", "10%%", "101%", "%", "5x", " 5", "-0%"}) {
    EXPECT_EQ(DeleteBudget::Parse(bad).status().code(), Code::kInvalidInput) << bad;
  }
}

TEST(DeleteBudgetTest, TheDefaultRefusesMoreThanATenth) {
  DeleteBudget budget;
  EXPECT_EQ(DeletionRefusal(2, 20, budget), std::nullopt);
  auto refusal = DeletionRefusal(3, 20, budget);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("3 blobs"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("--max-delete 3"), std::string::npos) << *refusal;
  EXPECT_TRUE(DeletionRefusal(1, 5, budget)) << "a fifth of a small tree is a mass deletion";
  EXPECT_EQ(DeletionRefusal(0, 0, budget), std::nullopt);
  EXPECT_EQ(DeletionRefusal(3, 20, *DeleteBudget::Parse("3")), std::nullopt);
  EXPECT_EQ(DeletionRefusal(20, 20, *DeleteBudget::Parse("100%")), std::nullopt);
  EXPECT_TRUE(DeletionRefusal(1, 20, *DeleteBudget::Parse("0")));
}

TEST(OpenProblemsTest, CountsWhatBlocksAndWhatIsOnlySkipped) {
  testing::TempDir dir;
  auto catalog = std::move(catalog::Catalog::Create(dir.Sub("m"), {})).value();
  auto add = [&](std::string path, catalog::ItemState state, std::string cause = "") {
    catalog::Item item;
    item.path = std::move(path);
    item.state = state;
    item.cause = std::move(cause);
    ASSERT_TRUE(catalog->InsertItem(item).ok());
  };
  add("a", catalog::ItemState::kConflict);
  add("b", catalog::ItemState::kFailed);
  add("c", catalog::ItemState::kPending);
  add("d", catalog::ItemState::kVanished, kCauseVanishedInFlight);
  add("e", catalog::ItemState::kVanished, "vanished");  // confirmed by a complete listing
  add("f", catalog::ItemState::kSkipped, "special file");
  add("g", catalog::ItemState::kCopied);
  add("h", catalog::ItemState::kKept);
  auto open = CountOpenProblems(*catalog);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->blocking(), 4);
  EXPECT_EQ(open->vanished, 1);
  EXPECT_EQ(open->skipped, 1);
  auto items = OpenProblemItems(*catalog, 10, /*with_skipped=*/true);
  ASSERT_TRUE(items.ok());
  std::vector<std::string> paths;
  for (const auto& i : *items) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"a", "b", "c", "d", "f"}));
}

}  // namespace
}  // namespace ferry::migration
