#include "migration/snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "storage/local_store.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"a", "b/c", "b/d", "e"}) testing::WriteFile(Src(f), f);
  }
  std::string Src(const std::string& path) { return dir_.Sub("src/" + path); }
  // Lists the source against the previous listing, if any.
  SnapshotDiff Next() {
    std::string out = dir_.Sub("snap" + std::to_string(n_));
    std::string before = n_ ? dir_.Sub("snap" + std::to_string(n_ - 1)) : "";
    ++n_;
    auto diff = ListSnapshot(source_, filter_, out, before);
    EXPECT_TRUE(diff.ok()) << diff.status().ToString();
    return diff.ok() ? *diff : SnapshotDiff{};
  }

  testing::TempDir dir_;
  storage::LocalStore source_{dir_.Sub("src")};
  Filter filter_ = *Filter::Parse({}, {"*.tmp"});
  int n_ = 0;
};

TEST_F(SnapshotTest, AnUnchangedTreeHasNoChanges) {
  Next();
  EXPECT_EQ(Next().changes, 0);
  EXPECT_EQ(Next().changes, 0);
}

TEST_F(SnapshotTest, EveryKindOfChangeIsNamed) {
  Next();
  testing::WriteFile(Src("new"), "n");                          // added
  ASSERT_EQ(::unlink(Src("b/c").c_str()), 0);                   // removed
  ASSERT_EQ(::chmod(Src("e").c_str(), 0600), 0);                // mode (and change time)
  ASSERT_EQ(::rename(Src("a").c_str(), Src("a2").c_str()), 0);  // renamed
  testing::WriteFile(Src("ignored.tmp"), "filtered out");
  SnapshotDiff diff = Next();
  // a, a2, b (its mtime), b/c, e, new
  EXPECT_EQ(diff.paths, (std::vector<std::string>{"a", "a2", "b", "b/c", "e", "new"}));
  EXPECT_EQ(diff.changes, 6);
  EXPECT_EQ(Next().changes, 0) << "compared with the listing just before";
}

TEST_F(SnapshotTest, BytesReplacedUnderTheOldMtimeAreAChange) {
  Next();
  struct stat before;
  ASSERT_EQ(::stat(Src("e").c_str(), &before), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::WriteFile(Src("e"), "E");
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, Src("e").c_str(), times, 0), 0);
  EXPECT_EQ(Next().paths, std::vector<std::string>{"e"});
}

}  // namespace
}  // namespace ferry::migration
