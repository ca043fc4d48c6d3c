// kill -9 of ferry in the middle of each stage: the next run of the same command finishes the
// job, the catalog passes SQLite's integrity check, and the event log's hash chain is intact.
// (copy has its own, finer test in migration_e2e_test.cc.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

class CrashTest : public MigrationFixture {
 protected:
  // Starts `ferry args...` and kills it with SIGKILL as soon as `reached()` holds: at a chosen
  // point of the stage rather than after a guessed delay.
  void KillWhen(const std::vector<std::string>& args, const std::function<bool()>& reached,
                const std::string& moment) {
    BackgroundProcess ferry(FerryArgv(args), FerryOptions(env_));
    bool hit = false;
    for (int i = 0; i < 6000 && !hit && ferry.Running(); ++i) {
      hit = reached();
      if (!hit) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(hit && ferry.Running())
        << "ferry " << args[0] << " ended before " << moment << ":\n"
        << ferry.Wait().out;
    ferry.Kill(SIGKILL);
    EXPECT_EQ(ferry.Wait().exit_code, 128 + SIGKILL) << moment;
  }

  // A number from the catalog, read while ferry writes it (0 if it cannot be read yet).
  int64_t Query(const std::string& sql) {
    sqlite3* db = nullptr;
    int64_t value = 0;
    if (sqlite3_open_v2((Mig() + "/catalog.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_busy_timeout(db, 1000);
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW) {
        value = sqlite3_column_int64(stmt, 0);
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return value;
  }

  // True once a run newer than any so far is under way (a new run is recorded as it starts).
  std::function<bool()> NewRunStarted() {
    int64_t last = Query("SELECT max(id) FROM runs");
    return [=, this] {
      return Query(fmt::format("SELECT count(*) FROM runs WHERE id > {}", last)) > 0;
    };
  }

  // True once a new run has recorded `at_least` events of `kinds` (an SQL list).
  std::function<bool()> NewRunEvents(const std::string& kinds, int at_least) {
    int64_t last = Query("SELECT max(id) FROM runs");
    return [=, this] {
      return Query(fmt::format("SELECT count(*) FROM events WHERE kind IN ({}) AND run > {}", kinds,
                               last)) >= at_least;
    };
  }

  // Runs in which the stage was interrupted (recorded so when the next run opens the catalog).
  int Interrupted(const std::string& stage) {
    int n = 0;
    nlohmann::json status = Status();
    for (const auto& run : status["runs"]) {
      n += run["stage"] == stage && run["outcome"] == "interrupted";
    }
    return n;
  }

  // Gives a file new bytes of the same size and a later mtime.
  void Rewrite(const std::string& path, std::mt19937_64& rng) {
    std::string full = Src() + "/" + path;
    WriteFile(full, Random(ReadFile(full).size(), rng));
    struct stat st;
    ::stat(full.c_str(), &st);
    struct timespec times[2] = {{0, UTIME_OMIT}, {st.st_mtim.tv_sec + 5, st.st_mtim.tv_nsec}};
    ::utimensat(AT_FDCWD, full.c_str(), times, 0);
    Expect(path);
  }
};

TEST_F(CrashTest, KillNineDuringScanThenScanAgain) {
  // Several of the scan's transactions' worth (it commits every few thousand items).
  for (int d = 0; d < 24; ++d) {
    ::mkdir((Src() + fmt::format("/d{:02d}", d)).c_str(), 0755);
    for (int i = 0; i < 500; ++i) WriteFile(Src() + fmt::format("/d{:02d}/f{:03d}", d, i), "");
  }
  Init();
  // Once the first items are in (committed), and again as the next scan starts over.
  KillWhen(
      {"scan", Mig()}, [&] { return Query("SELECT count(*) FROM items") > 0; }, "items");
  KillWhen({"scan", Mig()}, NewRunStarted(), "a scan run");
  auto scan = Ferry({"scan", Mig()});
  ASSERT_EQ(scan.exit_code, 0) << scan.out << scan.err;
  EXPECT_EQ(Interrupted("scan"), 2);
  EXPECT_EQ(Status()["states"]["pending"]["items"], 24 * 500 + 24);
  ExpectCatalogIntact();
}

TEST_F(CrashTest, KillNineDuringSyncVerifyAndCutoverThenRunThemAgain) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 1200; ++i) {
    AddFile(fmt::format("d{}/f{:04d}", i % 12, i), Random(size_t(rng() % 30'000), rng));
  }
  WriteLarge(Src() + "/big.bin", 96ull << 20, 5);
  Expect("big.bin");
  Init({"--mode", "mirror"});
  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;

  // sync: a third of the files changed, some added, some deleted, and the large file rewritten.
  for (int i = 0; i < 1200; i += 3) Rewrite(fmt::format("d{}/f{:04d}", i % 12, i), rng);
  for (int i = 0; i < 200; ++i) AddFile(fmt::format("new/f{:03d}", i), Random(5000, rng));
  for (int i = 1; i < 1200; i += 10) {
    std::string path = fmt::format("d{}/f{:04d}", i % 12, i);
    ::unlink((Src() + "/" + path).c_str());
    expected_.erase(path);
  }
  WriteLarge(Src() + "/big.bin", 96ull << 20, 6);
  Expect("big.bin");
  // Killed with replacements written but not all recorded, then among the mirror's deletions.
  KillWhen({"sync", Mig()}, NewRunEvents("'copied', 'recopied'", 100), "100 items copied");
  const std::string deletes = fmt::format("DELETE /devstoreaccount1/{}/", container_);
  int64_t deleted_before = Azurite::Global().RequestCount(deletes);
  KillWhen(
      {"sync", Mig()},
      [&] { return Azurite::Global().RequestCount(deletes) >= deleted_before + 10; },
      "10 blobs deleted");
  auto sync = Ferry({"sync", Mig()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  EXPECT_EQ(Interrupted("sync"), 2);
  VerifyTarget();
  ExpectCatalogIntact();

  // verify --deep re-reads both sides: killed once some results are recorded.
  KillWhen({"verify", Mig(), "--deep"}, NewRunEvents("'verified'", 50), "50 items verified");
  auto verify = Ferry({"verify", Mig(), "--deep"});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(Interrupted("verify-deep"), 1);
  ExpectCatalogIntact();

  // cutover: killed in its quiet window, in the final sync, and in the verification after it.
  for (int i = 2; i < 1200; i += 7) Rewrite(fmt::format("d{}/f{:04d}", i % 12, i), rng);
  const std::vector<std::string> cutover_args{"cutover", Mig(), "--quiet-window", "1s", "--yes"};
  for (const std::string step : {"checking that the source is quiet", "final sync", "verifying"}) {
    BackgroundProcess ferry(FerryArgv(cutover_args), FerryOptions(env_));
    ASSERT_TRUE(ferry.WaitForOutput(step, 30'000)) << ferry.OutputSoFar();
    ASSERT_TRUE(ferry.Running()) << "cutover ended before it could be killed at: " << step;
    ferry.Kill(SIGKILL);
    EXPECT_EQ(ferry.Wait().exit_code, 128 + SIGKILL) << step;
  }
  EXPECT_FALSE(Status()["closed"].get<bool>());
  auto cutover = Ferry(cutover_args);
  ASSERT_EQ(cutover.exit_code, 0) << cutover.out << cutover.err;
  auto status = Status();
  EXPECT_TRUE(status["closed"].get<bool>());
  EXPECT_EQ(status["cutover"]["verify"]["mismatches"], 0);
  VerifyTarget();
  ExpectCatalogIntact();
}

}  // namespace
}  // namespace ferry::testing
