// A migration whose catalog is in PostgreSQL (a real server the test starts), through the
// playbook, driven by the built binary: init, scan, copy, a change and sync, verify, status, log.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include "support/migration_fixture.h"
#include "support/postgres.h"

namespace ferry::testing {
namespace {

class PostgresCatalogTest : public MigrationFixture {
 protected:
  std::string Location(const std::string& migration) {
    static std::string url = Postgres::Global().NewDatabase("e2e");
    return url + "?migration=" + migration;
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
  EXPECT_NE(copy.out.find("copied 300 items"), std::string::npos) << copy.out;
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

  // Another migration in the same database is another catalog.
  auto other = Ferry({"status", Location("never-made")});
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("ferry init"), std::string::npos) << other.err;
  EXPECT_EQ(Lines(other.err), 1) << other.err;
}

// The items in `state` by `ferry status`, or -1 while it cannot tell.
int64_t ItemsIn(const std::string& location, const std::string& state,
                const std::map<std::string, std::optional<std::string>>& env) {
  auto r = RunFerry({"status", location, "--json"}, env);
  if (r.exit_code != 0) return -1;
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (doc.is_discarded() || !doc["states"].contains(state)) return 0;
  return doc["states"][state]["items"].get<int64_t>();
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
