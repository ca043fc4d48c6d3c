#include "storage/stat_calls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

using storage::PendingStat;
using storage::StatCalls;

class StatCallsTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Kinds, StatCallsTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "io_uring" : "threads"; });

TEST_P(StatCallsTest, EachCallGivesWhatLstatGives) {
  TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 100; ++i) {
    paths.push_back(dir.Sub("f" + std::to_string(i)));
    WriteFile(paths.back(), std::string(size_t(i), 'x'));
  }
  ASSERT_EQ(::mkdir(dir.Sub("folder").c_str(), 0750), 0);
  ASSERT_EQ(::symlink("f1", dir.Sub("link").c_str()), 0);
  paths.push_back(dir.Sub("folder"));
  paths.push_back(dir.Sub("link"));
  paths.push_back(dir.Sub("missing"));

  std::unique_ptr<StatCalls> calls = StatCalls::Open(8, GetParam());
  if (!GetParam()) {
    EXPECT_STREQ(calls->Kind(), "threads");
  }
  std::vector<std::shared_ptr<PendingStat>> started;
  for (const std::string& p : paths) started.push_back(calls->Start(p));
  // Taken in the reverse order: each has its own result, whatever order they complete in.
  for (size_t i = started.size(); i-- > 0;) {
    calls->Take(*started[i]);
    struct stat st;
    if (::lstat(paths[i].c_str(), &st) != 0) {
      EXPECT_EQ(started[i]->error, ENOENT) << paths[i];
      continue;
    }
    ASSERT_EQ(started[i]->error, 0) << paths[i];
    const struct stat& got = started[i]->st;
    EXPECT_EQ(got.st_ino, st.st_ino) << paths[i];
    EXPECT_EQ(got.st_dev, st.st_dev) << paths[i];
    EXPECT_EQ(got.st_mode, st.st_mode) << paths[i];
    EXPECT_EQ(got.st_size, st.st_size) << paths[i];
    EXPECT_EQ(got.st_uid, st.st_uid) << paths[i];
    EXPECT_EQ(got.st_mtim.tv_sec, st.st_mtim.tv_sec) << paths[i];
    EXPECT_EQ(got.st_mtim.tv_nsec, st.st_mtim.tv_nsec) << paths[i];
    EXPECT_EQ(got.st_ctim.tv_nsec, st.st_ctim.tv_nsec) << paths[i];
  }
}

TEST_P(StatCallsTest, CallsLeftUntakenDoNotOutliveTheirMemory) {
  TempDir dir;
  WriteFile(dir.Sub("f"), "x");
  {
    std::unique_ptr<StatCalls> calls = StatCalls::Open(4, GetParam());
    for (int i = 0; i < 50; ++i) calls->Start(dir.Sub("f"));  // results dropped at once
    auto kept = calls->Start(dir.Sub("f"));
    calls->Take(*kept);
    EXPECT_EQ(kept->error, 0);
    EXPECT_EQ(kept->st.st_size, 1);
  }  // the destructor waits for what is in flight (the sanitizer build checks the memory)
}

TEST(StatCalls, TheRingKeepsAtMostItsDepthInFlight) {
  std::unique_ptr<StatCalls> calls = StatCalls::Open(4);
  if (std::string(calls->Kind()) != "io_uring") GTEST_SKIP() << "io_uring is not allowed here";
  TempDir dir;
  WriteFile(dir.Sub("f"), "x");
  EXPECT_EQ(calls->Room(), 4u);
  std::vector<std::shared_ptr<PendingStat>> started;
  for (int i = 0; i < 10; ++i) {
    started.push_back(calls->Start(dir.Sub("f")));
    EXPECT_LE(4u - calls->Room(), 4u);
  }
  for (auto& call : started) calls->Take(*call);
  EXPECT_EQ(calls->Room(), 4u);  // every completion taken in
}

}  // namespace
}  // namespace ferry::testing
