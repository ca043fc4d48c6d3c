#include "storage/azure_endpoint.h"

#include <gtest/gtest.h>

#include <map>

#include "storage/endpoint.h"

namespace ferry::storage {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ParseAzureUrl, HostStyleWithPrefixAndSas) {
  auto ep = ParseAzureUrl(
      "https://myacct.blob.core.windows.net/backup/share%201/dept?sv=2024-11-04&sig=abc%2B");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->scheme, "https");
  EXPECT_EQ(ep->account, "myacct");
  EXPECT_EQ(ep->container, "backup");
  EXPECT_EQ(ep->prefix, "share 1/dept");
  EXPECT_FALSE(ep->path_style);
  EXPECT_EQ(ep->ServiceUrl(), "https://myacct.blob.core.windows.net");
  EXPECT_EQ(ep->sas, "sv=2024-11-04&sig=abc%2B");
  EXPECT_EQ(
      ep->Redacted(),
      "https://myacct.blob.core.windows.net/backup/share%201/dept?sv=2024-11-04&sig=REDACTED");
}

TEST(ParseAzureUrl, PathStyleForEmulators) {
  auto ep = ParseAzureUrl("http://127.0.0.1:10000/devstoreaccount1/data/");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_TRUE(ep->path_style);
  EXPECT_EQ(ep->authority, "127.0.0.1:10000");
  EXPECT_EQ(ep->account, "devstoreaccount1");
  EXPECT_EQ(ep->container, "data");
  EXPECT_EQ(ep->prefix, "");
  EXPECT_EQ(ep->ServiceUrl(), "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_TRUE(ParseAzureUrl("http://localhost:10000/devstoreaccount1/data/a/b").ok());
}

TEST(ParseAzureUrl, TheAccountIsTheHostsFirstLabelInLowerCase) {
  for (const char* url : {"https://MyAcct.blob.core.windows.net/data",
                          "https://myacct.privatelink.blob.core.windows.net/data",
                          "https://myacct.z12.blob.storage.azure.net/data"}) {
    auto ep = ParseAzureUrl(url);
    ASSERT_TRUE(ep.ok()) << url << ": " << ep.status().ToString();
    EXPECT_EQ(ep->account, "myacct") << url;
  }
}

TEST(ParseAzureUrl, RejectsMalformedUrlsWithAHint) {
  const std::pair<const char*, const char*> cases[] = {
      {"myacct.blob.core.windows.net/data", "not a URL"},
      {"ftp://myacct.blob.core.windows.net/data", "unsupported scheme"},
      {"https://myacct.blob.core.windows.net", "no container"},
      {"https://myacct.blob.core.windows.net/", "no container"},
      {"https://myacct.blob.core.windows.net/Bad_Name", "not a valid container name"},
      {"https://myacct.blob.core.windows.net/ab", "not a valid container name"},
      {"https://example.com/c", "cannot tell the storage account"},
      {"http://127.0.0.1:10000/devstoreaccount1", "no container"},
      {"http://127.0.0.1:10000/", "no storage account"},
      {"https://", "no host"},
      {"https://user:pw@myacct.blob.core.windows.net/data", "credentials do not belong"},
      {"https://myacct.blob.core.windows.net/data/a%zz", "percent-escape"},
      {"https://myacct.blob.core.windows.net/scratch/../data/a", "'..' are not allowed"},
      {"https://myacct.blob.core.windows.net/data/./a", "'..' are not allowed"},
      {"https://myacct.blob.core.windows.net/data/a/%2E%2e/b", "'..' are not allowed"},
      {"http://127.0.0.1:10000/devstoreaccount1/x/../data", "'..' are not allowed"},
  };
  for (const auto& [url, message] : cases) {
    auto ep = ParseAzureUrl(url);
    ASSERT_FALSE(ep.ok()) << url;
    EXPECT_EQ(ep.status().code(), Code::kInvalidInput) << url;
    EXPECT_NE(ep.status().message().find(message), std::string::npos)
        << url << " -> " << ep.status().message();
  }
}

TEST(ContainerName, FollowsTheServiceRules) {
  for (const std::string& good :
       std::vector<std::string>{"abc", "a-b-c", "0backup", std::string(63, 'a')}) {
    EXPECT_TRUE(IsValidContainerName(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"ab", "-abc", "abc-", "a--b", "ABC", "a_b", std::string(64, 'a')}) {
    EXPECT_FALSE(IsValidContainerName(bad)) << bad;
  }
}

TEST(ParseConnectionString, ExplicitAccountAndKey) {
  auto cs = ParseConnectionString(
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows."
      "net");
  ASSERT_TRUE(cs.ok()) << cs.status().ToString();
  EXPECT_EQ(cs->account, "acct");
  EXPECT_EQ(cs->key, "a2V5");
  EXPECT_EQ(cs->blob_endpoint, "https://acct.blob.core.windows.net");
}

TEST(ParseConnectionString, DevelopmentStorageAndCustomEndpoint) {
  auto dev = ParseConnectionString("UseDevelopmentStorage=true");
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(dev->account, "devstoreaccount1");
  EXPECT_EQ(dev->key, kDevStoreKey);
  EXPECT_EQ(dev->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");

  auto custom = ParseConnectionString(
      "AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:4321/"
      "devstoreaccount1/;");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ(custom->blob_endpoint, "http://127.0.0.1:4321/devstoreaccount1");

  auto sas = ParseConnectionString(
      "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x");
  ASSERT_TRUE(sas.ok()) << sas.status().ToString();
  EXPECT_EQ(sas->account, "acct");
  EXPECT_EQ(sas->sas, "sv=1&sig=x");
}

TEST(ParseConnectionString, RejectsBadOnes) {
  for (const char* bad :
       {"", "AccountName=a", "AccountName=a;AccountKey=!!!", "garbage", "=x;AccountKey=a2V5"}) {
    auto cs = ParseConnectionString(bad);
    EXPECT_FALSE(cs.ok()) << bad;
    EXPECT_EQ(cs.status().code(), Code::kInvalidInput) << bad;
  }
}

TEST(ResolveCredentials, PrefersUrlSasThenConnectionStringThenAccountKey) {
  auto with_sas = *ParseAzureUrl("https://acct.blob.core.windows.net/data?sv=1&sig=s");
  auto plain = *ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto env = FakeEnv({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;AccountKey=Y3M="},
                      {"AZURE_STORAGE_ACCOUNT", "acct"},
                      {"AZURE_STORAGE_KEY", "ZW52"}});
  EXPECT_EQ(ResolveCredentials(with_sas, env)->sas, "sv=1&sig=s");
  EXPECT_EQ(ResolveCredentials(plain, env)->key, "cs");
  auto key_only = FakeEnv({{"AZURE_STORAGE_ACCOUNT", "acct"}, {"AZURE_STORAGE_KEY", "ZW52"}});
  EXPECT_EQ(ResolveCredentials(plain, key_only)->key, "env");
}

TEST(ResolveCredentials, ExplainsWhatIsMissingOrMismatched) {
  auto plain = *ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto none = ResolveCredentials(plain, FakeEnv({}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);  // Entra ID may sign in (ChooseCredentials)

  auto other = ResolveCredentials(
      plain, FakeEnv({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=other;AccountKey=Y3M="}}));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("'other'"), std::string::npos);

  auto bad_key = ResolveCredentials(plain, FakeEnv({{"AZURE_STORAGE_KEY", "not base64!"}}));
  EXPECT_FALSE(bad_key.ok());

  auto not_sas = *ParseAzureUrl("https://acct.blob.core.windows.net/data?foo=bar");
  EXPECT_FALSE(ResolveCredentials(not_sas, FakeEnv({})).ok());
}

TEST(ParseEndpoint, LocalPathsFileUrlsAndUnsupportedSchemes) {
  auto abs = ParseEndpoint("/data/share/");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->type, EndpointType::kLocal);
  EXPECT_EQ(abs->local_root, "/data/share");
  auto file = ParseEndpoint("file:///data/my%20share");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->local_root, "/data/my share");
  auto rel = ParseEndpoint("relative/dir");
  ASSERT_TRUE(rel.ok());
  EXPECT_TRUE(rel->local_root.starts_with("/"));
  EXPECT_TRUE(rel->local_root.ends_with("/relative/dir"));

  auto s3 = ParseEndpoint("s3://bucket/key/");
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->type, EndpointType::kS3);
  EXPECT_EQ(s3->s3_url, "s3://bucket/key");
  auto gs = ParseEndpoint("gs://bucket/key");
  ASSERT_FALSE(gs.ok());
  EXPECT_NE(gs.status().message().find("unsupported scheme 'gs://'"), std::string::npos);
  EXPECT_NE(gs.status().message().find("s3://"), std::string::npos) << "names what works";
  EXPECT_FALSE(ParseEndpoint("").ok());
  EXPECT_FALSE(ParseEndpoint("file://relative").ok());
  EXPECT_EQ(ParseEndpoint("https://acct.blob.core.windows.net/data")->type,
            EndpointType::kAzureBlob);
}

TEST(SasExpiry, ReadsTheSeFieldInEveryFormAzureWrites) {
  EXPECT_EQ(SasExpiry("sv=2025-11-05&se=2026-11-24T21%3A00%3A00Z&sig=x"), 1795554000);
  EXPECT_EQ(SasExpiry("se=2026-11-24T21:00:00Z"), 1795554000);
  EXPECT_EQ(SasExpiry("se=2026-11-24T21:00:00.1234567Z"), 1795554000);
  EXPECT_EQ(SasExpiry("se=2026-11-24T21:00Z"), 1795554000);
  EXPECT_EQ(SasExpiry("se=2026-11-24"), 1795478400);
  EXPECT_EQ(SasExpiry("sv=1&sig=x"), std::nullopt) << "no expiry: the service decides";
  EXPECT_EQ(SasExpiry(""), std::nullopt);
  EXPECT_EQ(SasExpiry("se=tomorrow"), std::nullopt);
  EXPECT_EQ(SasExpiry("se=2026-13-01"), std::nullopt);
  EXPECT_EQ(SasExpiry("se=%zz"), std::nullopt);
}

TEST(OpenStore, AnExpiredSasIsRefusedBeforeAnyRequest) {
  auto spec = ParseEndpoint(
      "http://127.0.0.1:1/devstoreaccount1/"
      "cont?sv=2025-11-05&se=2020-01-01T00%3A00%3A00Z&sp=r&sig=s");
  ASSERT_TRUE(spec.ok());
  auto store = OpenStore(*spec, FakeEnv({}));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kAuth);
  EXPECT_NE(store.status().message().find("expired at 2020-01-01 00:00:00 UTC"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(store.status().message().find("sig=s"), std::string::npos) << "never the signature";
}

}  // namespace
}  // namespace ferry::storage
