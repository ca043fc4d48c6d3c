// A migration whose catalog is in PostgreSQL (a real server the test starts), through the
// playbook, driven by the built binary: init, scan, copy, a change and sync, verify, status, log.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "support/fault_proxy.h"
#include "support/migration_fixture.h"
#include "support/postgres.h"

namespace ferry::testing {
namespace {

// The items in `state` by `ferry status`, or -1 while it cannot tell.
int64_t ItemsIn(const std::string& location, const std::string& state,
                const std::map<std::string, std::optional<std::string>>& env) {
  auto r = RunFerry({"status", location, "--json"}, env);
  if (r.exit_code != 0) return -1;
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (doc.is_discarded() || !doc["states"].contains(state)) return 0;
  return doc["states"][state]["items"].get<int64_t>();
}

class PostgresCatalogTest : public MigrationFixture {
 protected:
  std::string Location(const std::string& migration) {
    static std::string url = Postgres::Global().NewDatabase("e2e");
    return url + "?migration=" + migration;
  }
  // `files` files in 40 folders and the migration `mig` of them; a sync of it copying (slowed to
  // 150 requests a second), then two more started during its copy, which join it at once: the
  // leader first, then the helpers, all three live workers. Empty when they could not be
  // brought there (the test has failed).
  std::vector<std::unique_ptr<BackgroundProcess>> LeaderAndTwoHelpersCopying(const std::string& mig,
                                                                             int files) {
    for (int i = 0; i < files; ++i) {
      AddFile(fmt::format("d{:02d}/f{:04d}.txt", i % 40, i), fmt::format("file {}\n", i));
    }
    std::vector<std::unique_ptr<BackgroundProcess>> syncs;
    if (Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code != 0) {
      ADD_FAILURE() << "init failed";
      return syncs;
    }
    const std::vector<std::string> sync{"sync", mig, "--max-ops", "150", "--concurrency", "4"};
    syncs.push_back(std::make_unique<BackgroundProcess>(FerryArgv(sync), FerryOptions(env_)));
    bool copying = false;
    for (int i = 0; i < 400 && !copying; ++i) {
      copying = ItemsIn(mig, "copied", env_) >= 50;
      if (!copying) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!copying || !syncs[0]->Running()) {
      ADD_FAILURE() << "the sync never copied: " << syncs[0]->Wait().err;
      return {};
    }
    for (int i = 0; i < 2; ++i) {
      syncs.push_back(std::make_unique<BackgroundProcess>(FerryArgv(sync), FerryOptions(env_)));
    }
    int live = 0;
    for (int i = 0; i < 100 && live < 3; ++i) {
      auto status = Ferry({"status", mig, "--json"});
      if (status.exit_code != 0) break;
      live = 0;
      const nlohmann::json workers = nlohmann::json::parse(status.out)["workers"];
      for (const auto& w : workers) live += w["state"] == "live";
      if (live < 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (live != 3 || !syncs[0]->Running()) {
      ADD_FAILURE() << "the leader and two helpers should copy; live: " << live;
      return {};
    }
    return syncs;
  }

  // `n` ferry processes with `args`, started together; their results once all ended.
  std::vector<ProcessResult> Together(const std::vector<std::string>& args, int n) {
    std::vector<std::unique_ptr<BackgroundProcess>> all;
    for (int i = 0; i < n; ++i) {
      all.push_back(std::make_unique<BackgroundProcess>(FerryArgv(args), FerryOptions(env_)));
    }
    std::vector<ProcessResult> results;
    for (auto& p : all) results.push_back(p->Wait());
    return results;
  }

  // Two syncs of `mig` (a mirror) started together, after one file was deleted and one added at
  // the source: both end well, `verify` finds the target matching the source, the pass's delta
  // counts the two, and the log's chain is whole. Returns what the syncs printed.
  std::vector<ProcessResult> ExpectTwoSyncsMirrorOneDeletedOneNew(
      const std::string& mig, const std::function<void()>& verify) {
    std::vector<ProcessResult> syncs = Together({"sync", mig}, 2);
    for (const ProcessResult& r : syncs) EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    verify();
    auto status = Ferry({"status", mig, "--json"});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    if (status.exit_code == 0) {
      const nlohmann::json delta = nlohmann::json::parse(status.out)["sync_deltas"].back();
      EXPECT_EQ(delta["deleted"], 1) << delta;
      EXPECT_EQ(delta["new"], 1) << delta;
    }
    auto check = Ferry({"log", mig, "--check"});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    return syncs;
  }

  // The log of `mig` records each of `files` files as copied (or adopted) exactly once, and its
  // hash chain is intact.
  void ExpectEachFileRecordedOnce(const std::string& mig, int files) {
    auto log = Ferry({"log", mig, "--json"});
    ASSERT_EQ(log.exit_code, 0) << log.err;
    std::map<std::string, int> recorded;
    const nlohmann::json events = nlohmann::json::parse(log.out)["events"];
    for (const auto& e : events) {
      if (e["kind"] == "copied" || e["kind"] == "adopted") ++recorded[e["path"].get<std::string>()];
    }
    EXPECT_EQ(recorded.size(), size_t(files));
    for (const auto& [path, n] : recorded) EXPECT_EQ(n, 1) << path << " recorded " << n << " times";
    auto check = Ferry({"log", mig, "--check"});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }
};

TEST_F(PostgresCatalogTest, ThePlaybookWithTheCatalogInPostgres) {
  for (int i = 0; i < 300; ++i)
    AddFile(fmt::format("d{}/f{:03d}.txt", i % 6, i), std::to_string(i));
  const std::string mig = Location("share-1");
  auto init = Ferry({"init", mig, "--source", Src(), "--target", target_, "--mode", "mirror"});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  EXPECT_NE(init.out.find("migration created in " + mig), std::string::npos) << init.out;
  auto again = Ferry({"init", mig, "--source", Src(), "--target", target_});
  EXPECT_EQ(again.exit_code, 2) << again.out << again.err;
  EXPECT_NE(again.err.find("already a migration"), std::string::npos) << again.err;

  ASSERT_EQ(Ferry({"scan", mig}).exit_code, 0);
  auto copy = Ferry({"copy", mig});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_NE(copy.out.find("copied 300 files"), std::string::npos) << copy.out;
  VerifyTarget();

  AddFile("d0/f000.txt", "changed at the source");
  AddFile("new/arrival.txt", "hello");
  ASSERT_EQ(std::remove((Src() + "/d1/f001.txt").c_str()), 0);
  expected_.erase("d1/f001.txt");
  auto sync = Ferry({"sync", mig});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  VerifyTarget();

  auto verify = Ferry({"verify", mig});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto status = Ferry({"status", mig, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["sync_deltas"].back()["deleted"], 1);
  auto log = Ferry({"log", mig, "--check"});
  EXPECT_EQ(log.exit_code, 0) << log.out << log.err;

  // After the cutover, a worker (a copy on a shared catalog) finds the migration closed.
  auto cutover = Ferry({"cutover", mig, "--quiet-window", "0s", "--yes"});
  ASSERT_EQ(cutover.exit_code, 0) << cutover.out << cutover.err;
  auto late = Ferry({"copy", mig});
  EXPECT_EQ(late.exit_code, 2) << late.out << late.err;
  EXPECT_NE(late.err.find("cut over and is closed"), std::string::npos) << late.err;

  // Another migration in the same database is another catalog.
  auto other = Ferry({"status", Location("never-made")});
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("ferry init"), std::string::npos) << other.err;
  EXPECT_EQ(Lines(other.err), 1) << other.err;
}

TEST_F(PostgresCatalogTest, ACopyThatLosesItsDatabaseStopsAndARestartFinishesIt) {
  std::mt19937_64 rng(16);
  for (int i = 0; i < 240; ++i)
    AddFile(fmt::format("d{}/f{:03d}.bin", i % 4, i), Random(40'000, rng));
  std::unique_ptr<Postgres> pg = Postgres::Start();  // this test's own: it is killed
  const std::string mig = pg->Url() + "?migration=lost";
  ASSERT_EQ(Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code, 0);
  ASSERT_EQ(Ferry({"scan", mig}).exit_code, 0);

  {
    BackgroundProcess copy(FerryArgv({"copy", mig, "--max-bandwidth", "2MiB/s"}),
                           FerryOptions(env_));
    bool some = false;
    for (int i = 0; i < 600 && !some && copy.Running(); ++i) {
      some = ItemsIn(mig, "copied", env_) >= 20;
      if (!some) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(some && copy.Running()) << copy.Wait().out;
    pg->Kill();
    for (int i = 0; i < 600 && copy.Running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    bool ended = !copy.Running();
    if (!ended) copy.Kill(SIGKILL);
    ASSERT_TRUE(ended) << "the copy hung when its database went away";
    ProcessResult lost = copy.Wait();
    EXPECT_NE(lost.exit_code, 0) << lost.out << lost.err;
    EXPECT_NE(lost.err.find("lost the connection to PostgreSQL"), std::string::npos) << lost.err;
    EXPECT_EQ(Lines(lost.err), 1) << lost.err;
  }

  pg->Restart();
  auto resumed = Ferry({"copy", mig});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(ItemsIn(mig, "copied", env_), 240 + 4) << "every file and folder";
  VerifyTarget();
  auto log = Ferry({"log", mig, "--check"});
  EXPECT_EQ(log.exit_code, 0) << log.out << log.err;
}

// Issue 16: three workers on three "machines" share one copy; one is killed with -9 mid-run
// and the others finish its items. Every file reaches the target once, each recorded copied
// (or adopted, for a write the killed worker made and could not record) exactly once.
TEST_F(PostgresCatalogTest, ThreeWorkersShareACopyAndSurviveOneKilled) {
  constexpr int kFiles = 5000;
  for (int i = 0; i < kFiles; ++i) {
    AddFile(fmt::format("d{:02d}/f{:04d}.txt", i % 50, i), fmt::format("file {}\n", i));
  }
  const std::string mig = Location("fleet");
  ASSERT_EQ(Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code, 0);
  ASSERT_EQ(Ferry({"scan", mig}).exit_code, 0);

  // Slow enough to kill one mid-run: 600 requests a second for the fleet, a third each.
  std::vector<std::unique_ptr<BackgroundProcess>> workers;
  for (int w = 0; w < 3; ++w) {
    workers.push_back(std::make_unique<BackgroundProcess>(
        FerryArgv({"copy", mig, "--max-ops", "600", "--concurrency", "8"}), FerryOptions(env_)));
  }
  bool some = false;
  for (int i = 0; i < 1200 && !some; ++i) {
    some = ItemsIn(mig, "copied", env_) >= 1000;
    if (!some) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(some && workers[0]->Running()) << workers[0]->Wait().err;
  auto during = Ferry({"status", mig, "--json"});
  ASSERT_EQ(during.exit_code, 0) << during.err;
  EXPECT_EQ(nlohmann::json::parse(during.out)["workers"].size(), 3u) << during.out;
  auto cutover = Ferry({"cutover", mig, "--quiet-window", "0s"});
  EXPECT_EQ(cutover.exit_code, 2) << "no cutover while workers copy: " << cutover.out;
  EXPECT_NE(cutover.err.find("another ferry process"), std::string::npos) << cutover.err;

  workers[0]->Kill(SIGKILL);
  workers[0]->Wait();
  for (int w = 1; w < 3; ++w) {
    ProcessResult done = workers[size_t(w)]->Wait();
    EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
    EXPECT_NE(done.out.find("this worker"), std::string::npos) << done.out;
  }

  EXPECT_EQ(ItemsIn(mig, "copied", env_), kFiles + 50) << "every file and folder";
  EXPECT_EQ(ItemsIn(mig, "pending", env_), 0);
  VerifyTarget();
  auto log = Ferry({"log", mig, "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  std::map<std::string, int> recorded;
  std::set<int64_t> runs_with_files;
  int worker_events = 0;
  const nlohmann::json events = nlohmann::json::parse(log.out)["events"];
  for (const auto& e : events) {
    const std::string kind = e["kind"];
    if (kind == "worker") {
      ++worker_events;
      EXPECT_NE(e["detail"]["name"].get<std::string>().find(':'), std::string::npos) << e;
    }
    if (kind == "copied" || kind == "adopted") {
      ++recorded[e["path"].get<std::string>()];
      runs_with_files.insert(e["run"].get<int64_t>());
    }
  }
  EXPECT_EQ(recorded.size(), size_t(kFiles));
  for (const auto& [path, n] : recorded) EXPECT_EQ(n, 1) << path << " recorded " << n << " times";
  EXPECT_EQ(runs_with_files.size(), 3u) << "each worker copied its share, the killed one too";
  EXPECT_EQ(worker_events, 3) << "each names its host and process";
  auto check = Ferry({"log", mig, "--check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  auto after = Ferry({"status", mig, "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  std::map<std::string, int> states;
  const nlohmann::json fleet = nlohmann::json::parse(after.out)["workers"];
  int64_t items_reported = 0;
  for (const auto& w : fleet) {
    ++states[w["state"].get<std::string>()];
    items_reported += w["items"].get<int64_t>();
  }
  EXPECT_GT(items_reported, kFiles / 2) << "the survivors' heartbeats carry what they did";
  EXPECT_EQ(states["gone"], 2) << after.out;
  EXPECT_EQ(states["silent"], 1) << "the killed one: " << after.out;
}

// Workers started together on a migration nobody scanned: one scans, the others wait for it;
// every file is copied once.
TEST_F(PostgresCatalogTest, WorkersStartedTogetherScanOnce) {
  for (int i = 0; i < 200; ++i) AddFile(fmt::format("d{}/f{:03d}.txt", i % 4, i), "x");
  const std::string mig = Location("together");
  ASSERT_EQ(Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code, 0);
  std::vector<std::unique_ptr<BackgroundProcess>> workers;
  for (int w = 0; w < 3; ++w) {
    workers.push_back(
        std::make_unique<BackgroundProcess>(FerryArgv({"copy", mig}), FerryOptions(env_)));
  }
  for (auto& w : workers) {
    ProcessResult done = w->Wait();
    EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  }
  auto status = Ferry({"status", mig, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json doc = nlohmann::json::parse(status.out);
  int scans = 0;
  for (const auto& run : doc["runs"]) scans += run["stage"] == "scan";
  EXPECT_EQ(scans, 1) << status.out;
  EXPECT_EQ(doc["states"]["copied"]["items"], 200 + 4);
  VerifyTarget();
}

// A worker frozen (SIGSTOP) past its lease: the server ends its session, the others take its
// items; thawed, it stops without writing what it no longer holds. Nothing is recorded twice.
TEST_F(PostgresCatalogTest, AFrozenWorkerLosesItsItemsAndStopsWhenThawed) {
  constexpr int kFiles = 1000;
  for (int i = 0; i < kFiles; ++i) AddFile(fmt::format("d{:02d}/f{:04d}.txt", i % 10, i), "y");
  const std::string mig = Location("frozen");
  ASSERT_EQ(Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code, 0);
  ASSERT_EQ(Ferry({"scan", mig}).exit_code, 0);
  const std::vector<std::string> copy{"copy", mig, "--lease", "6s", "--max-ops", "200"};
  BackgroundProcess frozen(FerryArgv(copy), FerryOptions(env_));
  bool some = false;
  for (int i = 0; i < 600 && !some; ++i) {
    some = ItemsIn(mig, "copied", env_) >= 50;
    if (!some) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(some && frozen.Running());
  frozen.Kill(SIGSTOP);
  BackgroundProcess other(FerryArgv(copy), FerryOptions(env_));
  ProcessResult finished = other.Wait();
  EXPECT_EQ(finished.exit_code, 0) << finished.out << finished.err;
  EXPECT_EQ(ItemsIn(mig, "copied", env_), kFiles + 10) << "the other took the frozen one's items";
  frozen.Kill(SIGCONT);
  ProcessResult thawed = frozen.Wait();
  EXPECT_NE(thawed.exit_code, 0) << thawed.out << thawed.err;
  EXPECT_EQ(Lines(thawed.err), 1) << thawed.err;

  VerifyTarget();
  ExpectEachFileRecordedOnce(mig, kFiles);
}

// Three scans of a network share started together: one scans, the others help list its folders
// (each folder by one of them), and the catalog is the one a single scan makes: a copy then
// matches the source. A sync with a deletion, run by two together, deletes exactly that.
TEST_F(PostgresCatalogTest, ScansStartedTogetherShareTheListingOfAShare) {
  for (int d = 0; d < 40; ++d) {
    for (int s = 0; s < 3; ++s) {
      for (int f = 0; f < 8; ++f) {
        AddFile(fmt::format("dept{:02d}/sub{}/f{}.txt", d, s, f), fmt::format("{}/{}/{}", d, s, f));
      }
    }
  }
  AddFile("dept00-notes", "sorts between a folder and its contents");
  MountShare(2000);
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string mig = Location("shared-listing");
  ASSERT_EQ(
      Ferry({"init", mig, "--source", Share(), "--target", target_, "--mode", "mirror"}).exit_code,
      0);

  int scanned = 0, helped = 0, folders_by_helpers = 0;
  for (const ProcessResult& r : Together({"scan", mig}, 3)) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    if (r.out.find("scanned 961 files") != std::string::npos) ++scanned;
    size_t at = r.out.find("listed ");
    if (at != std::string::npos) {
      ++helped;
      folders_by_helpers += std::stoi(r.out.substr(at + 7));
    }
  }
  EXPECT_EQ(scanned, 1);
  EXPECT_EQ(helped, 2);
  EXPECT_GT(folders_by_helpers, 0) << "the helpers listed some of the 160 folders";

  auto copy = Ferry({"copy", mig});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_NE(copy.out.find("copied 961 files"), std::string::npos) << copy.out;
  VerifyTarget();

  ASSERT_EQ(std::remove((Src() + "/dept07/sub1/f3.txt").c_str()), 0);
  expected_.erase("dept07/sub1/f3.txt");
  AddFile("dept39/sub2/new.txt", "new");
  ExpectTwoSyncsMirrorOneDeletedOneNew(mig, [&] { VerifyTarget(); });
}

// Scans of a Blob source started together, the source read through a proxy that holds every
// request 300 ms (a WAN's round trip) while they list it: the one that holds the migration
// plans the container's listing by prefix, the others list parts of it with it, and the catalog
// is the one a single scan makes: a copy matches the source (both read with Microsoft's
// client). After a blob is deleted and one added at the source, two syncs mirror exactly that,
// the source's listing no longer split: the catalog now knows it holds too few blobs for
// parts to pay off (--split-listing auto).
TEST_F(PostgresCatalogTest, ScansOfABlobSourceStartedTogetherShareItsListing) {
  const std::string source = UniqueContainer("pgsrc");
  nlohmann::json spec = nlohmann::json::array({{{"name", "top.txt"}, {"size", 10}}});
  for (int top = 0; top < 8; ++top) {
    for (int sub = 0; sub < 17; ++sub) {  // 136 subfolders: too many to split further
      for (int f = 0; f < 2; ++f) {
        spec.push_back(
            {{"name", fmt::format("t{}/s{:02d}/f{}.txt", top, sub, f)}, {"size", 50 + f}});
      }
    }
  }
  const std::string spec_file = dir_.Sub("spec.json");
  WriteFile(spec_file, spec.dump());
  ASSERT_EQ(RunChecker(Azurite::Global(), {"fill", source, spec_file})["blobs"], 273);
  FaultProxy wan(Azurite::Global().port(), 0, 1, "", 300);
  env_["FERRY_SOURCE_CONNECTION_STRING"] = Azurite::Global().ConnectionString();
  const std::string mig = Location("blob-listing");
  ASSERT_EQ(Ferry({"init", mig, "--source",
                   fmt::format("http://127.0.0.1:{}/devstoreaccount1/{}", wan.port(), source),
                   "--target", target_, "--mode", "mirror"})
                .exit_code,
            0);
  // The target under share/ holds what the source holds: names, sizes and MD5s.
  auto expect_target_is_the_source = [&] {
    std::map<std::string, std::pair<int64_t, std::string>> want, got;
    for (const auto& b : RunChecker(Azurite::Global(), {"list", source})) {
      want[b["name"]] = {b["size"], b["md5"]};
    }
    for (const auto& b : RunChecker(Azurite::Global(), {"list", container_, "share/"})) {
      got[b["name"].get<std::string>().substr(6)] = {b["size"], b["md5"]};
    }
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "the target differs from the source";
  };

  int scanned = 0, helped = 0, parts_by_helpers = 0;
  for (const ProcessResult& r : Together({"scan", mig, "--scan-concurrency", "1"}, 3)) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    if (r.out.find("scanned 273 files") != std::string::npos) ++scanned;
    size_t at = r.out.find("listed ");
    if (at != std::string::npos) {
      ++helped;
      EXPECT_NE(r.out.find("listing parts of the source (a prefix each) with it"),
                std::string::npos)
          << r.out;
      parts_by_helpers += std::stoi(r.out.substr(at + 7));
    }
  }
  EXPECT_EQ(scanned, 1);
  EXPECT_EQ(helped, 2);
  EXPECT_GT(parts_by_helpers, 0) << "the helpers listed some of the 8 parts";
  wan.ToggleDelay();  // off from here: the copy reads every blob
  auto copy = Ferry({"copy", mig});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_NE(copy.out.find("copied 273 files"), std::string::npos) << copy.out;
  expect_target_is_the_source();

  RunChecker(Azurite::Global(), {"delete", source, "t3/s07/f1.txt"});
  RunChecker(Azurite::Global(), {"put", source, "t5/new.txt", "new at the source"});
  for (const ProcessResult& r :
       ExpectTwoSyncsMirrorOneDeletedOneNew(mig, expect_target_is_the_source)) {
    const size_t at = r.out.find("listed ");  // a helper: the listing had nothing to hand out
    if (at != std::string::npos) {
      EXPECT_EQ(r.out.substr(at, 15), "listed 0 parts ") << r.out;
    }
  }
  RunChecker(Azurite::Global(), {"drop", source});
}

// Syncs started together share the copy as well as the listing: the one that holds the
// migration leads, the others claim items with it; every file is copied once, the pass's record
// counts them all, and it ends only after its helpers' last items.
TEST_F(PostgresCatalogTest, SyncsStartedTogetherShareTheCopy) {
  constexpr int kFiles = 1200;
  for (int i = 0; i < kFiles; ++i) {
    AddFile(fmt::format("d{:02d}/f{:04d}.txt", i % 40, i), fmt::format("file {}\n", i));
  }
  const std::string mig = Location("shared-sync");
  ASSERT_EQ(
      Ferry({"init", mig, "--source", Src(), "--target", target_, "--mode", "mirror"}).exit_code,
      0);

  // Slow enough for the helpers to join: 300 requests a second for them all.
  std::vector<std::unique_ptr<BackgroundProcess>> syncs;
  for (int i = 0; i < 3; ++i) {
    syncs.push_back(std::make_unique<BackgroundProcess>(
        FerryArgv({"sync", mig, "--max-ops", "300", "--concurrency", "4"}), FerryOptions(env_)));
  }
  int leaders = 0, helpers = 0;
  int64_t by_helpers = 0, reported_by_leader = -1;
  for (auto& p : syncs) {
    ProcessResult r = p->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    size_t at = r.out.find("this process's share of the sync of run ");
    if (at != std::string::npos) {
      ++helpers;
      size_t copied = r.out.find("copied ", at);
      ASSERT_NE(copied, std::string::npos) << r.out;
      by_helpers += std::stoll(r.out.substr(copied + 7));
    }
    at = r.out.find("helping: they copied ");
    if (at != std::string::npos) {
      EXPECT_EQ(r.out.find("stopped answering"), std::string::npos) << "no helper died: " << r.out;
      ++leaders;
      reported_by_leader = std::stoll(r.out.substr(at + 21));
    }
  }
  EXPECT_EQ(helpers, 2);
  EXPECT_EQ(leaders, 1);
  EXPECT_GT(by_helpers, 0) << "the helpers copied part of the files";
  EXPECT_EQ(reported_by_leader, by_helpers) << "the leader counts what its helpers copied";
  EXPECT_EQ(ItemsIn(mig, "copied", env_), kFiles + 40) << "every file and folder";
  VerifyTarget();

  auto log = Ferry({"log", mig, "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  std::map<std::string, int> recorded;
  std::set<int64_t> runs_with_files;
  const nlohmann::json events = nlohmann::json::parse(log.out)["events"];
  for (const auto& e : events) {
    const std::string kind = e["kind"];
    if (kind == "copied" || kind == "adopted") {
      ++recorded[e["path"].get<std::string>()];
      runs_with_files.insert(e["run"].get<int64_t>());
    }
  }
  EXPECT_EQ(recorded.size(), size_t(kFiles));
  for (const auto& [path, n] : recorded) EXPECT_EQ(n, 1) << path << " recorded " << n << " times";
  EXPECT_EQ(runs_with_files.size(), 3u) << "the leader's copy run and each helper's";
  auto check = Ferry({"log", mig, "--check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  auto status = Ferry({"status", mig, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json doc = nlohmann::json::parse(status.out);
  int64_t sync_files = -1;
  for (const auto& run : doc["runs"]) {
    if (run["stage"] == "sync") sync_files = run["files"].get<int64_t>();
  }
  EXPECT_EQ(sync_files, kFiles) << "the pass's record holds the helpers' files too";
  EXPECT_EQ(doc["sync_deltas"].back()["new"], kFiles) << doc["sync_deltas"];

  // A second pass, mirror: the deletions come after every item the helpers copied.
  const int64_t last_event = events.back()["id"].get<int64_t>();
  for (int i = 0; i < 5; ++i) {
    const std::string gone = fmt::format("d{:02d}/f{:04d}.txt", i, i);
    ASSERT_EQ(std::remove((Src() + "/" + gone).c_str()), 0);
    expected_.erase(gone);
  }
  for (int i = 0; i < 400; ++i) AddFile(fmt::format("new/f{:03d}.txt", i), "new");
  syncs.clear();
  for (int i = 0; i < 3; ++i) {
    syncs.push_back(std::make_unique<BackgroundProcess>(
        FerryArgv({"sync", mig, "--max-ops", "300", "--concurrency", "4"}), FerryOptions(env_)));
  }
  for (auto& p : syncs) {
    ProcessResult r = p->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  VerifyTarget();
  auto second = Ferry({"log", mig, "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  int64_t last_copy = 0, first_delete = 0, deleted = 0;
  std::set<int64_t> copy_runs;
  const nlohmann::json later = nlohmann::json::parse(second.out)["events"];
  for (const auto& e : later) {
    const int64_t id = e["id"].get<int64_t>();
    if (id <= last_event) continue;
    if (e["kind"] == "copied") {
      last_copy = std::max(last_copy, id);
      copy_runs.insert(e["run"].get<int64_t>());
    }
    if (e["kind"] == "deleted") {
      ++deleted;
      if (first_delete == 0) first_delete = id;
    }
  }
  EXPECT_EQ(deleted, 5);
  EXPECT_GT(copy_runs.size(), 1u) << "helpers copied in the second pass too";
  EXPECT_LT(last_copy, first_delete) << "every copy recorded before the first deletion";
}

// Syncs started together share the drift check too: the target's listing is split into parts
// (here 8 folders, each of 20 too many to split further; split though so few blobs would not be
// in auto, --split-listing always) that the leader and its helpers claim;
// every blob someone else changed or put there is found once, logged once, by the process that
// checked its part, and the leader's pass counts them all.
TEST_F(PostgresCatalogTest, SyncsStartedTogetherShareTheDriftCheck) {
  for (int top = 0; top < 8; ++top) {
    for (int sub = 0; sub < 20; ++sub) {
      for (int f = 0; f < 3; ++f) {
        AddFile(fmt::format("t{}/s{:02d}/f{}.txt", top, sub, f),
                fmt::format("{} {} {}", top, sub, f));
      }
    }
  }
  const std::string mig = Location("shared-drift");
  ASSERT_EQ(Ferry({"init", mig, "--source", Src(), "--target", target_}).exit_code, 0);
  ASSERT_EQ(Ferry({"copy", mig}).exit_code, 0);
  // With Microsoft's client: a blob overwritten in every folder, two put beside ferry's.
  std::set<std::string> changed, strangers{"t2/s05/theirs.txt", "t7/theirs.txt"};
  for (int top = 0; top < 8; ++top) {
    const std::string path = fmt::format("t{}/s{:02d}/f1.txt", top, top * 2);
    changed.insert(path);
    RunChecker(Azurite::Global(), {"put", container_, "share/" + path, "theirs"});
  }
  for (const std::string& path : strangers) {
    RunChecker(Azurite::Global(), {"put", container_, "share/" + path, "who put this here"});
  }

  // Slow enough that the helpers, done with the listing of the source, find parts to check.
  std::vector<std::unique_ptr<BackgroundProcess>> syncs;
  for (int i = 0; i < 3; ++i) {
    syncs.push_back(std::make_unique<BackgroundProcess>(
        FerryArgv({"sync", mig, "--max-ops", "10", "--split-listing", "always"}),
        FerryOptions(env_)));
  }
  int leaders = 0;
  int64_t parts = 0, checked_by_leader = 0, checked_by_helpers = 0;
  for (auto& p : syncs) {
    ProcessResult r = p->Wait();
    size_t at = r.out.find("the drift check listed the target in ");
    if (at != std::string::npos) {
      ++leaders;
      EXPECT_EQ(r.exit_code, 1) << "conflicts: " << r.out << r.err;
      EXPECT_NE(r.out.find("drift: 8 changed by others, 2 unexpected blobs"), std::string::npos)
          << r.out;
      parts = std::stoll(r.out.substr(at + 37));
      checked_by_leader = std::stoll(r.out.substr(r.out.find(" parts: ", at) + 8));
      continue;
    }
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    at = r.out.find("this process checked ");
    ASSERT_NE(at, std::string::npos) << r.out << r.err;
    checked_by_helpers += std::stoll(r.out.substr(at + 21));
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(parts, 8);
  EXPECT_EQ(checked_by_leader + checked_by_helpers, 8);
  EXPECT_GT(checked_by_helpers, 0) << "the helpers checked parts of the listing";

  // Each finding logged once, by the process that checked its part; the blobs left alone.
  auto log = Ferry({"log", mig, "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  std::map<std::string, int> conflicts, unexpected;
  std::set<std::string> checkers;
  const nlohmann::json events = nlohmann::json::parse(log.out)["events"];
  for (const auto& e : events) {
    const std::string kind = e["kind"];
    if (kind != "conflict" && kind != "unexpected-blob") continue;
    ++(kind == "conflict" ? conflicts : unexpected)[e["path"].get<std::string>()];
    checkers.insert(e["detail"]["checker"].get<std::string>());
  }
  EXPECT_EQ(conflicts.size(), changed.size());
  for (const std::string& path : changed) EXPECT_EQ(conflicts[path], 1) << path;
  EXPECT_EQ(unexpected.size(), strangers.size());
  for (const std::string& path : strangers) EXPECT_EQ(unexpected[path], 1) << path;
  EXPECT_GT(checkers.size(), 1u) << "the helpers' findings name them";
  EXPECT_EQ(ItemsIn(mig, "conflict", env_), 8);
  auto theirs = RunChecker(Azurite::Global(), {"download-md5", container_, "share/t3/s06/f1.txt"});
  EXPECT_EQ(theirs["md5"], Md5Hex(Md5::Of("theirs"))) << "not overwritten";
  auto check = Ferry({"log", mig, "--check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// A sync killed mid-copy (kill -9) leaves its helpers nothing more to claim: they record what
// they hold and exit 2, saying their sync ended; the next sync copies the rest, and every file
// is recorded once.
TEST_F(PostgresCatalogTest, ASyncKilledMidCopyLeavesItsHelpersToStop) {
  constexpr int kFiles = 1200;
  const std::string mig = Location("leader-killed");
  auto syncs = LeaderAndTwoHelpersCopying(mig, kFiles);
  ASSERT_EQ(syncs.size(), 3u);
  BackgroundProcess& leader = *syncs[0];
  leader.Kill(SIGKILL);
  leader.Wait();
  for (size_t helper = 1; helper < syncs.size(); ++helper) {
    ProcessResult r = syncs[helper]->Wait();
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.out.find("copying with the sync of run"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("ended before its copy was done"), std::string::npos) << r.err;
  }
  EXPECT_GT(ItemsIn(mig, "pending", env_), 0) << "the helpers stopped with their sync";

  auto again = Ferry({"sync", mig});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(ItemsIn(mig, "copied", env_), kFiles + 40);
  VerifyTarget();
  ExpectEachFileRecordedOnce(mig, kFiles);
}

// A helper killed mid-copy (kill -9) is dead at once: the leader and the other helper take its
// items over, every file is copied and recorded once, and the pass says a helper died (what it
// copied is in the log under its own run, not in the pass's counts).
TEST_F(PostgresCatalogTest, AHelperKilledMidCopyIsReportedAndItsItemsAreCopiedOnce) {
  constexpr int kFiles = 1200;
  const std::string mig = Location("helper-killed");
  auto syncs = LeaderAndTwoHelpersCopying(mig, kFiles);
  ASSERT_EQ(syncs.size(), 3u);
  syncs[1]->Kill(SIGKILL);
  syncs[1]->Wait();
  ProcessResult led = syncs[0]->Wait();
  EXPECT_EQ(led.exit_code, 0) << led.out << led.err;
  EXPECT_NE(led.out.find("1 helper stopped answering before it ended"), std::string::npos)
      << led.out;
  ProcessResult helped = syncs[2]->Wait();
  EXPECT_EQ(helped.exit_code, 0) << helped.out << helped.err;

  EXPECT_EQ(ItemsIn(mig, "copied", env_), kFiles + 40) << "every file and folder";
  VerifyTarget();
  ExpectEachFileRecordedOnce(mig, kFiles);
}

// A helper whose machine mounts other folders in the share (another export, a replica) lists
// none of them: a folder it claims whose inode or modification time is not what the scan's
// listing of its parent recorded, and a folder on another device than its parent (a mount point
// there), go back to the scanning process, which lists them itself; the catalog is the share's.
// (The helper's view is made in a mount namespace of its own.)
TEST_F(PostgresCatalogTest, AHelperThatSeesOtherFoldersListsNoneOfThem) {
  if (RunProcess({"unshare", "-m", "true"}).exit_code != 0) {
    GTEST_SKIP() << "unshare -m is not allowed here";
  }
  const std::string other = dir_.Sub("other");
  for (int d = 0; d < 200; ++d) {
    for (int f = 0; f < 2; ++f) AddFile(fmt::format("dept{:03d}/f{}", d, f), "share");
    WriteFile(fmt::format("{}/dept{:03d}/only-elsewhere", other, d), "other");
  }
  AddFile("deep/x/real.txt", "share");
  WriteFile(other + "/x/only-elsewhere", "other");
  MountShare(2000);
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string mig = Location("other-folders");
  ASSERT_EQ(Ferry({"init", mig, "--source", Share(), "--target", target_}).exit_code, 0);

  // The helper's folders are mounted first; it starts once the scan holds the migration.
  const std::string ready = dir_.Sub("mounted"), go = dir_.Sub("go");
  std::string script = fmt::format(
      "for d in {0}/dept*; do mount --bind \"$d\" \"{1}/${{d##*/}}\" || exit 9; done; "
      "mount --bind {0}/x {1}/deep/x || exit 9; "
      "touch {2}; while [ ! -e {3} ]; do sleep 0.05; done; exec \"$@\"",
      other, Share(), ready, go);
  std::vector<std::string> argv{"unshare", "-m", "--propagation", "private",
                                "sh",      "-c", script,          "helper"};
  for (const std::string& a : FerryArgv({"scan", mig})) argv.push_back(a);
  BackgroundProcess helper(argv, FerryOptions(env_));
  for (int i = 0; i < 400 && !std::filesystem::exists(ready) && helper.Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(std::filesystem::exists(ready)) << helper.Wait().err;
  BackgroundProcess scanning(FerryArgv({"scan", mig}), FerryOptions(env_));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  WriteFile(go, "");
  ProcessResult scan = scanning.Wait();
  ProcessResult helped = helper.Wait();
  ASSERT_EQ(scan.exit_code, 0) << scan.out << scan.err;
  EXPECT_NE(scan.out.find("scanned 401 files"), std::string::npos) << scan.out;
  EXPECT_EQ(helped.exit_code, 0) << helped.out << helped.err;
  EXPECT_NE(helped.err.find("differ on this machine"), std::string::npos) << helped.err;

  auto copy = Ferry({"copy", mig});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  VerifyTarget();  // the share's files, and nothing only the helper saw
}

// A helper whose scan died mid-listing (kill -9) says so and fails: the listing it helped with
// was never merged, and its run, still marked running, is no process's any more.
TEST_F(PostgresCatalogTest, AHelperWhoseScanDiedMidListingFails) {
  for (int d = 0; d < 300; ++d) AddFile(fmt::format("dept{:03d}/f", d), "x");
  MountShare(20'000);  // a slow share: the listing takes many seconds
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string mig = Location("scan-died");
  ASSERT_EQ(Ferry({"init", mig, "--source", Share(), "--target", target_}).exit_code, 0);
  BackgroundProcess scanning(FerryArgv({"scan", mig}), FerryOptions(env_));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BackgroundProcess helper(FerryArgv({"scan", mig}), FerryOptions(env_));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  ASSERT_TRUE(scanning.Running() && helper.Running()) << "the listing must still be under way";
  scanning.Kill(SIGKILL);
  scanning.Wait();
  ProcessResult helped = helper.Wait();
  EXPECT_EQ(helped.exit_code, 2) << helped.out << helped.err;
  EXPECT_NE(helped.out.find("listing folders with it"), std::string::npos) << helped.out;
  EXPECT_NE(helped.err.find("ended before its listing was merged"), std::string::npos)
      << helped.err;
}

TEST_F(PostgresCatalogTest, ALocationWithAPasswordIsRefusedAndNothingIsMade) {
  AddFile("a.txt", "a");
  auto r = Ferry({"init", "postgresql://ferry:hunter2@127.0.0.1:1/db?migration=m", "--source",
                  Src(), "--target", target_});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("PGPASSWORD"), std::string::npos) << r.err;
  EXPECT_EQ((r.out + r.err).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing
