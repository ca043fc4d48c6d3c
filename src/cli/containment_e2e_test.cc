// Safety, part two (issue 13), end to end: the trial stays in its sandbox, a folder target
// verifies, staged blocks are reused only for the file's current bytes, followed links stay in
// the source, and no name aborts ferry.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

using TrialSandboxTest = MigrationFixture;
using FolderTargetTest = MigrationFixture;
using ContainmentTest = MigrationFixture;

nlohmann::json Findings(const ProcessResult& r) {
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  std::map<std::string, std::string> out;
  if (doc.is_discarded()) return nlohmann::json::object();
  for (const auto& f : doc["findings"]) out[f["path"]] = f["problem"];
  return out;
}

TEST_F(TrialSandboxTest, TheTrialPrefixIsFerrysAloneAndCleanupDeletesOnlyItsOwnBlobs) {
  std::mt19937_64 rng(31);
  for (int i = 0; i < 10; ++i) {
    AddFile(fmt::format("projects/p{}", i), Random(500, rng));
    AddFile(fmt::format("other/o{}", i), Random(500, rng));
  }
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);

  // A prefix that is the migration's own namespace, or that climbs out of the target.
  for (const char* prefix : {"projects", "projects/sub", "other/o1", "..", "a/../b", "./x"}) {
    auto r = Ferry({"trial", Mig(), "--sample", "50%", "--cleanup", "--prefix", prefix});
    EXPECT_EQ(r.exit_code, 2) << prefix << ": " << r.out << r.err;
  }
  VerifyTarget();
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);

  auto trial = Ferry({"trial", Mig(), "--sample", "50%", "--prefix", "sandbox"});
  ASSERT_EQ(trial.exit_code, 0) << trial.out << trial.err;
  auto blobs = RunChecker(Azurite::Global(), {"list", container_, "share/sandbox/"});
  ASSERT_GT(blobs.size(), 2u);
  // Someone else's blob under the prefix, and one of the trial's blobs changed by someone.
  RunChecker(Azurite::Global(), {"put", container_, "share/sandbox/theirs.txt", "theirs"});
  std::string changed = blobs[0]["name"];
  RunChecker(Azurite::Global(), {"put", container_, changed, "changed by someone"});

  auto again = Ferry({"trial", Mig(), "--sample", "50%", "--prefix", "sandbox"});
  EXPECT_EQ(again.exit_code, 2) << "a blob no trial wrote is there: " << again.out << again.err;
  auto cleanup = Ferry({"trial", Mig(), "--cleanup", "--prefix", "sandbox"});
  EXPECT_EQ(cleanup.exit_code, 0) << cleanup.out << cleanup.err;
  EXPECT_NE(cleanup.out.find(fmt::format("deleted {} trial blobs", blobs.size() - 1)),
            std::string::npos)
      << cleanup.out;
  std::set<std::string> left;
  for (const auto& b : RunChecker(Azurite::Global(), {"list", container_, "share/sandbox/"})) {
    left.insert(b["name"]);
  }
  EXPECT_EQ(left, (std::set<std::string>{"share/sandbox/theirs.txt", changed}));
  RunChecker(Azurite::Global(), {"delete", container_, "share/sandbox/theirs.txt"});
  RunChecker(Azurite::Global(), {"delete", container_, changed});
  VerifyTarget();
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
}

TEST_F(TrialSandboxTest, OnAFolderTargetThePrefixCannotClimbOut) {
  AddFile("a.txt", "a");
  target_ = dir_.Sub("target/share");
  std::filesystem::create_directories(dir_.Sub("target"));  // init refuses a missing parent
  Init();
  WriteFile(dir_.Sub("target/neighbour.txt"), "not the migration's");
  for (const char* prefix : {"..", "../target", "x/../.."}) {
    auto r = Ferry({"trial", Mig(), "--sample", "100%", "--cleanup", "--prefix", prefix});
    EXPECT_EQ(r.exit_code, 2) << prefix << ": " << r.out << r.err;
  }
  EXPECT_EQ(ReadFile(dir_.Sub("target/neighbour.txt")), "not the migration's");
}

TEST_F(FolderTargetTest, VerifiesCutsOverAndCatchesEveryKindOfDamage) {
  std::mt19937_64 rng(32);
  for (const char* f : {"grown.bin", "flipped.bin", "gone.bin", "fine.bin", "dir/deep.bin"}) {
    AddFile(f, Random(4000, rng));
  }
  target_ = dir_.Sub("target");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto quick = Ferry({"verify", Mig()});
  EXPECT_EQ(quick.exit_code, 0) << quick.out << quick.err;
  auto deep = Ferry({"verify", Mig(), "--deep"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
  auto cutover = Ferry({"cutover", Mig(), "--quiet-window", "200ms", "--yes"});
  ASSERT_EQ(cutover.exit_code, 0) << cutover.out << cutover.err;

  // After the cutover, someone damages the copy.
  std::ofstream(target_ + "/grown.bin", std::ios::app) << "more";
  {
    struct stat before;
    ASSERT_EQ(::stat((target_ + "/flipped.bin").c_str(), &before), 0);
    int fd = ::open((target_ + "/flipped.bin").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "\xff", 1, 100), 1);
    ::close(fd);
    struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (target_ + "/flipped.bin").c_str(), times, 0), 0);
  }
  ASSERT_EQ(::unlink((target_ + "/gone.bin").c_str()), 0);
  WriteFile(target_ + "/stranger.txt", "who put this here");

  auto damaged = Ferry({"verify", Mig(), "--deep", "--json"});
  EXPECT_EQ(damaged.exit_code, 3) << damaged.out << damaged.err;
  auto found = Findings(damaged);
  EXPECT_TRUE(found.contains("grown.bin")) << damaged.out;
  EXPECT_EQ(found.value("flipped.bin", ""), "wrong MD5") << damaged.out;
  EXPECT_EQ(found.value("gone.bin", ""), "missing") << damaged.out;
  EXPECT_EQ(found.value("stranger.txt", ""), "unexpected blob") << damaged.out;
  EXPECT_FALSE(found.contains("fine.bin")) << damaged.out;
}

TEST_F(ContainmentTest, AStagedBlockIsReusedOnlyIfItHoldsTheFilesCurrentBytes) {
  const std::string big = Src() + "/big.bin";
  ::mkdir(Src().c_str(), 0755);
  WriteLarge(big, 40ull << 20, 41);
  Init();
  {
    BackgroundProcess copy(FerryArgv({"copy", Mig(), "--block-above", "16MiB", "--max-bandwidth",
                                      "8MiB/s", "--concurrency", "2"}),
                           FerryOptions(env_));
    bool staged = false;
    for (int i = 0; i < 400 && !staged && copy.Running(); ++i) {
      auto blocks = RunChecker(Azurite::Global(), {"staged", container_, "share/big.bin"});
      staged = !blocks.is_null() && !blocks["uncommitted"].empty();
      if (!staged) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(staged) << "no staged block to interrupt";
    copy.Kill(SIGKILL);
    copy.Wait();
  }
  // New bytes in the first block, with the size and mtime put back.
  struct stat before;
  ASSERT_EQ(::stat(big.c_str(), &before), 0);
  int fd = ::open(big.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string patch(4096, 'Z');
  ASSERT_EQ(::pwrite(fd, patch.data(), patch.size(), 1000), ssize_t(patch.size()));
  ::close(fd);
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, big.c_str(), times, 0), 0);
  Expect("big.bin");

  auto resumed = Ferry({"copy", Mig(), "--block-above", "16MiB"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  auto there = RunChecker(Azurite::Global(), {"download-md5", container_, "share/big.bin"});
  EXPECT_EQ(there["md5"], expected_["big.bin"].md5) << "the blob holds the file's bytes";
  VerifyTarget();
}

TEST_F(ContainmentTest, FollowedLinksThatLeaveTheSourceAreSkipped) {
  WriteFile(dir_.Sub("outside/id_rsa"), "PRIVATE KEY");
  AddFile("docs/a.txt", "inside");
  ASSERT_EQ(::symlink(dir_.Sub("outside/id_rsa").c_str(), (Src() + "/stolen").c_str()), 0);
  ASSERT_EQ(::symlink("../outside/id_rsa", (Src() + "/relative-escape").c_str()), 0);
  ASSERT_EQ(::symlink("docs/a.txt", (Src() + "/inside-link").c_str()), 0);
  ASSERT_EQ(::symlink((Src() + "/docs/a.txt").c_str(), (Src() + "/absolute-inside").c_str()), 0);
  Init({"--symlinks", "follow"});
  auto copy = Ferry({"copy", Mig()});
  EXPECT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  std::set<std::string> names;
  for (const auto& b : RunChecker(Azurite::Global(), {"list", container_})) {
    names.insert(b["name"]);
    auto content = RunChecker(Azurite::Global(), {"download-md5", container_, b["name"]});
    EXPECT_NE(content["md5"], Md5Hex(Md5::Of("PRIVATE KEY"))) << b["name"];
  }
  EXPECT_TRUE(names.contains("share/inside-link"));
  EXPECT_TRUE(names.contains("share/absolute-inside"));
  EXPECT_FALSE(names.contains("share/stolen"));
  EXPECT_FALSE(names.contains("share/relative-escape"));
  auto errors = Ferry({"errors", Mig()});
  EXPECT_NE(errors.out.find("link leaves the source"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("stolen"), std::string::npos) << errors.out;
}

TEST_F(ContainmentTest, NamesThatAreNotStrictUtf8AreSkippedAndNothingAborts) {
  AddFile("plain.txt", "plain");
  for (const char* bad :
       {"over\xc0\xaflong", "sur\xed\xa0\x80gate", "high\xf5\x80\x80\x80", "caf\xe9.txt"}) {
    WriteFile(Src() + "/" + bad, "bad name");
  }
  Init();
  for (int run = 0; run < 2; ++run) {
    auto copy = Ferry({"copy", Mig()});
    EXPECT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  }
  auto status = Status();
  EXPECT_EQ(status["states"]["skipped"]["items"], 4);
  auto errors = Ferry({"errors", Mig(), "--json"});
  ASSERT_EQ(errors.exit_code, 0) << errors.err;
  EXPECT_FALSE(nlohmann::json::parse(errors.out, nullptr, false).is_discarded());
  EXPECT_NE(errors.out.find("not valid UTF-8"), std::string::npos) << errors.out;
  auto log = Ferry({"log", Mig(), "--json"});
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_FALSE(nlohmann::json::parse(log.out, nullptr, false).is_discarded());
  VerifyTarget();
}

}  // namespace
}  // namespace ferry::testing
