// The safety rules of DESIGN.md broken on purpose, end to end (issue 12): a deletion needs
// positive evidence, an open problem stays open until a logged decision, a stop is a stop, the
// cutover proves the last changes are in, and ferry knows its own writes after a crash.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <set>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

// A file system mounted on a folder for the life of the object (unmounted, lazily, at the end
// if the test did not unmount it itself).
class Mount {
 public:
  // A small tmpfs on `folder`; ok() tells whether mounting is allowed here.
  explicit Mount(const std::string& folder) : folder_(folder) {
    ::mkdir(folder.c_str(), 0755);
    mounted_ = RunProcess({"mount", "-t", "tmpfs", "-o", "size=16m", "ferry-test-share", folder})
                   .exit_code == 0;
  }
  ~Mount() {
    if (mounted_) RunProcess({"umount", "-l", folder_});
  }
  bool ok() const { return mounted_; }
  bool Unmount() {
    mounted_ = RunProcess({"umount", folder_}).exit_code != 0;
    return !mounted_;
  }

 private:
  std::string folder_;
  bool mounted_ = false;
};

// Sets a file's bytes and restores its modification time, as `cp -p` or `rsync -a` do.
void RewriteKeepingMtime(const std::string& path, const std::string& data) {
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  WriteFile(path, data);
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

class SafetyTest : public MigrationFixture {
 protected:
  virtual bool local_target() const { return false; }

  // `n` files of a few hundred bytes under `folder`, added to the source and the expectations.
  void AddFiles(const std::string& folder, int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) {
      AddFile(fmt::format("{}/f{:02d}", folder, i), Random(200 + size_t(rng() % 300), rng));
    }
  }

  // The item paths the target holds (blobs under the prefix, or files under the folder).
  std::set<std::string> TargetPaths() {
    std::set<std::string> paths;
    if (local_target()) {
      std::function<void(const std::string&)> walk = [&](const std::string& rel) {
        DIR* d = ::opendir((target_ + "/" + rel).c_str());
        if (d == nullptr) return;
        while (struct dirent* e = ::readdir(d)) {
          std::string name = e->d_name;
          if (name == "." || name == ".." || name.starts_with(".ferry")) continue;
          std::string path = rel.empty() ? name : rel + "/" + name;
          if (e->d_type == DT_DIR) {
            walk(path);
          } else {
            paths.insert(path);
          }
        }
        ::closedir(d);
      };
      walk("");
      return paths;
    }
    for (const auto& blob : RunChecker(*azurite_, {"list", container_, "share/"})) {
      std::string name = blob["name"];
      if (blob["metadata"].value("hdi_isfolder", "") == "true") continue;
      paths.insert(name.substr(std::string("share/").size()));
    }
    return paths;
  }

  std::set<std::string> ExpectedPaths() const {
    std::set<std::string> paths;
    for (const auto& [path, e] : expected_) paths.insert(path);
    return paths;
  }

  // ferry as root without the capabilities that bypass file permissions, so that a folder with
  // mode 000 cannot be read (as it could not for the service account of a real share).
  ProcessResult FerryWithoutOverride(const std::vector<std::string>& args) {
    std::vector<std::string> argv = FerryArgv(args);
    if (::geteuid() == 0) {
      argv.insert(argv.begin(), {"setpriv", "--bounding-set=-dac_override,-dac_read_search"});
    }
    return RunProcess(argv, FerryOptions(env_));
  }

  std::string LastRunOutcome(const std::string& stage) {
    std::string outcome;
    nlohmann::json status = Status();
    for (const auto& run : status["runs"]) {
      if (run["stage"] == stage) outcome = run["outcome"].get<std::string>();
    }
    return outcome;
  }

  // The catalog as it is now, to be put back later: the state a crash leaves when it strikes
  // after a write reached the target and before the catalog recorded it.
  void SaveCatalog() {
    auto r =
        RunProcess({"sqlite3", Mig() + "/catalog.db", ".backup '" + dir_.Sub("saved.db") + "'"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Puts the saved catalog back, with what a copy commits before it writes: each item's write
  // intent, which the blob written carries as ferry_write.
  void RestoreCatalog() {
    auto r =
        RunProcess({"sqlite3", Mig() + "/catalog.db", ".restore '" + dir_.Sub("saved.db") + "'"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& blob : RunChecker(*azurite_, {"list", container_, "share/"})) {
      std::string path = blob["name"].get<std::string>().substr(6);
      std::string mark = blob["metadata"].value("ferry_write", "");
      ASSERT_FALSE(mark.empty()) << path;
      auto set = RunProcess(
          {"sqlite3", Mig() + "/catalog.db",
           fmt::format("UPDATE items SET write_intent = '{}' WHERE path = '{}'", mark, path)});
      ASSERT_EQ(set.exit_code, 0) << set.err;
    }
  }
};

// The mirror's guards, on Azurite and on a local folder as the target.
class TargetGuardTest : public SafetyTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    SafetyTest::SetUp();
    if (local_target()) target_ = dir_.Sub("target");
  }
  bool local_target() const override { return GetParam() == "local"; }
};

// 1. Deletions need positive evidence.

TEST_F(SafetyTest, AnUnmountedShareLeavesTheTargetAlone) {
  Mount share(Src());
  if (!share.ok()) GTEST_SKIP() << "mounting a tmpfs is not allowed here";
  AddFiles("dir", 12, 1);
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  ASSERT_TRUE(share.Unmount());  // the mount point folder is left, empty

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"sync", Mig()},
        {"sync", Mig(), "--dry-run"},
        {"scan", Mig()},
        {"cutover", Mig(), "--quiet-window", "100ms", "--yes"}}) {
    auto r = Ferry(args);
    EXPECT_EQ(r.exit_code, 3) << args[0] << ": " << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("looks unmounted"), std::string::npos)
        << args[0] << ": " << r.out << r.err;
  }
  VerifyTarget();
  EXPECT_EQ(Status()["states"]["copied"]["items"], 13) << "the catalog still knows every item";
}

TEST_P(TargetGuardTest, ASourceFolderReplacedByAnEmptyOneDeletesNothing) {
  AddFiles("dir", 12, 2);
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  ASSERT_EQ(RunProcess({"rm", "-rf", Src()}).exit_code, 0);
  ASSERT_EQ(::mkdir(Src().c_str(), 0755), 0);

  auto sync = Ferry({"sync", Mig()});
  EXPECT_EQ(sync.exit_code, 3) << sync.out << sync.err;
  EXPECT_NE(sync.err.find("looks unmounted"), std::string::npos) << sync.err;
  EXPECT_EQ(TargetPaths(), ExpectedPaths());
}

TEST_F(SafetyTest, AFolderThatCannotBeListedKeepsItsItems) {
  AddFiles("open", 20, 3);
  AddFiles("locked", 5, 4);
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  ASSERT_EQ(::unlink((Src() + "/open/f00").c_str()), 0);  // a real deletion, seen in full
  expected_.erase("open/f00");
  ASSERT_EQ(::chmod((Src() + "/locked").c_str(), 0), 0);

  // With many metadata calls in flight, as on a network share (the serial walk has its own
  // tests): the locked folder read ahead still keeps its items.
  auto sync = FerryWithoutOverride({"sync", Mig(), "--scan-concurrency", "16"});
  ::chmod((Src() + "/locked").c_str(), 0755);
  EXPECT_EQ(sync.exit_code, 1) << sync.out << sync.err;
  EXPECT_NE((sync.out + sync.err).find("locked"), std::string::npos) << sync.out << sync.err;
  EXPECT_EQ(TargetPaths(), ExpectedPaths()) << "only open/f00 is deleted";
  auto status = Status();
  EXPECT_EQ(status["states"]["copied"]["items"], 20 + 5 + 2 - 1) << status.dump();
  EXPECT_EQ(status["states"]["deleted"]["items"], 1) << status.dump();
}

TEST_P(TargetGuardTest, AMassDeletionIsRefusedUntilTheBudgetIsRaised) {
  AddFiles("dir", 20, 5);
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  for (int i = 0; i < 5; ++i) ::unlink((Src() + fmt::format("/dir/f{:02d}", i)).c_str());

  auto dry = Ferry({"sync", Mig(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 3) << dry.out << dry.err;
  auto sync = Ferry({"sync", Mig()});
  EXPECT_EQ(sync.exit_code, 3) << sync.out << sync.err;
  for (const auto* r : {&dry, &sync}) {
    std::string all = r->out + r->err;
    EXPECT_NE(all.find("5 blobs"), std::string::npos) << all;
    EXPECT_NE(all.find("--max-delete"), std::string::npos) << all;
  }
  EXPECT_EQ(TargetPaths(), ExpectedPaths()) << "nothing deleted";

  auto allowed = Ferry({"sync", Mig(), "--max-delete", "5"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  for (int i = 0; i < 5; ++i) expected_.erase(fmt::format("dir/f{:02d}", i));
  EXPECT_EQ(TargetPaths(), ExpectedPaths());
}

INSTANTIATE_TEST_SUITE_P(Targets, TargetGuardTest, ::testing::Values("azurite", "local"));

// 2. Open problems stay open until a logged decision resolves them.

TEST_F(SafetyTest, AConflictStaysOpenUntilResolved) {
  AddFile("a.txt", "ours, version 1");
  AddFile("b.txt", "bbb");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  RunChecker(*azurite_, {"put", container_, "share/a.txt", "theirs"});

  EXPECT_EQ(Ferry({"sync", Mig()}).exit_code, 1);
  auto again = Ferry({"sync", Mig()});
  EXPECT_EQ(again.exit_code, 1) << "still open: " << again.out;
  EXPECT_NE(again.out.find("a.txt"), std::string::npos) << again.out;
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 3);
  EXPECT_EQ(Status()["open_problems"]["conflict"], 1);
  auto cutover = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes"});
  EXPECT_EQ(cutover.exit_code, 3) << cutover.out << cutover.err;
  EXPECT_NE(cutover.out.find("a.txt"), std::string::npos) << cutover.out;
  EXPECT_FALSE(Status()["closed"].get<bool>());

  auto resolve = Ferry({"resolve", Mig(), "a.txt", "--keep-target"});
  ASSERT_EQ(resolve.exit_code, 0) << resolve.out << resolve.err;
  auto log = Ferry({"log", Mig(), "--path", "a.txt", "--json"});
  EXPECT_NE(log.out.find("keep-target"), std::string::npos) << log.out;
  EXPECT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  auto done = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  auto theirs = RunChecker(*azurite_, {"download-md5", container_, "share/a.txt"});
  EXPECT_EQ(theirs["md5"], Md5Hex(Md5::Of("theirs"))) << "the decision kept their blob";
}

TEST_F(SafetyTest, ANameTheTargetCannotStoreIsAcceptedExplicitlyAtCutover) {
  AddFile("fine.txt", "fine");
  WriteFile(Src() + "/trailing-dot.", "Azure drops the dot");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto refused = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes"});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("trailing-dot."), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--accept-skipped"), std::string::npos) << refused.out;
  auto done = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--accept-skipped"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  auto log = Ferry({"log", Mig(), "--json"});
  EXPECT_NE(log.out.find("skipped-accepted"), std::string::npos) << log.out;
}

// 3. A stop is a stop.

TEST_F(SafetyTest, CtrlCInTheQuietWindowNeverClosesTheMigration) {
  AddFiles("dir", 5, 6);
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  BackgroundProcess cutover(FerryArgv({"cutover", Mig(), "--quiet-window", "10m", "--yes"}),
                            FerryOptions(env_));
  ASSERT_TRUE(cutover.WaitForOutput("checking that the source is quiet", 20'000));
  std::this_thread::sleep_for(300ms);
  cutover.Kill(SIGINT);
  auto r = cutover.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;
  EXPECT_FALSE(Status()["closed"].get<bool>());
  EXPECT_EQ(LastRunOutcome("cutover"), "stopped");
}

TEST_F(SafetyTest, ASyncStoppedBySigtermRunsNoDeletions) {
  AddFiles("old", 40, 7);
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  ASSERT_EQ(::unlink((Src() + "/old/f00").c_str()), 0);
  AddFiles("new", 30, 8);  // slow to copy at two requests a second
  BackgroundProcess sync(FerryArgv({"sync", Mig(), "--max-ops", "2/s"}), FerryOptions(env_));
  for (int i = 0; i < 400 && LastRunOutcome("sync") != "running"; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(1500ms);
  sync.Kill(SIGTERM);
  auto r = sync.Wait();
  EXPECT_EQ(r.exit_code, 143) << r.out << r.err;
  EXPECT_EQ(LastRunOutcome("sync"), "stopped");
  EXPECT_TRUE(TargetPaths().contains("old/f00")) << "no deletion after the stop";
}

// 4. The cutover proves the last changes are in.

TEST_F(SafetyTest, ContentReplacedWithItsMtimeKeptIsSeenByTheCutover) {
  AddFile("kept-mtime.txt", "version one");
  AddFile("other.txt", "other");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);

  // During the quiet window: refused.
  BackgroundProcess refused(FerryArgv({"cutover", Mig(), "--quiet-window", "3s", "--yes"}),
                            FerryOptions(env_));
  ASSERT_TRUE(refused.WaitForOutput("checking that the source is quiet", 20'000));
  std::this_thread::sleep_for(500ms);
  RewriteKeepingMtime(Src() + "/kept-mtime.txt", "version two");
  auto r = refused.Wait();
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("changing: kept-mtime.txt"), std::string::npos) << r.out;

  // Before the window: the final sync copies it.
  RewriteKeepingMtime(Src() + "/kept-mtime.txt", "version 3!!");
  Expect("kept-mtime.txt");
  auto done = Ferry({"cutover", Mig(), "--quiet-window", "200ms", "--yes"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  VerifyTarget();
}

TEST_F(SafetyTest, AFileWrittenDuringTheFinalSyncIsCaught) {
  AddFiles("dir", 12, 9);
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  std::mt19937_64 rng(10);
  // Work for the final sync, slow at four requests a second; a file lands while it runs.
  auto cutover_with_late_file = [&](const std::string& late,
                                    const std::vector<std::string>& extra) {
    for (int i = 0; i < 12; ++i) AddFile(fmt::format("dir/f{:02d}", i), Random(300, rng));
    std::vector<std::string> args{"cutover",   Mig(), "--quiet-window", "200ms", "--yes",
                                  "--max-ops", "4/s"};
    args.insert(args.end(), extra.begin(), extra.end());
    BackgroundProcess cutover(FerryArgv(args), FerryOptions(env_));
    EXPECT_TRUE(cutover.WaitForOutput("final sync", 20'000));
    std::this_thread::sleep_for(1s);
    AddFile(late, "written during the final sync");
    return cutover.Wait();
  };

  auto refused = cutover_with_late_file("late-1.txt", {"--max-final-passes", "1"});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("late-1.txt"), std::string::npos) << refused.out;
  EXPECT_FALSE(Status()["closed"].get<bool>());

  auto done = cutover_with_late_file("late-2.txt", {});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_TRUE(Status()["closed"].get<bool>());
  VerifyTarget();  // late-1.txt and late-2.txt among them
}

// 5. ferry recognises its own writes.

TEST_F(SafetyTest, AWriteLeftUnrecordedByACrashIsReplacedNotAConflict) {
  AddFile("small.txt", "version 1");
  WriteLarge(Src() + "/mid.bin", 6 << 20, 1);
  Expect("mid.bin");
  Init();
  ASSERT_EQ(Ferry({"scan", Mig()}).exit_code, 0);
  SaveCatalog();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  RestoreCatalog();  // killed after the writes, before their record
  AddFile("small.txt", "version 2, edited after the crash");
  WriteLarge(Src() + "/mid.bin", 6 << 20, 2);
  Expect("mid.bin");
  auto copy = Ferry({"copy", Mig()});
  EXPECT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  VerifyTarget();

  // The same for a replacement written by a sync.
  AddFile("small.txt", "version 3");
  SaveCatalog();
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  RestoreCatalog();
  AddFile("small.txt", "version 4, edited after the second crash");
  auto sync = Ferry({"sync", Mig()});
  EXPECT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  VerifyTarget();
  EXPECT_EQ(Status()["open_problems"]["conflict"], 0);
}

}  // namespace
}  // namespace ferry::testing
