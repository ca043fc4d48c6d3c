// Credentials never leave the environment: not on stdout or stderr, not in the catalog, the
// event log or a report, whatever command runs.
#include <gtest/gtest.h>

#include "storage/azure_endpoint.h"
#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using SecretsTest = MigrationFixture;

// Every form in which a secret could leak: as given, percent-decoded, base64-decoded.
std::vector<std::string> Forms(const std::string& secret) {
  std::vector<std::string> forms{secret};
  if (auto decoded = PercentDecode(secret); decoded && *decoded != secret)
    forms.push_back(*decoded);
  return forms;
}

void ExpectAbsent(const std::string& where, const std::string& text,
                  const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    EXPECT_EQ(text.find(secret), std::string::npos) << "a secret appears in " << where;
  }
}

TEST_F(SecretsTest, NoCommandWritesTheSasSignatureOrTheAccountKeyAnywhere) {
  AddFile("a/one.txt", "one");
  AddFile("two.txt", "two");
  std::string sas = RunChecker(Azurite::Global(), {"sas", container_})["sas"];
  size_t sig_at = sas.find("sig=");
  ASSERT_NE(sig_at, std::string::npos);
  std::string sig = sas.substr(sig_at + 4, sas.find('&', sig_at) - sig_at - 4);
  std::vector<std::string> secrets = Forms(sig);
  secrets.push_back(std::string(storage::kDevStoreKey));
  // A container SAS cannot create the container: it exists already, as on a real account.
  RunChecker(Azurite::Global(), {"put", container_, "outside-the-prefix.txt", "x"});

  std::string sas_url = target_ + "?" + sas;
  std::map<std::string, std::optional<std::string>> sas_env{{"AZURE_STORAGE_SAS_TOKEN", sas},
                                                            {"FERRY_LOG_LEVEL", "debug"}};
  std::map<std::string, std::optional<std::string>> key_env{
      {"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
      {"AZURE_STORAGE_KEY", std::string(storage::kDevStoreKey)},
      {"FERRY_LOG_LEVEL", "debug"}};
  std::string report = dir_.Sub("report.html");
  const std::vector<
      std::pair<std::vector<std::string>, std::map<std::string, std::optional<std::string>>>>
      runs = {
          {{"check", "--write", sas_url}, {}},
          {{"init", Mig(), "--source", Src(), "--target", sas_url}, {}},
          {{"scan", Mig(), "--json"}, sas_env},
          {{"trial", Mig(), "--sample", "50%", "--cleanup"}, sas_env},
          {{"copy", Mig()}, sas_env},
          {{"sync", Mig(), "--dry-run"}, sas_env},
          {{"sync", Mig()}, key_env},
          {{"verify", Mig(), "--deep", "--json"}, key_env},
          {{"status", Mig(), "--json"}, key_env},
          {{"errors", Mig()}, key_env},
          {{"log", Mig(), "--json"}, key_env},
          {{"log", Mig(), "--check"}, key_env},
          {{"report", Mig(), "--html", report, "--json"}, key_env},
          {{"cutover", Mig(), "--quiet-window", "100ms", "--dry-run"}, sas_env},
          {{"copy", Mig()},
           {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
            {"AZURE_STORAGE_KEY", "d3Jvbmcga2V5IHRoYXQgbXVzdCBub3QgbGVhaw=="}}},
      };
  for (const auto& [args, env] : runs) {
    auto r = RunFerry(args, env);
    std::string what = ::testing::PrintToString(args);
    ExpectAbsent(what + " stdout", r.out, secrets);
    ExpectAbsent(what + " stderr", r.err, secrets);
    ExpectAbsent(what + " stderr", r.err, {"d3Jvbmcga2V5IHRoYXQgbXVzdCBub3QgbGVhaw=="});
    if (args[0] == "init" || args[0] == "check") {
      EXPECT_EQ(r.exit_code, 0) << what << r.err;
      EXPECT_NE(r.out.find("sig=REDACTED"), std::string::npos) << what << ": " << r.out;
    }
  }
  EXPECT_EQ(Status()["states"]["copied"]["items"], 3) << "the runs did their work";
  for (const char* file : {"catalog.db", "catalog.db-wal", "lock"}) {
    ExpectAbsent(file, ReadFile(Mig() + "/" + file), secrets);
  }
  ExpectAbsent("report.html", ReadFile(report), secrets);
}

TEST_F(SecretsTest, NoErrorMessageShowsASignature) {
  const std::string sig = "sig=UniqueSignature0123456789";
  const std::string endpoint = Azurite::Global().BlobEndpoint();  // http://127.0.0.1:PORT/acct
  const std::string host = endpoint.substr(0, endpoint.rfind('/'));
  ::mkdir(Src().c_str(), 0755);
  const std::vector<std::vector<std::string>> runs = {
      {"check", "--write", host + "/?sv=x&" + sig},                            // no account
      {"check", endpoint + "/c?sv=x&" + sig},                                  // bad container
      {"check", endpoint + "/" + container_ + "?sv=2024-01-01&sp=r&" + sig},   // refused
      {"check", "--write", "http://127.0.0.1:1/devstoreaccount1/box?" + sig},  // unreachable
      {"check", "ftp://example/x?" + sig},                                     // unknown scheme
      {"init", Mig(), "--source", Src(), "--target", host + "/?" + sig},
      {"init", Mig(), "--source", endpoint + "/" + container_ + "?" + sig, "--target", target_},
      {"init", Mig(), "--source", Src(), "--target", endpoint + "/" + container_ + "?sv=x&" + sig},
  };
  for (const auto& args : runs) {
    auto r = RunFerry(args, {});
    std::string what = ::testing::PrintToString(args);
    EXPECT_NE(r.exit_code, 0) << what;
    EXPECT_EQ((r.out + r.err).find("UniqueSignature"), std::string::npos) << what << r.out << r.err;
  }

  // A migration whose SAS is refused by the service: every command fails, and says why, and
  // neither its output nor the catalog nor the report holds the signature.
  AddFile("a.txt", "a");
  RunChecker(Azurite::Global(), {"put", container_, "outside-the-prefix.txt", "x"});
  std::string good = RunChecker(Azurite::Global(), {"sas", container_})["sas"];
  target_ += "?" + good;  // set up with a SAS that works
  Init();
  std::map<std::string, std::optional<std::string>> bad_sas{
      {"AZURE_STORAGE_CONNECTION_STRING", std::nullopt},
      {"AZURE_STORAGE_SAS_TOKEN",
       "sv=2024-08-04&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&" + sig},
      {"FERRY_LOG_LEVEL", "debug"}};
  std::string report = dir_.Sub("report.html");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"copy", Mig()},
        {"sync", Mig()},
        {"verify", Mig(), "--deep"},
        {"trial", Mig(), "--sample", "100%", "--cleanup"},
        {"cutover", Mig(), "--quiet-window", "100ms", "--yes"},
        {"resolve", Mig(), "a.txt", "--keep-target"},
        {"status", Mig(), "--json"},
        {"errors", Mig(), "--json"},
        {"log", Mig(), "--json"},
        {"report", Mig(), "--html", report}}) {
    auto r = RunFerry(args, bad_sas);
    std::string what = ::testing::PrintToString(args);
    EXPECT_EQ((r.out + r.err).find("UniqueSignature"), std::string::npos) << what << r.out << r.err;
  }
  for (const char* file : {"catalog.db", "catalog.db-wal"}) {
    EXPECT_EQ(ReadFile(Mig() + "/" + file).find("UniqueSignature"), std::string::npos) << file;
  }
  EXPECT_EQ(ReadFile(report).find("UniqueSignature"), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing
