// ferry through a fault-injecting proxy (tests/support/fault_proxy.mjs) in front of Azurite:
// with a share of the requests failing in every way a network or a busy service fails, a copy
// still completes with every blob correct, checked directly on Azurite by the independent client.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "support/fault_proxy.h"
#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using FaultTest = MigrationFixture;

TEST_F(FaultTest, FivePercentFaultsAndTheCopyStillCompletesCorrectly) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 3000; ++i) {
    AddFile(fmt::format("d{:02d}/f{:04d}", i % 30, i), Random(size_t(rng() % 40'000), rng));
  }
  // 24 requests with large bodies (blocks and whole files), for faults to meet them mid-body.
  const std::vector<std::string> bigs{"big-1.bin", "big-2.bin", "big-3.bin", "big-4.bin"};
  for (const std::string& big : bigs) {  // in blocks
    WriteLarge(Src() + "/" + big, 40ull << 20, rng());
    Expect(big);
  }
  for (const char* mid : {"mid-1.bin", "mid-2.bin", "mid-3.bin", "mid-4.bin"}) {
    WriteLarge(Src() + "/" + mid, 16ull << 20, rng());  // each streamed as one write
    Expect(mid);
  }
  FaultProxy proxy(Azurite::Global().port(), 0.05, 7);
  // Through the proxy, with the emulator's account and key, and stalls abandoned after 2 s.
  target_ = fmt::format("http://127.0.0.1:{}/devstoreaccount1/{}/share", proxy.port(), container_);
  env_ = {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
          {"AZURE_STORAGE_KEY", std::string(storage::kDevStoreKey)},
          {"FERRY_STALL_TIMEOUT", "2s"}};
  Init();
  auto copy = Ferry({"copy", Mig(), "--block-above", "32MiB"});
  nlohmann::json injected = proxy.Stop();
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err << Ferry({"errors", Mig()}).out;

  // Every kind of fault was met, and the retries are in the log by cause.
  SCOPED_TRACE(injected.dump());
  EXPECT_GT(injected["requests"].get<int>(), 3000);
  for (const auto& [kind, count] : injected["faults"].items()) {
    EXPECT_GE(count.get<int>(), 1) << kind << " was never injected";
  }
  auto log = Ferry({"log", Mig(), "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  std::map<std::string, int> causes;
  nlohmann::json events = nlohmann::json::parse(log.out)["events"];
  for (const auto& event : events) {
    if (event["kind"] != "retries") continue;
    for (const auto& [cause, n] : event["detail"].items()) causes[cause] += n.get<int>();
  }
  EXPECT_GE(causes["HTTP 503 ServerBusy"], 1);
  EXPECT_GE(causes["HTTP 500 OperationTimedOut"], 1);
  EXPECT_GE(causes["HTTP 429 TooManyRequests"], 1);
  int network = 0;
  for (const auto& [cause, n] : causes) network += cause.starts_with("network: ") ? n : 0;
  EXPECT_GE(network, 4) << "resets, truncations and stalls";

  // What arrived, checked on Azurite directly: every file once, with its size, MD5 and metadata,
  // and the large files made of exactly their blocks, none stray.
  VerifyTarget();
  for (const std::string& big : bigs) {
    auto blocks = RunChecker(Azurite::Global(), {"staged", container_, "share/" + big});
    EXPECT_TRUE(blocks["uncommitted"].empty()) << big;
    EXPECT_EQ(blocks["committed"].size(), 5u) << big << ": 40 MiB in 8 MiB blocks";
  }
  EXPECT_EQ(Status()["states"]["copied"]["items"], 3008 + 30);
}

TEST_F(FaultTest, AzuriteKilledMidCopyThenRestartedAndTheNextCopyCompletes) {
  std::mt19937_64 rng(6);
  for (int i = 0; i < 1500; ++i) {
    AddFile(fmt::format("d{:02d}/f{:04d}", i % 15, i), Random(size_t(rng() % 20'000), rng));
  }
  WriteLarge(Src() + "/big.bin", 64ull << 20, rng());
  Expect("big.bin");
  TempDir blobs;  // Azurite persists here, so a restart finds what it had
  AzuriteOptions options;
  options.location = blobs.path();
  auto azurite = Azurite::Start(options);
  azurite_ = azurite.get();
  target_ = azurite->ContainerUrl(container_, "share");
  env_ = {{"AZURE_STORAGE_CONNECTION_STRING", azurite->ConnectionString()}};
  Init();
  // Azurite saves its metadata every 5 s: give it the container before the crash.
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));

  BackgroundProcess copy(FerryArgv({"copy", Mig(), "--block-above", "32MiB"}), FerryOptions(env_));
  const std::string puts = fmt::format("PUT /devstoreaccount1/{}/", container_);
  for (int i = 0; i < 3000 && azurite->RequestCount(puts) < 500 && copy.Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(copy.Running()) << "the copy ended before Azurite could be killed";
  azurite->Kill();
  auto start = std::chrono::steady_clock::now();
  auto cut = copy.Wait();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_NE(cut.err.find("stopped: the target failed item after item"), std::string::npos)
      << cut.err;
  EXPECT_LT(seconds, 60) << "stops soon rather than failing every item after its retries";

  options.port = azurite->port();
  azurite.reset();
  azurite = Azurite::Start(options);
  azurite_ = azurite.get();
  auto again = Ferry({"copy", Mig(), "--block-above", "32MiB"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err << Ferry({"errors", Mig()}).out;
  // Azurite loses what it acknowledged in its last seconds before a crash (it saves every 5 s);
  // verify finds those blobs missing, and only those, and a sync with --overwrite restores them.
  auto verify = Ferry({"verify", Mig()});
  if (verify.exit_code != 0) {
    EXPECT_EQ(verify.exit_code, 3) << verify.out << verify.err;
    EXPECT_EQ(verify.out.find("changed"), std::string::npos) << verify.out;
    auto restore = Ferry({"sync", Mig(), "--overwrite"});
    EXPECT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  }
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  VerifyTarget();
  auto blocks = RunChecker(*azurite, {"staged", container_, "share/big.bin"});
  EXPECT_TRUE(blocks["uncommitted"].empty());
  EXPECT_EQ(blocks["committed"].size(), 8u) << "64 MiB in 8 MiB blocks";
  EXPECT_EQ(Ferry({"log", Mig(), "--check"}).exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
