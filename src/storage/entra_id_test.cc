#include "storage/entra_id.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <span>

#include "storage/endpoint.h"
#include "support/fake_clock.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

using storage::AccessToken;
using storage::TokenCache;

constexpr int64_t kStart = 1'800'000'000;  // FakeClock's epoch

// Hands out numbered tokens, each living `life` seconds from the clock's now.
class CountingCredential : public storage::TokenCredential {
 public:
  CountingCredential(std::shared_ptr<FakeClock> clock, int64_t life)
      : clock_(std::move(clock)), life_(life) {}
  Result<AccessToken> Fetch() override {
    ++fetched;
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
    return AccessToken{"token-" + std::to_string(fetched), now + life_};
  }
  std::string Describe() const override { return "counting"; }
  int fetched = 0;

 private:
  std::shared_ptr<FakeClock> clock_;
  int64_t life_;
};

TEST(TokenCache, RenewsFiveMinutesBeforeExpiryOrAtHalfLifeForShortTokens) {
  auto clock = std::make_shared<FakeClock>();
  auto hour = std::make_shared<CountingCredential>(clock, 3600);
  TokenCache cache(hour, clock);
  EXPECT_EQ(*cache.Token(), "token-1");
  clock->Advance(std::chrono::seconds(3600 - 301));
  EXPECT_EQ(*cache.Token(), "token-1");
  clock->Advance(std::chrono::seconds(2));  // inside the last five minutes
  EXPECT_EQ(*cache.Token(), "token-2");

  auto brief = std::make_shared<CountingCredential>(clock, 60);
  TokenCache short_cache(brief, clock);
  EXPECT_EQ(*short_cache.Token(), "token-1");
  clock->Advance(std::chrono::seconds(29));
  EXPECT_EQ(*short_cache.Token(), "token-1");
  clock->Advance(std::chrono::seconds(2));
  EXPECT_EQ(*short_cache.Token(), "token-2");
}

TEST(TokenCache, ARefreshRightAfterAnotherTakesThatOne) {
  auto clock = std::make_shared<FakeClock>();
  auto credential = std::make_shared<CountingCredential>(clock, 3600);
  TokenCache cache(credential, clock);
  EXPECT_EQ(*cache.Token(), "token-1");
  clock->Advance(std::chrono::seconds(60));
  EXPECT_EQ(*cache.Token(/*refresh=*/true), "token-2");
  // Many requests that went out with token-1 come back 401 at once: one fetch serves them.
  EXPECT_EQ(*cache.Token(/*refresh=*/true), "token-2");
  EXPECT_EQ(credential->fetched, 2);
}

// Answers 401 to any token but the `accepted` one.
class TokenCheckingTransport : public http::Transport {
 public:
  Result<http::Response> Send(const http::Request& request) override {
    seen.emplace_back(request.headers.Get("Authorization").value_or(""));
    http::Response response;
    response.status = seen.back() == "Bearer " + accepted ? 200 : 401;
    return response;
  }
  std::string accepted;
  std::vector<std::string> seen;
};

TEST(BearerTokenPolicy, A401GetsOneNewTokenAndOneRetry) {
  auto clock = std::make_shared<FakeClock>();
  auto credential = std::make_shared<CountingCredential>(clock, 3600);
  auto cache = std::make_shared<TokenCache>(credential, clock);
  storage::BearerTokenPolicy policy(cache);
  TokenCheckingTransport transport;
  http::NextPolicy next(std::span<const std::shared_ptr<http::Policy>>{}, transport);

  transport.accepted = "token-1";
  http::Request request;
  EXPECT_EQ(policy.Send(request, next)->status, 200);
  clock->Advance(std::chrono::seconds(10));
  transport.accepted = "token-2";  // token-1 revoked (or the clocks disagree)
  EXPECT_EQ(policy.Send(request, next)->status, 200);
  EXPECT_EQ(transport.seen,
            (std::vector<std::string>{"Bearer token-1", "Bearer token-1", "Bearer token-2"}));
  clock->Advance(std::chrono::seconds(10));
  transport.accepted = "never";
  EXPECT_EQ(policy.Send(request, next)->status, 401);  // once more, then the 401 stands
  EXPECT_EQ(transport.seen.size(), 5u);
}

TEST(TokenExpiry, ReadsEveryFormTheEndpointsUse) {
  EXPECT_EQ(storage::TokenExpiry(R"({"expires_in": 3599})", kStart), kStart + 3599);
  // Relative first (whatever the clocks' skew), as IMDS sends both.
  EXPECT_EQ(storage::TokenExpiry(R"({"expires_on": "1900000000", "expires_in": "3600"})", kStart),
            kStart + 3600);
  EXPECT_EQ(storage::TokenExpiry(R"({"expires_on": 1800003600})", 0), 1'800'003'600);
  std::tm tm{};
  tm.tm_year = 2027 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 2;
  tm.tm_hour = 3;
  tm.tm_min = 4;
  tm.tm_sec = 5;
  tm.tm_isdst = -1;
  EXPECT_EQ(storage::TokenExpiry(R"({"expiresOn": "2027-01-02 03:04:05.123456"})", 0),
            int64_t(std::mktime(&tm)));
  EXPECT_FALSE(storage::TokenExpiry(R"({"access_token": "x"})", 0));
  EXPECT_FALSE(storage::TokenExpiry("not json", 0));
}

storage::EnvLookup Env(std::map<std::string, std::string> vars) {
  // Never the real IMDS: a closed local port.
  vars.try_emplace("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
  vars.try_emplace("PATH", "/nonexistent");
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ChooseCredentials, SaysEveryWayToSignInWhenNoneIsSetUp) {
  auto endpoint = *storage::ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto none = storage::ChooseCredentials(endpoint, Env({}), {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kInvalidInput);
  for (const char* hint : {"AZURE_CLIENT_SECRET", "managed identity", "az login",
                           "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN"}) {
    EXPECT_NE(none.status().message().find(hint), std::string::npos) << none.status().message();
  }
  // Every variable the message names is explained in the README section it points to.
  const std::string readme = ReadFile(std::string(FERRY_SOURCE_DIR) + "/README.md");
  const std::string message = none.status().message();
  ASSERT_NE(message.find("\"Signing in to Azure\""), std::string::npos) << message;
  const size_t section = readme.find("### Signing in to Azure");
  ASSERT_NE(section, std::string::npos);
  const std::string explained = readme.substr(section, readme.find("\n#", section + 1) - section);
  std::regex variable("[A-Z][A-Z0-9]*_[A-Z0-9_]+");
  int named = 0;
  for (auto it = std::sregex_iterator(message.begin(), message.end(), variable);
       it != std::sregex_iterator(); ++it, ++named) {
    EXPECT_NE(explained.find(it->str()), std::string::npos) << it->str() << " is not in the README";
  }
  EXPECT_GE(named, 5);
}

TEST(ChooseCredentials, TakesTheKindAskedForAndTheKeyBeforeEntraIdOtherwise) {
  auto endpoint = *storage::ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto both = Env({{"AZURE_STORAGE_KEY", "a2V5"},
                   {"AZURE_TENANT_ID", "t"},
                   {"AZURE_CLIENT_ID", "c"},
                   {"AZURE_CLIENT_SECRET", "s"}});
  storage::AzureBlobOptions options;
  auto key = storage::ChooseCredentials(endpoint, both, options);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->source, "AZURE_STORAGE_KEY");
  EXPECT_EQ(key->entra, nullptr);
  options.auth = "env";
  auto sp = storage::ChooseCredentials(endpoint, both, options);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  EXPECT_EQ(sp->source, "Entra ID: service principal c (client secret)");
  EXPECT_TRUE(sp->key.empty());

  options.auth = "sas";
  auto no_sas = storage::ChooseCredentials(endpoint, both, options);
  ASSERT_FALSE(no_sas.ok());
  EXPECT_NE(no_sas.status().message().find("no SAS"), std::string::npos);
  options.auth = "workload";
  auto no_file = storage::ChooseCredentials(endpoint, both, options);
  ASSERT_FALSE(no_file.ok());
  EXPECT_NE(no_file.status().message().find("AZURE_FEDERATED_TOKEN_FILE"), std::string::npos);
  options.auth = "env";
  auto half = storage::ChooseCredentials(endpoint, Env({{"AZURE_CLIENT_SECRET", "s"}}), options);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("AZURE_TENANT_ID"), std::string::npos);
  EXPECT_EQ(half.status().message().find("\"s\""), std::string::npos);
}

TEST(ChooseCredentials, SendsTokensOnlyOverHttpsAndOnlyToAnHttpsAuthority) {
  auto sp = Env({{"AZURE_TENANT_ID", "t"}, {"AZURE_CLIENT_ID", "c"}, {"AZURE_CLIENT_SECRET", "s"}});
  auto plain = *storage::ParseAzureUrl("http://127.0.0.1:10000/devstoreaccount1/data");
  auto refused = storage::ChooseCredentials(plain, sp, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("only over https"), std::string::npos);

  auto endpoint = *storage::ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto http_authority = Env({{"AZURE_TENANT_ID", "t"},
                             {"AZURE_CLIENT_ID", "c"},
                             {"AZURE_CLIENT_SECRET", "s"},
                             {"AZURE_AUTHORITY_HOST", "http://login.example"}});
  auto bad = storage::ChooseCredentials(endpoint, http_authority, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("AZURE_AUTHORITY_HOST"), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

TEST(BlobError, APermissionMismatchNamesTheRoleToGrant) {
  http::Response response;
  response.status = 403;
  response.headers.Set("x-ms-error-code", "AuthorizationPermissionMismatch");
  response.body =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch"
      "</Code><Message>This request is not authorized to perform this operation using this "
      "permission.</Message></Error>";
  Status st = storage::BlobError(response, "write 'a.txt'", {});
  EXPECT_EQ(st.code(), Code::kAuth);
  EXPECT_NE(st.message().find("Storage Blob Data Contributor"), std::string::npos) << st.message();
  response.headers.Set("x-ms-error-code", "AuthenticationFailed");
  EXPECT_EQ(storage::BlobError(response, "write 'a.txt'", {}).message().find("Contributor"),
            std::string::npos);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// Azure Arc's agent, played by tests/support/token_server.mjs over loopback: its 401 names a key
// file, and the token comes for that file's content.
class ArcAgent {
 public:
  explicit ArcAgent(std::vector<std::string> extra = {}) : process_(Argv(std::move(extra))) {
    if (!process_.WaitForOutput("http_port", 20'000)) {
      throw std::runtime_error("the token server did not start: " + process_.Wait().err);
    }
    port_ = nlohmann::json::parse(process_.OutputSoFar())["http_port"];
  }
  std::string Endpoint() const { return fmt::format("http://127.0.0.1:{}/arc/token", port_); }
  std::string KeyFolder() const { return keys_.path(); }
  storage::EntraOptions Options() const {
    storage::EntraOptions options;
    options.arc_key_folder = KeyFolder();
    options.retry.max_attempts = 1;
    return options;
  }
  nlohmann::json Stop() {
    process_.Kill(SIGTERM);
    process_.Wait();
    return nlohmann::json::parse(ReadFile(stats_));
  }

 private:
  std::vector<std::string> Argv(std::vector<std::string> extra) {
    std::vector<std::string> argv{"node",
                                  std::string(FERRY_SOURCE_DIR) + "/tests/support/token_server.mjs",
                                  "--arc-key-folder",
                                  keys_.path(),
                                  "--stats",
                                  stats_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  TempDir keys_, dir_;
  std::string stats_ = dir_.Sub("stats.json");
  BackgroundProcess process_;
  int port_ = 0;
};

TEST(ArcCredential, AnswersTheAgentsChallengeWithTheKeyFileItNames) {
  ArcAgent agent;
  auto env =
      Env({{"IDENTITY_ENDPOINT", agent.Endpoint()}, {"IMDS_ENDPOINT", "http://127.0.0.1:9"}});
  for (std::string kind : {"managed-identity", "auto"}) {
    auto credential = storage::EntraCredential(kind, env, agent.Options());
    ASSERT_TRUE(credential.ok()) << credential.status().message();
    EXPECT_EQ((*credential)->Describe(), "Entra ID: managed identity (system-assigned, Azure Arc)");
    auto token = (*credential)->Fetch();
    ASSERT_TRUE(token.ok()) << kind << ": " << token.status().message();
    EXPECT_EQ(std::count(token->token.begin(), token->token.end(), '.'), 2) << token->token;
  }
  nlohmann::json stats = agent.Stop();
  EXPECT_EQ(stats["issued"]["arc"], 2) << stats.dump();
  EXPECT_EQ(stats["refused"], 0) << stats.dump();
}

TEST(ArcCredential, SendsNoFileButAKeyFileInTheAgentsFolder) {
  TempDir elsewhere;
  WriteFile(elsewhere.Sub("secret.key"), "not for the agent");
  for (std::string realm : {elsewhere.Sub("secret.key"), std::string("/etc/passwd")}) {
    ArcAgent agent({"--arc-realm", realm});
    auto env = Env({{"IDENTITY_ENDPOINT", agent.Endpoint()}, {"IMDS_ENDPOINT", "http://x"}});
    auto credential = storage::EntraCredential("managed-identity", env, agent.Options());
    ASSERT_TRUE(credential.ok());
    auto token = (*credential)->Fetch();
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.status().code(), Code::kAuth);
    EXPECT_NE(token.status().message().find("refused"), std::string::npos)
        << token.status().message();
    nlohmann::json stats = agent.Stop();  // kept: the loop reads into it
    for (const auto& request : stats["requests"]) {
      EXPECT_TRUE(request["authorization"].is_null()) << "sent " << request.dump();
    }
  }
  // A key file in the folder, but too large to be the agent's.
  TempDir folder;
  WriteFile(folder.Sub("big.key"), std::string(5000, 'k'));
  ArcAgent rogue({"--arc-realm", folder.Sub("big.key")});
  auto env = Env({{"IDENTITY_ENDPOINT", rogue.Endpoint()}, {"IMDS_ENDPOINT", "http://x"}});
  storage::EntraOptions options = rogue.Options();
  options.arc_key_folder = folder.path();
  auto token = (*storage::EntraCredential("managed-identity", env, options))->Fetch();
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("larger than 4 KiB"), std::string::npos)
      << token.status().message();
}

TEST(ArcCredential, RefusesAUserAssignedIdentityWhichArcDoesNotHave) {
  auto env = Env({{"IDENTITY_ENDPOINT", "http://127.0.0.1:9/arc/token"},
                  {"IMDS_ENDPOINT", "http://127.0.0.1:9"},
                  {"AZURE_CLIENT_ID", "0a1b2c3d-0000-4000-8000-00000000c11e"}});
  auto credential = storage::EntraCredential("managed-identity", env, {});
  ASSERT_TRUE(credential.ok());
  auto token = (*credential)->Fetch();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kInvalidInput);
  EXPECT_NE(token.status().message().find("unset AZURE_CLIENT_ID"), std::string::npos)
      << token.status().message();
}

}  // namespace
}  // namespace ferry::testing
