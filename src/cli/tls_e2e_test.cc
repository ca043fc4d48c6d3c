// https endpoints: certificates are verified, and turning that off takes an explicit flag that
// every run records in the migration's log. Azurite serves https with a self-signed certificate
// made for the test.
#include <gtest/gtest.h>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using TlsTest = MigrationFixture;

TEST_F(TlsTest, ASelfSignedTargetIsRefusedUnlessVerificationIsTurnedOffAndThatIsLogged) {
  TempDir certs;
  auto made = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          "-keyout", certs.Sub("key.pem"), "-out", certs.Sub("cert.pem")});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  AzuriteOptions options;
  options.cert_pem = certs.Sub("cert.pem");
  options.key_pem = certs.Sub("key.pem");
  auto azurite = Azurite::Start(options);
  target_ = azurite->ContainerUrl(container_, "share");
  ASSERT_TRUE(target_.starts_with("https://")) << target_;
  env_ = {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
          {"AZURE_STORAGE_KEY", std::string(storage::kDevStoreKey)}};
  AddFile("a.txt", "over https");
  AddFile("dir/b.txt", "also over https");

  auto refused = Ferry({"init", Mig(), "--source", Src(), "--target", target_});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(Lines(refused.err), 1) << refused.err;
  EXPECT_NE(refused.err.find("certificate"), std::string::npos) << refused.err;
  struct stat st;
  EXPECT_NE(::stat(Mig().c_str(), &st), 0) << "nothing created";

  Init({"--insecure-skip-tls-verify"});
  auto copy = Ferry({"copy", Mig(), "--insecure-skip-tls-verify"});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_NE(copy.err.find("not verified"), std::string::npos) << "said at every run: " << copy.err;
  auto verify = Ferry({"verify", Mig()});
  EXPECT_EQ(verify.exit_code, 2) << "verification is back on without the flag";
  EXPECT_NE(verify.err.find("certificate"), std::string::npos) << verify.err;

  // Checked by the independent client, and the unverified runs are marked so in the log.
  nlohmann::json listing = RunChecker(*azurite, {"list", container_});
  ASSERT_EQ(listing.size(), 2u) << listing.dump();
  auto log = Ferry({"log", Mig(), "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  std::set<int64_t> runs;
  nlohmann::json events = nlohmann::json::parse(log.out)["events"];
  for (const auto& event : events) {
    if (event["kind"] == "tls-verification-off") runs.insert(event["run"].get<int64_t>());
  }
  std::set<int64_t> unverified;  // init, and the scan and copy of `ferry copy`
  nlohmann::json status = Status();
  for (const auto& run : status["runs"]) {
    if (run["stage"] != "verify") unverified.insert(run["run"].get<int64_t>());
  }
  EXPECT_EQ(unverified.size(), 3u) << status.dump();
  EXPECT_EQ(runs, unverified) << log.out;
  EXPECT_EQ(Ferry({"log", Mig(), "--check"}).exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
