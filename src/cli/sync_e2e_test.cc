// sync, verify and cutover end to end: the built binary, a real Azurite, the independent checker.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

class SyncTest : public MigrationFixture, public ::testing::WithParamInterface<std::string> {};
using DriftTest = MigrationFixture;
using CutoverTest = MigrationFixture;

nlohmann::json LastDelta(const nlohmann::json& status) {
  const auto& deltas = status["sync_deltas"];
  return deltas.empty() ? nlohmann::json() : deltas.back();
}

// Sets a file's mtime `seconds` later than it is, so a change is seen whatever the clock.
void Later(const std::string& path, int seconds) {
  struct stat st;
  ::stat(path.c_str(), &st);
  struct timespec times[2] = {{0, UTIME_OMIT}, {st.st_mtim.tv_sec + seconds, st.st_mtim.tv_nsec}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

TEST_P(SyncTest, EachPassTransfersExactlyWhatChanged) {
  const std::string mode = GetParam();
  std::mt19937_64 rng(8);
  for (int i = 0; i < 40; ++i) AddFile(fmt::format("dir/f{:02d}", i), Random(1000 + i, rng));
  Init({"--mode", mode});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  VerifyTarget();

  // Added, modified (same size, new bytes and mtime), touched, deleted and renamed.
  AddFile("dir/new-1", "new one");
  AddFile("new-dir/new-2", "new two");
  for (int i : {1, 2}) {
    std::string path = fmt::format("dir/f{:02d}", i);
    WriteFile(Src() + "/" + path, Random(1000 + i, rng));
    Later(Src() + "/" + path, 10);
    Expect(path);
  }
  for (int i : {3, 4}) {
    std::string path = fmt::format("dir/f{:02d}", i);
    Later(Src() + "/" + path, 20);
    Expect(path);
  }
  for (int i : {5, 6}) {
    std::string path = fmt::format("dir/f{:02d}", i);
    ::unlink((Src() + "/" + path).c_str());
    if (mode == "mirror") expected_.erase(path);
  }
  ASSERT_EQ(::rename((Src() + "/dir/f07").c_str(), (Src() + "/dir/f07-renamed").c_str()), 0);
  Expect("dir/f07-renamed");
  if (mode == "mirror") expected_.erase("dir/f07");

  auto dry = Ferry({"sync", Mig(), "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would copy    dir/f07-renamed"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would update  dir/f01"), std::string::npos) << dry.out;
  EXPECT_TRUE(Status()["sync_deltas"].empty()) << "a dry run records nothing";

  auto sync = Ferry({"sync", Mig()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  EXPECT_NE(sync.out.find("copied 7 files (4 replaced, 2 of them metadata only)"),
            std::string::npos)
      << sync.out;
  auto delta = LastDelta(Status());
  EXPECT_EQ(delta["new"], 3);      // two added, one renamed
  EXPECT_EQ(delta["changed"], 4);  // two modified, two touched
  EXPECT_EQ(delta["deleted"], 3);  // two deleted, one renamed away
  VerifyTarget();

  auto again = Ferry({"sync", Mig()});
  ASSERT_EQ(again.exit_code, 0) << again.out;
  delta = LastDelta(Status());
  EXPECT_EQ(delta["new"], 0);
  EXPECT_EQ(delta["changed"], 0);
  EXPECT_EQ(delta["deleted"], 0);
  EXPECT_EQ(Status()["sync_deltas"].size(), 2u);
  EXPECT_EQ(Ferry({"verify", Mig(), "--deep"}).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, SyncTest, ::testing::Values("additive", "mirror"));

// (Where a source has no change times, --checksum finds it: see scan_test.cc.)
TEST_F(DriftTest, ContentChangedBehindTheSameSizeAndMtimeIsSeenByItsChangeTime) {
  AddFile("sneaky.bin", "AAAAAAAA");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  struct stat before;
  ::stat((Src() + "/sneaky.bin").c_str(), &before);
  WriteFile(Src() + "/sneaky.bin", "BBBBBBBB");
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ::utimensat(AT_FDCWD, (Src() + "/sneaky.bin").c_str(), times, 0);
  Expect("sneaky.bin");

  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  EXPECT_EQ(LastDelta(Status())["changed"], 1) << "size and mtime alone could not see it";
  VerifyTarget();
  ASSERT_EQ(Ferry({"sync", Mig(), "--checksum"}).exit_code, 0);
  EXPECT_EQ(LastDelta(Status())["changed"], 0) << "nothing left to find";
}

TEST_F(DriftTest, CopyDryRunListsTheWorkAndChangesNothing) {
  AddFile("one.txt", "1");
  AddFile("two/three.txt", "3");
  Init();
  auto dry = Ferry({"copy", Mig(), "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would copy    one.txt"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would copy    two/three.txt"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("2 files"), std::string::npos) << dry.out;
  auto status = Status();
  EXPECT_EQ(status["items"], 0) << "the catalog is untouched";
  EXPECT_EQ(status["runs"].size(), 1u) << "only init";
  EXPECT_TRUE(RunChecker(Azurite::Global(), {"list", container_}).empty());
}

TEST_F(DriftTest, ABlobChangedByOthersIsAConflictUntilOverwrite) {
  AddFile("a.txt", "ours, version 1");
  AddFile("b.txt", "bbb");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  RunChecker(Azurite::Global(), {"put", container_, "share/a.txt", "theirs"});
  RunChecker(Azurite::Global(), {"put", container_, "share/stranger.txt", "who put this here"});

  auto sync = Ferry({"sync", Mig()});
  EXPECT_EQ(sync.exit_code, 1) << sync.out;
  EXPECT_NE(sync.out.find("changed by someone else: a.txt"), std::string::npos) << sync.out;
  EXPECT_NE(sync.out.find("unexpected blob: stranger.txt"), std::string::npos) << sync.out;
  auto theirs = RunChecker(Azurite::Global(), {"download-md5", container_, "share/a.txt"});
  EXPECT_EQ(theirs["md5"], Md5Hex(Md5::Of("theirs"))) << "not overwritten";
  auto errors = Ferry({"errors", Mig()});
  EXPECT_NE(errors.out.find("the target was changed by someone else"), std::string::npos);

  auto verify = Ferry({"verify", Mig()});
  EXPECT_EQ(verify.exit_code, 3) << verify.out;

  auto overwrite = Ferry({"sync", Mig(), "--overwrite"});
  EXPECT_EQ(overwrite.exit_code, 0) << overwrite.out << overwrite.err;
  auto ours = RunChecker(Azurite::Global(), {"download-md5", container_, "share/a.txt"});
  EXPECT_EQ(ours["md5"], Md5Hex(Md5::Of("ours, version 1")));
  auto stranger = RunChecker(Azurite::Global(), {"download-md5", container_, "share/stranger.txt"});
  EXPECT_EQ(stranger["md5"], Md5Hex(Md5::Of("who put this here"))) << "never deleted";
}

TEST_F(DriftTest, VerifyCatchesDeletedAndSameSizeOverwrittenBlobs) {
  AddFile("kept.txt", "kept");
  AddFile("gone.txt", "gone");
  AddFile("same-size.txt", "12345678");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto clean = Ferry({"verify", Mig(), "--json"});
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(nlohmann::json::parse(clean.out)["ok"], 3);

  // Out of band, with Microsoft's client: one blob overwritten with the same size, one deleted.
  RunChecker(Azurite::Global(), {"put", container_, "share/same-size.txt", "87654321"});
  RunChecker(Azurite::Global(), {"delete", container_, "share/gone.txt"});

  auto quick = Ferry({"verify", Mig(), "--json"});
  EXPECT_EQ(quick.exit_code, 3);
  auto q = nlohmann::json::parse(quick.out);
  std::map<std::string, std::string> problems;
  for (const auto& f : q["findings"]) problems[f["path"]] = f["problem"];
  EXPECT_EQ(problems["gone.txt"], "missing");
  EXPECT_EQ(problems["same-size.txt"], "changed by someone else");

  auto deep = Ferry({"verify", Mig(), "--deep", "--sample", "100%", "--seed", "7", "--json"});
  EXPECT_EQ(deep.exit_code, 3);
  auto d = nlohmann::json::parse(deep.out);
  EXPECT_EQ(d["seed"], 7);
  bool md5_caught = false;
  for (const auto& f : d["findings"]) {
    md5_caught |= f["path"] == "same-size.txt" && f["problem"] == "wrong MD5";
  }
  EXPECT_TRUE(md5_caught) << deep.out;

  auto bad_sample = Ferry({"verify", Mig(), "--deep", "--sample", "lots"});
  EXPECT_EQ(bad_sample.exit_code, 2);
}

TEST_F(CutoverTest, RefusesWhileTheSourceChangesThenClosesTheMigration) {
  AddFile("steady.txt", "steady");
  AddFile("busy.log", "start\n");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);

  auto no_yes = Ferry({"cutover", Mig()});
  EXPECT_EQ(no_yes.exit_code, 2) << "not on a terminal: needs --yes";

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing) {
      std::ofstream(Src() + "/busy.log", std::ios::app) << "line\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto refused = Ferry({"cutover", Mig(), "--quiet-window", "1s", "--yes"});
  writing = false;
  writer.join();
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("changing: busy.log"), std::string::npos) << refused.out;
  EXPECT_FALSE(Status()["closed"].get<bool>());

  auto dry = Ferry({"cutover", Mig(), "--quiet-window", "200ms", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out;
  EXPECT_NE(dry.out.find("would update  busy.log"), std::string::npos) << dry.out;
  EXPECT_FALSE(Status()["closed"].get<bool>());

  auto done = Ferry({"cutover", Mig(), "--quiet-window", "1s", "--yes"});
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("Switch readers and writers"), std::string::npos);
  Expect("busy.log");
  VerifyTarget();
  auto status = Status();
  EXPECT_TRUE(status["closed"].get<bool>());
  EXPECT_EQ(status["cutover"]["verify"]["mismatches"], 0);
  EXPECT_EQ(status["cutover"]["items"], 2);

  auto closed = Ferry({"sync", Mig()});
  EXPECT_EQ(closed.exit_code, 2);
  EXPECT_NE(closed.err.find("--reopen"), std::string::npos) << closed.err;
  EXPECT_EQ(Ferry({"copy", Mig()}).exit_code, 2);
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0) << "verify keeps working after cutover";

  auto quiet = Ferry({"sync", Mig(), "--dry-run"});
  EXPECT_NE(quiet.out.find("has not changed since the cutover"), std::string::npos) << quiet.out;
  WriteFile(Src() + "/late.txt", "someone still writes here");
  auto late = Ferry({"sync", Mig(), "--dry-run"});
  EXPECT_EQ(late.exit_code, 0);
  EXPECT_NE(late.out.find("changed since the cutover (1 item)"), std::string::npos) << late.out;
  EXPECT_NE(late.out.find("late.txt"), std::string::npos);
}

// The operator's hooks around the switch: a refusal after the freeze undoes it, a failed
// freeze stops the cutover before it begins, and a cutover that closes runs the post-cutover
// hook; every hook's outcome and output is in the log, status and the report.
TEST_F(CutoverTest, HooksFreezeSwitchAndUndoWithTheirOutcomesLogged) {
  AddFile("a.txt", "a");
  ASSERT_EQ(::symlink("a.txt", (Src() + "/link").c_str()), 0);  // skipped: refuses a cutover
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  const std::string marks = dir_.Sub("marks");
  auto hook = [&](const std::string& name, const std::string& extra = "") {
    return fmt::format(
        "echo \"$FERRY_HOOK run=$FERRY_RUN target=$FERRY_TARGET migration=$FERRY_MIGRATION "
        "reason=$FERRY_REASON\" >> {}; echo {} said hello{}",
        marks, name, extra);
  };
  auto lines = [&] {
    std::vector<std::string> got;
    std::istringstream in(ReadFile(marks));
    for (std::string line; std::getline(in, line);) got.push_back(line);
    ::unlink(marks.c_str());
    return got;
  };

  // Refused after the freeze (a skipped link): the abort hook undoes it, with the reason.
  auto refused =
      Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--pre-freeze", hook("freeze"),
             "--post-cutover", hook("switch"), "--on-abort", hook("undo")});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  std::vector<std::string> ran = lines();
  ASSERT_EQ(ran.size(), 2u) << refused.out;
  EXPECT_TRUE(ran[0].starts_with("pre-freeze run=")) << ran[0];
  EXPECT_NE(ran[0].find("target=" + target_), std::string::npos) << ran[0];
  EXPECT_NE(ran[0].find("migration=" + Mig()), std::string::npos) << ran[0];
  EXPECT_TRUE(ran[1].starts_with("on-abort")) << ran[1];
  EXPECT_NE(ran[1].find("reason=1 item was skipped"), std::string::npos) << ran[1];
  EXPECT_NE(refused.out.find("on-abort hook: exit 0"), std::string::npos) << refused.out;
  EXPECT_FALSE(Status()["closed"].get<bool>());

  // A freeze that fails: nothing else happens but the undo; the quiet window never starts.
  auto failed = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--accept-skipped",
                       "--pre-freeze", hook("freeze", "; exit 4"), "--on-abort", hook("undo")});
  EXPECT_EQ(failed.exit_code, 3) << failed.out;
  EXPECT_NE(failed.out.find("the pre-freeze hook failed (exit 4)"), std::string::npos)
      << failed.out;
  EXPECT_NE(failed.out.find("  | freeze said hello"), std::string::npos) << "its output shown";
  EXPECT_EQ(failed.out.find("quiet"), std::string::npos) << failed.out;
  ran = lines();
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_TRUE(ran[1].starts_with("on-abort")) << ran[1];
  EXPECT_FALSE(Status()["closed"].get<bool>());

  // A hook past its time is stopped and counts as failed.
  auto slow = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--accept-skipped",
                     "--pre-freeze", "sleep 60", "--hook-timeout", "500ms"});
  EXPECT_EQ(slow.exit_code, 3) << slow.out;
  EXPECT_NE(slow.out.find("timed out"), std::string::npos) << slow.out;

  // It closes: the freeze, then the switch; no undo.
  auto done = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--accept-skipped",
                     "--pre-freeze", hook("freeze"), "--post-cutover", hook("switch"), "--on-abort",
                     hook("undo")});
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  ran = lines();
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_TRUE(ran[0].starts_with("pre-freeze")) << ran[0];
  EXPECT_TRUE(ran[1].starts_with("post-cutover")) << ran[1];
  const nlohmann::json status = Status();
  EXPECT_TRUE(status["closed"].get<bool>());
  const nlohmann::json hooks = status["cutover_hooks"]["hooks"];
  ASSERT_EQ(hooks.size(), 2u) << status["cutover_hooks"].dump();
  EXPECT_EQ(hooks[0]["hook"], "pre-freeze");
  EXPECT_EQ(hooks[1]["hook"], "post-cutover");
  EXPECT_EQ(hooks[1]["output"], "switch said hello\n");
  EXPECT_EQ(hooks[1]["exit_code"], 0);
  auto log = nlohmann::json::parse(Ferry({"log", Mig(), "--json"}).out);
  int logged = 0;
  for (const auto& e : log["events"]) logged += e["kind"] == "hook";
  EXPECT_EQ(logged, 2 + 2 + 1 + 2) << "every hook run is in the log";
  EXPECT_EQ(Ferry({"log", Mig(), "--check"}).exit_code, 0);
  std::string html = dir_.Sub("report.html");
  ASSERT_EQ(Ferry({"report", Mig(), "--html", html}).exit_code, 0);
  EXPECT_NE(ReadFile(html).find("switch said hello"), std::string::npos);
}

// cutover --plan reads the history and changes nothing; its numbers come from the runs.
TEST_F(CutoverTest, APlanFromTheSyncHistoryChangesNothing) {
  for (int i = 0; i < 20; ++i) AddFile(fmt::format("d/f{}", i), std::string(10'000, 'x'));
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  WriteFile(Src() + "/d/f1", std::string(20'000, 'y'));
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  WriteFile(Src() + "/d/new", "new");
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  const nlohmann::json before = Status();

  auto plan = Ferry({"cutover", Mig(), "--plan", "--json", "--quiet-window", "2m"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const nlohmann::json p = nlohmann::json::parse(plan.out);
  EXPECT_EQ(p["sync_passes"], 2);
  EXPECT_GT(p["files_changed_per_hour"].get<double>(), 0);
  EXPECT_GT(p["bytes_per_second"].get<double>(), 0);
  const double window = p["window_seconds"];
  EXPECT_GE(window, 300);
  EXPECT_EQ(std::fmod(window, 300), 0) << "whole 5 minutes";
  EXPECT_GE(window, 1.5 * (120 + p["final_sync_seconds"].get<double>()))
      << "the quiet window counts";
  EXPECT_EQ(Status()["runs"], before["runs"]) << "no run recorded";
  EXPECT_FALSE(Status()["closed"].get<bool>());

  auto text = Ferry({"cutover", Mig(), "--plan"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("read-only window to announce"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("quietest hours (UTC)"), std::string::npos) << text.out;
  EXPECT_EQ(Ferry({"cutover", Mig(), "--json"}).exit_code, 2) << "--json goes with --plan";
}

// After the cutover: the retired source is watched (each change logged once) and the
// decommission check passes only when every condition holds.
TEST_F(CutoverTest, TheRetiredSourceIsWatchedAndItsDecommissionGated) {
  for (int i = 0; i < 5; ++i) AddFile(fmt::format("f{}", i), "data");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto open_watch = Ferry({"watch-source", Mig(), "--once"});
  EXPECT_EQ(open_watch.exit_code, 2) << "not cut over yet";
  EXPECT_NE(open_watch.err.find("not cut over"), std::string::npos) << open_watch.err;
  ASSERT_EQ(Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes"}).exit_code, 0);

  auto quiet = Ferry({"watch-source", Mig(), "--once"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;
  EXPECT_NE(quiet.out.find("has not changed since the cutover"), std::string::npos) << quiet.out;

  auto no_deep = Ferry({"decommission-check", Mig(), "--min-days", "0"});
  EXPECT_EQ(no_deep.exit_code, 3) << no_deep.out << no_deep.err;
  EXPECT_NE(no_deep.out.find("no 'ferry verify --deep' since the cutover"), std::string::npos)
      << no_deep.out;
  auto sampled = Ferry({"verify", Mig(), "--deep", "--sample", "2"});
  ASSERT_EQ(sampled.exit_code, 0) << sampled.out;
  EXPECT_NE(Ferry({"decommission-check", Mig(), "--min-days", "0"}).out.find("a sample only"),
            std::string::npos);
  ASSERT_EQ(Ferry({"verify", Mig(), "--deep"}).exit_code, 0);
  auto passed = Ferry({"decommission-check", Mig(), "--min-days", "0", "--json"});
  EXPECT_EQ(passed.exit_code, 0) << passed.out << passed.err;
  EXPECT_EQ(nlohmann::json::parse(passed.out)["passed"], true) << passed.out;
  auto young = Ferry({"decommission-check", Mig(), "--min-days", "30"});
  EXPECT_EQ(young.exit_code, 3);
  EXPECT_NE(young.out.find("days old; --min-days asks for 30"), std::string::npos) << young.out;

  // Someone still writes to the old share.
  WriteFile(Src() + "/late.txt", "late");
  const std::string marker = dir_.Sub("changes");
  auto changed =
      Ferry({"watch-source", Mig(), "--once", "--on-change", "echo $FERRY_CHANGES > " + marker});
  EXPECT_EQ(changed.exit_code, 3) << changed.out << changed.err;
  EXPECT_NE(changed.out.find("new      late.txt"), std::string::npos) << changed.out;
  EXPECT_EQ(ReadFile(marker), "1\n");
  auto again = Ferry({"watch-source", Mig(), "--once"});
  EXPECT_EQ(again.exit_code, 3);
  EXPECT_NE(again.out.find("(0 newly logged"), std::string::npos) << again.out;
  auto log = nlohmann::json::parse(Ferry({"log", Mig(), "--json"}).out);
  int logged = 0;
  for (const auto& e : log["events"]) logged += e["kind"] == "source-changed";
  EXPECT_EQ(logged, 1) << "each change is logged once";

  auto gone = Ferry({"decommission-check", Mig(), "--min-days", "0"});
  EXPECT_EQ(gone.exit_code, 3);
  EXPECT_NE(gone.out.find("the source changed since the cutover (1 change, e.g. late.txt)"),
            std::string::npos)
      << gone.out;
  EXPECT_EQ(Ferry({"log", Mig(), "--check"}).exit_code, 0);

  const nlohmann::json facts = nlohmann::json::parse(Ferry({"report", Mig(), "--json"}).out);
  ASSERT_EQ(facts["watch_history"].size(), 3u);
  EXPECT_EQ(facts["watch_history"][1]["changes"], 1);
  EXPECT_EQ(facts["decommission"]["passed"], false);
  std::string html = dir_.Sub("report.html");
  ASSERT_EQ(Ferry({"report", Mig(), "--html", html}).exit_code, 0);
  EXPECT_NE(ReadFile(html).find("id=\"watch-history\""), std::string::npos);
  EXPECT_NE(ReadFile(html).find("the source changed since the cutover"), std::string::npos);

  // Watching on: a pass per interval until stopped.
  BackgroundProcess watching(FerryArgv({"watch-source", Mig(), "--interval", "1s"}),
                             FerryOptions(env_));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = watching.OutputSoFar();
    size_t first = out.find("the retired source");
    if (first != std::string::npos &&
        out.find("the retired source", first + 1) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  watching.Kill(SIGINT);
  ProcessResult stopped = watching.Wait();
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  size_t first = stopped.out.find("the retired source");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(stopped.out.find("the retired source", first + 1), std::string::npos) << stopped.out;
}

// Ctrl-C after the freeze closes nothing and runs the abort hook.
TEST_F(CutoverTest, AStopAfterTheFreezeRunsTheAbortHook) {
  AddFile("a.txt", "a");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  const std::string undo = dir_.Sub("undone");
  BackgroundProcess cutover(
      FerryArgv({"cutover", Mig(), "--quiet-window", "60s", "--yes", "--pre-freeze", "true",
                 "--on-abort", "echo \"$FERRY_REASON\" > " + undo}),
      FerryOptions(env_));
  ASSERT_TRUE(cutover.WaitForOutput("checking that the source is quiet", 30'000));
  cutover.Kill(SIGINT);
  ProcessResult stopped = cutover.Wait();
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  ASSERT_TRUE(std::filesystem::exists(undo)) << stopped.out;
  EXPECT_NE(ReadFile(undo).find("stopped"), std::string::npos) << ReadFile(undo);
  EXPECT_FALSE(Status()["closed"].get<bool>());
}

// Ctrl-C while the freeze hook runs stops it at once: a stop (130), not a refusal, and the
// abort hook undoes whatever the freeze did.
TEST_F(CutoverTest, AStopDuringTheFreezeHookStopsItAndRunsTheAbortHook) {
  AddFile("a.txt", "a");
  Init();
  ASSERT_EQ(Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--dry-run"}).exit_code, 0);
  const std::string undo = dir_.Sub("undone");
  BackgroundProcess cutover(
      FerryArgv({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--pre-freeze",
                 "echo freezing; sleep 60", "--on-abort", "echo \"$FERRY_REASON\" > " + undo}),
      FerryOptions(env_));
  ASSERT_TRUE(cutover.WaitForOutput("running the pre-freeze hook", 30'000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  cutover.Kill(SIGINT);
  ProcessResult stopped = cutover.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30))
      << "not the hook's 60 s";
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  EXPECT_NE(stopped.out.find("pre-freeze hook: stopped"), std::string::npos) << stopped.out;
  ASSERT_TRUE(std::filesystem::exists(undo)) << stopped.out;
  EXPECT_NE(ReadFile(undo).find("stopped in its pre-freeze hook"), std::string::npos)
      << ReadFile(undo);
  EXPECT_FALSE(Status()["closed"].get<bool>());
}

// A post-cutover hook that fails leaves the migration closed (the data is cut over) and says
// the switch needs finishing: exit 1, and no undo of the freeze.
TEST_F(CutoverTest, AFailedPostCutoverHookExitsOneAndDoesNotUndoTheFreeze) {
  AddFile("a.txt", "a");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  const std::string undo = dir_.Sub("undone");
  auto done = Ferry({"cutover", Mig(), "--quiet-window", "100ms", "--yes", "--post-cutover",
                     "echo dns update refused; exit 9", "--on-abort", "touch " + undo});
  EXPECT_EQ(done.exit_code, 1) << done.out << done.err;
  EXPECT_NE(done.err.find("post-cutover hook failed"), std::string::npos) << done.err;
  EXPECT_NE(done.out.find("  | dns update refused"), std::string::npos) << done.out;
  EXPECT_TRUE(Status()["closed"].get<bool>());
  EXPECT_FALSE(std::filesystem::exists(undo)) << "the freeze stays: the target is the live copy";
}

TEST_F(DriftTest, ANoOpSyncOfSixThousandFilesMakesNoRequestPerItem) {
  for (int i = 0; i < 6'000; ++i) WriteFile(fmt::format("{}/d{}/f{}", Src(), i % 40, i), "");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig(), "--concurrency", "32"}).exit_code, 0);
  int64_t before = Azurite::Global().RequestCount();
  auto sync = Ferry({"sync", Mig()});
  int64_t requests = Azurite::Global().RequestCount() - before;
  ASSERT_EQ(sync.exit_code, 0) << sync.out;
  EXPECT_NE(sync.out.find("delta: 0 new"), std::string::npos) << sync.out;
  // Only the drift check's listing: 6,040 blobs and markers in pages of 5,000.
  EXPECT_GT(requests, 0);
  EXPECT_LE(requests, 3) << "requests made by a no-op sync";
  // Split by folder across 8 streams: a request a folder, with the first page that showed it
  // was more than one and the root's level.
  before = Azurite::Global().RequestCount();
  auto split = Ferry({"sync", Mig(), "--scan-concurrency", "8"});
  requests = Azurite::Global().RequestCount() - before;
  ASSERT_EQ(split.exit_code, 0) << split.out;
  EXPECT_NE(split.out.find("delta: 0 new"), std::string::npos) << split.out;
  EXPECT_GT(requests, 6) << "split";
  EXPECT_LE(requests, 2 + 40) << "requests made by a no-op sync on 8 streams";
}

}  // namespace
}  // namespace ferry::testing
