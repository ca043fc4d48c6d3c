// The transfer engine's controls, end to end against Azurite: a bandwidth cap holds, and
// automatic concurrency backs off when the service answers that it is busy. Speed itself is
// measured in bench/, never here.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "support/fault_proxy.h"
#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using ThroughputTest = MigrationFixture;

// The summary ferry recorded for the migration's copy run.
nlohmann::json CopyRunSummary(const std::string& migration) {
  auto r = RunProcess({"sqlite3", migration + "/catalog.db",
                       "SELECT summary FROM runs WHERE stage = 'copy' ORDER BY id DESC LIMIT 1"});
  return nlohmann::json::parse(r.out);
}

TEST_F(ThroughputTest, ACopyCappedAt20MiBPerSecondOf200MiBTakesNoLessThan9Seconds) {
  std::mt19937_64 rng(20);
  std::filesystem::create_directories(Src());
  for (int i = 0; i < 10; ++i) {  // 10 files of 20 MiB, each one write paced as it is read
    std::string name = fmt::format("part-{}.bin", i);
    WriteLarge(Src() + "/" + name, 20ull << 20, rng());
    Expect(name);
  }
  Init();
  auto start = std::chrono::steady_clock::now();
  auto copy = Ferry({"copy", Mig(), "--max-bandwidth", "20MiB/s"});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_GE(seconds, 9.0) << "200 MiB at 20 MiB/s is 10 s, less at most a burst";
  EXPECT_NE(copy.out.find("throttled"), std::string::npos) << copy.out;
  nlohmann::json summary = CopyRunSummary(Mig());
  EXPECT_GE(summary["throttled_seconds"].get<double>(), 5.0) << summary.dump();
  VerifyTarget();
}

TEST_F(ThroughputTest, AutoConcurrencyBacksOffWhenTheServiceAnswersBusyWithRetryAfter) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 200; ++i) AddFile(fmt::format("d{}/f{:03d}", i % 4, i), Random(2000, rng));
  // A fifth of the requests answered 503 ServerBusy with Retry-After: 1.
  FaultProxy proxy(Azurite::Global().port(), 0.2, 11, "busy-retry-after");
  target_ = fmt::format("http://127.0.0.1:{}/devstoreaccount1/{}/share", proxy.port(), container_);
  env_ = {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
          {"AZURE_STORAGE_KEY", std::string(storage::kDevStoreKey)}};
  Init();
  auto copy = Ferry({"copy", Mig(), "--concurrency", "auto"});
  nlohmann::json injected = proxy.Stop();
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_GE(injected["faults"]["busy-retry-after"].get<int>(), 10) << injected.dump();

  nlohmann::json streams = CopyRunSummary(Mig())["streams"];
  SCOPED_TRACE(streams.dump());
  EXPECT_TRUE(streams["tuned"].get<bool>());
  EXPECT_EQ(streams["initial"], 16);
  EXPECT_GE(streams["backoffs"].get<int>(), 1);
  EXPECT_LT(streams["lowest"].get<int>(), 16) << "halved on the busy answers";
  std::smatch m;
  EXPECT_TRUE(std::regex_search(copy.out, m, std::regex(R"(streams tuned from 16 to \d+)")))
      << copy.out;
  VerifyTarget();
}

TEST_F(ThroughputTest, AScheduleThatSaysOffPausesEveryRequestAndCtrlCStillStopsPromptly) {
  std::mt19937_64 rng(22);
  for (int i = 0; i < 20; ++i) AddFile(fmt::format("f{:02d}", i), Random(1000, rng));
  Init();
  BackgroundProcess copy(FerryArgv({"copy", Mig(), "--schedule", "* off"}), FerryOptions(env_));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(copy.Running()) << "paused by the schedule";
  EXPECT_TRUE(RunChecker(Azurite::Global(), {"list", container_}).empty()) << "nothing sent";
  copy.Kill(SIGINT);
  auto start = std::chrono::steady_clock::now();
  auto stopped = copy.Wait();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5) << "the pause does not hold the stop";
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  EXPECT_NE(stopped.out.find("stopped early"), std::string::npos) << stopped.out;
  EXPECT_EQ(Status()["states"]["pending"]["items"], 20) << "the held items stay pending";

  auto resumed = Ferry({"copy", Mig()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  VerifyTarget();
  ExpectCatalogIntact();
}

}  // namespace
}  // namespace ferry::testing
