// Signing in with Microsoft Entra ID: Azurite over https with --oauth basic (it checks a bearer
// token's issuer, audience and times) and tests/support/token_server.mjs playing the authority,
// IMDS, App Service's identity endpoint and, through a stand-in `az`, the Azure CLI. Every
// credential kind copies, syncs and verifies; tokens are refreshed before they expire; bad
// sign-ins fail with one clear line; no secret or token is written anywhere.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <set>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

constexpr char kTenant[] = "72f988bf-0000-4000-8000-000000000001";
constexpr char kClient[] = "0a1b2c3d-0000-4000-8000-00000000c11e";
constexpr char kSecret[] = "s3cr3t-value-never-logged";
constexpr char kFederated[] = "federated-token-from-the-platform";

// The token server for one test.
class TokenServer {
 public:
  TokenServer(const std::string& certs, std::vector<std::string> extra = {})
      : stats_(dir_.Sub("stats.json")), process_(Argv(certs, std::move(extra))) {
    if (!process_.WaitForOutput("http_port", 20'000)) {
      throw std::runtime_error("the token server did not start: " + process_.Wait().err);
    }
    nlohmann::json ports = nlohmann::json::parse(process_.OutputSoFar());
    https_port_ = ports["https_port"];
    http_port_ = ports["http_port"];
  }
  std::string Authority() const { return fmt::format("https://127.0.0.1:{}", https_port_); }
  std::string Plain() const { return fmt::format("http://127.0.0.1:{}", http_port_); }
  // Stops the server: {"issued": {KIND: N}, "refused": N, "requests": [...]}.
  nlohmann::json Stop() {
    process_.Kill(SIGTERM);
    process_.Wait();
    return nlohmann::json::parse(ReadFile(stats_));
  }

 private:
  std::vector<std::string> Argv(const std::string& certs, std::vector<std::string> extra) {
    std::vector<std::string> argv{"node",
                                  std::string(FERRY_SOURCE_DIR) + "/tests/support/token_server.mjs",
                                  "--cert",
                                  certs + "/server.pem",
                                  "--key",
                                  certs + "/server.key",
                                  "--client-id",
                                  kClient,
                                  "--client-secret",
                                  kSecret,
                                  "--assertion-file",
                                  certs + "/federated",
                                  "--client-cert",
                                  certs + "/client.pem",
                                  "--stats",
                                  stats_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  TempDir dir_;
  std::string stats_;
  BackgroundProcess process_;
  int https_port_ = 0, http_port_ = 0;
};

class EntraIdTest : public MigrationFixture {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TempDir();
    auto server =
        RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                    certs_->Sub("server.key"), "-out", certs_->Sub("server.pem")});
    ASSERT_EQ(server.exit_code, 0) << server.err;
    auto client = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                              "2", "-subj", "/CN=ferry-test-principal", "-keyout",
                              certs_->Sub("client.key"), "-out", certs_->Sub("client.crt")});
    ASSERT_EQ(client.exit_code, 0) << client.err;
    WriteFile(certs_->Sub("client.pem"),
              ReadFile(certs_->Sub("client.crt")) + ReadFile(certs_->Sub("client.key")));
    WriteFile(certs_->Sub("federated"), std::string(kFederated) + "\n");
    // A stand-in for the Azure CLI, which prints what `az account get-access-token` prints.
    std::filesystem::create_directories(certs_->Sub("bin"));
    WriteFile(certs_->Sub("bin/az"),
              fmt::format("#!/bin/sh\n"
                          "[ \"$1 $2\" = \"account get-access-token\" ] || exit 1\n"
                          "echo run >> {}\n"
                          "exec node {}/tests/support/token_server.mjs --print-cli-token {}\n",
                          certs_->Sub("az-runs"), FERRY_SOURCE_DIR, kTenant));
    ::chmod(certs_->Sub("bin/az").c_str(), 0755);
    AzuriteOptions options;
    options.cert_pem = certs_->Sub("server.pem");
    options.key_pem = certs_->Sub("server.key");
    options.oauth = true;
    azurite_https_ = Azurite::Start(options).release();
  }
  static void TearDownTestSuite() {
    delete azurite_https_;
    delete certs_;
  }

  void SetUp() override {
    MigrationFixture::SetUp();
    azurite_ = azurite_https_;
    target_ = azurite_->ContainerUrl(container_, "share");
    // No key or SAS: only Entra ID can sign in. The CA file is the test's own.
    env_ = {{"SSL_CERT_FILE", certs_->Sub("server.pem")}};
  }

  std::map<std::string, std::optional<std::string>> ServicePrincipal(const TokenServer& server) {
    return {{"AZURE_TENANT_ID", kTenant},
            {"AZURE_CLIENT_ID", kClient},
            {"AZURE_AUTHORITY_HOST", server.Authority()}};
  }

  // init, copy, sync and verify with the environment set; the target checked independently;
  // init's and check's output name the credential.
  void MigrateWith(const std::string& says) {
    AddFile("a.txt", "signed in");
    AddFile("dir/b.bin", std::string(300'000, 'b'));
    auto init = Ferry({"init", Mig(), "--source", Src(), "--target", target_});
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    EXPECT_NE(init.out.find(says), std::string::npos) << init.out;
    auto copy = Ferry({"copy", Mig(), "--log-level", "debug"});  // debug logs hold no token
    ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
    AddFile("c.txt", "after the copy");
    auto sync = Ferry({"sync", Mig()});
    ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
    auto verify = Ferry({"verify", Mig()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    auto check = Ferry({"check", target_});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("credential: " + says), std::string::npos) << check.out;
    VerifyTarget();
    for (const auto& r : {init, copy, sync, verify, check}) ExpectNoSecretIn(r.out + r.err);
    ExpectNoSecretInFolder(Mig());
  }

  void Set(const std::map<std::string, std::optional<std::string>>& vars) {
    for (const auto& [name, value] : vars) env_[name] = value;
  }

  static void ExpectNoSecretIn(const std::string& text) {
    EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
    EXPECT_EQ(text.find(kFederated), std::string::npos) << text;
    EXPECT_EQ(text.find("eyJhbGci"), std::string::npos) << "a token: " << text;  // {"alg"
  }
  static void ExpectNoSecretInFolder(const std::string& folder) {
    for (const auto& f : std::filesystem::recursive_directory_iterator(folder)) {
      if (!f.is_regular_file()) continue;
      std::string bytes = ReadFile(f.path().string());
      EXPECT_EQ(bytes.find(kSecret), std::string::npos) << f.path();
      EXPECT_EQ(bytes.find("eyJhbGci"), std::string::npos) << "a token in " << f.path();
    }
  }

  static TempDir* certs_;
  static Azurite* azurite_https_;
};
TempDir* EntraIdTest::certs_ = nullptr;
Azurite* EntraIdTest::azurite_https_ = nullptr;

TEST_F(EntraIdTest, AServicePrincipalWithASecret) {
  TokenServer server(certs_->path());
  Set(ServicePrincipal(server));
  env_["AZURE_CLIENT_SECRET"] = kSecret;
  MigrateWith(fmt::format("Entra ID: service principal {} (client secret)", kClient));
  nlohmann::json stats = server.Stop();
  EXPECT_GE(stats["issued"].value("secret", 0), 5) << stats.dump();  // one per process
  for (const auto& r : stats["requests"])
    EXPECT_EQ(r["scope"], "https://storage.azure.com/.default");
}

TEST_F(EntraIdTest, AServicePrincipalWithACertificate) {
  TokenServer server(certs_->path());
  Set(ServicePrincipal(server));
  env_["AZURE_CLIENT_CERTIFICATE_PATH"] = certs_->Sub("client.pem");
  MigrateWith(fmt::format("Entra ID: service principal {} (certificate)", kClient));
  EXPECT_GE(server.Stop()["issued"].value("certificate", 0), 5);
}

TEST_F(EntraIdTest, WorkloadIdentity) {
  TokenServer server(certs_->path());
  Set(ServicePrincipal(server));
  env_["AZURE_FEDERATED_TOKEN_FILE"] = certs_->Sub("federated");
  MigrateWith(fmt::format("Entra ID: workload identity {}", kClient));
  EXPECT_GE(server.Stop()["issued"].value("workload", 0), 5);
}

TEST_F(EntraIdTest, AManagedIdentityFoundByTheDefaultChain) {
  TokenServer server(certs_->path());
  env_["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = server.Plain();  // where IMDS is, here
  MigrateWith("Entra ID: managed identity (system-assigned, IMDS)");
  EXPECT_GE(server.Stop()["issued"].value("imds", 0), 5);
}

TEST_F(EntraIdTest, AUserAssignedIdentityOnAppService) {
  TokenServer server(certs_->path());
  env_["IDENTITY_ENDPOINT"] = server.Plain() + "/msi/token";
  env_["IDENTITY_HEADER"] = "test-identity-header";
  env_["AZURE_CLIENT_ID"] = kClient;
  env_["FERRY_AUTH"] = "managed-identity";
  MigrateWith(fmt::format("Entra ID: managed identity (user-assigned {}, App Service)", kClient));
  nlohmann::json stats = server.Stop();
  EXPECT_GE(stats["issued"].value("app-service", 0), 5);
  for (const auto& r : stats["requests"]) EXPECT_EQ(r["client_id"], kClient);
}

TEST_F(EntraIdTest, TheAzureCli) {
  env_["PATH"] = certs_->Sub("bin") + ":" + std::string(std::getenv("PATH"));
  MigrateWith("Entra ID: Azure CLI");
  EXPECT_GE(Lines(ReadFile(certs_->Sub("az-runs"))), 5);
}

TEST_F(EntraIdTest, ATokenThatExpiresMidCopyIsRenewedWithNoFailedItem) {
  TokenServer server(certs_->path(), {"--lifetime", "4"});  // renewed 2 s before it expires
  Set(ServicePrincipal(server));
  env_["AZURE_CLIENT_SECRET"] = kSecret;
  for (int i = 0; i < 24; ++i) AddFile(fmt::format("f{:02}.bin", i), std::string(100'000, 'x'));
  Init();
  // About 2.4 MB at 256 KiB/s: some ten seconds, several token lifetimes.
  auto copy = Ferry({"copy", Mig(), "--max-bandwidth", "256KiB/s", "--concurrency", "2"});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  nlohmann::json status = Status();
  EXPECT_EQ(status["states"]["copied"]["items"], 24) << status.dump();
  EXPECT_FALSE(status["states"].contains("failed") && status["states"]["failed"]["items"] != 0)
      << status.dump();
  VerifyTarget();
  EXPECT_GE(server.Stop()["issued"].value("secret", 0), 3) << "renewed during the copy";
}

TEST_F(EntraIdTest, TokenAndStorageRequestsGoThroughHttpsProxy) {
  TokenServer server(certs_->path());
  Set(ServicePrincipal(server));
  env_["AZURE_CLIENT_SECRET"] = kSecret;
  TempDir proxy_dir;
  BackgroundProcess proxy({"node",
                           std::string(FERRY_SOURCE_DIR) + "/tests/support/connect_proxy.mjs",
                           proxy_dir.Sub("stats.json")});
  ASSERT_TRUE(proxy.WaitForOutput("port", 20'000)) << proxy.Wait().err;
  int port = nlohmann::json::parse(proxy.OutputSoFar())["port"];
  env_["HTTPS_PROXY"] = fmt::format("http://127.0.0.1:{}", port);
  auto check = Ferry({"check", target_, "--write"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  proxy.Kill(SIGTERM);
  proxy.Wait();
  nlohmann::json connects =
      nlohmann::json::parse(ReadFile(proxy_dir.Sub("stats.json")))["connects"];
  std::set<std::string> hosts(connects.begin(), connects.end());
  EXPECT_TRUE(hosts.contains(server.Authority().substr(8))) << connects.dump();
  EXPECT_TRUE(hosts.contains(fmt::format("127.0.0.1:{}", azurite_->port()))) << connects.dump();
  // NO_PROXY takes a host out.
  BackgroundProcess bypassed({"node",
                              std::string(FERRY_SOURCE_DIR) + "/tests/support/connect_proxy.mjs",
                              proxy_dir.Sub("bypassed.json")});
  ASSERT_TRUE(bypassed.WaitForOutput("port", 20'000));
  port = nlohmann::json::parse(bypassed.OutputSoFar())["port"];
  env_["HTTPS_PROXY"] = fmt::format("http://127.0.0.1:{}", port);
  env_["NO_PROXY"] = "127.0.0.1";
  EXPECT_EQ(Ferry({"check", target_}).exit_code, 0);
  bypassed.Kill(SIGTERM);
  bypassed.Wait();
  EXPECT_TRUE(nlohmann::json::parse(ReadFile(proxy_dir.Sub("bypassed.json")))["connects"].empty());
}

TEST_F(EntraIdTest, ABadSignInFailsWithOneClearLine) {
  {
    TokenServer server(certs_->path());
    Set(ServicePrincipal(server));
    env_["AZURE_CLIENT_SECRET"] = "wrong";
    auto r = Ferry({"check", target_});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("Invalid client secret"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("wrong"), std::string::npos) << "the secret is not repeated: " << r.err;
  }
  {
    TokenServer server(certs_->path(), {"--audience", "https://management.azure.com"});
    Set(ServicePrincipal(server));
    env_["AZURE_CLIENT_SECRET"] = kSecret;
    auto r = Ferry({"check", target_});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("audience"), std::string::npos) << r.err;
    ExpectNoSecretIn(r.err);
  }
  {  // a federated token the authority does not accept (expired, say)
    TokenServer server(certs_->path());
    Set(ServicePrincipal(server));
    env_.erase("AZURE_CLIENT_SECRET");
    WriteFile(dir_.Sub("stale"), "an-expired-federated-token");
    env_["AZURE_FEDERATED_TOKEN_FILE"] = dir_.Sub("stale");
    auto r = Ferry({"check", target_});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("Entra ID refused the sign-in: AADSTS"), std::string::npos) << r.err;
  }
  // Tokens go only over https.
  env_ = {
      {"AZURE_TENANT_ID", kTenant}, {"AZURE_CLIENT_ID", kClient}, {"AZURE_CLIENT_SECRET", kSecret}};
  auto http = Ferry({"check", Azurite::Global().ContainerUrl(container_)});
  EXPECT_EQ(http.exit_code, 2) << http.out << http.err;
  EXPECT_NE(http.err.find("only over https"), std::string::npos) << http.err;
  // Nothing set up at all: every way to sign in is named.
  env_ = {};
  auto none = Ferry({"check", target_});
  EXPECT_EQ(none.exit_code, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("az login"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace ferry::testing
