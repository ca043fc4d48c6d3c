// AzureBlobStore against a real Azurite; what ferry wrote is checked with Microsoft's own client.
#include "storage/azure_blob_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "support/azurite.h"
#include "support/checker.h"
#include "support/store_conformance.h"

namespace ferry::testing {
namespace {

using storage::AzureBlobOptions;
using storage::AzureBlobStore;
using storage::Condition;
using storage::WriteOptions;

std::unique_ptr<AzureBlobStore> StoreFor(const std::string& container,
                                         const std::string& prefix = "",
                                         AzureBlobOptions options = {}) {
  Azurite& azurite = Azurite::Global();
  auto endpoint = storage::ParseAzureUrl(azurite.ContainerUrl(container, prefix));
  EXPECT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  return std::make_unique<AzureBlobStore>(*endpoint, azurite.Credentials(), options);
}

std::unique_ptr<AzureBlobStore> FreshContainer(const std::string& hint,
                                               AzureBlobOptions options = {}) {
  auto store = StoreFor(UniqueContainer(hint), "", options);
  Status st = store->CreateRoot();
  EXPECT_TRUE(st.ok()) << st.ToString();
  return store;
}

// Conformance: each test gets a fresh prefix in one shared container, which also exercises
// prefix handling.
INSTANTIATE_TEST_SUITE_P(Azure, StoreConformance,
                         ::testing::Values(StoreFactory{
                             "azurite",
                             [] {
                               static std::string container = [] {
                                 auto s = FreshContainer("conformance");
                                 return s->endpoint().container;
                               }();
                               static int n = 0;
                               return std::unique_ptr<storage::Store>(
                                   StoreFor(container, "conf " + std::to_string(++n)));
                             }}),
                         [](const auto& info) { return info.param.name; });

// The read side: each fill gets a fresh prefix, written by one store and read by another that
// lists 7 blobs a page.
INSTANTIATE_TEST_SUITE_P(
    Azure, SourceConformance,
    ::testing::Values(SourceFactory{
        "azurite",
        [](const std::vector<SourceObject>& objects) {
          static std::string container = FreshContainer("source-conformance")->endpoint().container;
          static int n = 0;
          std::string prefix = "source " + std::to_string(++n);
          auto writer = StoreFor(container, prefix);
          for (const auto& o : objects) {
            WriteOptions options;
            options.content_md5 = Md5::Of(o.data);
            options.content_type = o.content_type;
            options.metadata = o.metadata;
            auto written = writer->Write(o.path, http::Body::FromString(o.data), options);
            EXPECT_TRUE(written.ok()) << o.path << ": " << written.status().ToString();
          }
          AzureBlobOptions reading;
          reading.list_page_size = 7;
          return std::unique_ptr<storage::Store>(StoreFor(container, prefix, reading));
        }}),
    [](const auto& info) { return info.param.name; });

// Bytes that are cheap to generate again for any block of a large test blob.
std::string BlockBytes(size_t size, uint64_t block) {
  std::mt19937_64 rng(block * 7919 + 1);
  std::string data(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(data.data() + i, &v, 8);
  }
  return data;
}

nlohmann::json FindBlob(const nlohmann::json& listing, const std::string& name) {
  for (const auto& blob : listing) {
    if (blob["name"] == name) return blob;
  }
  ADD_FAILURE() << "the checker does not see blob " << name;
  return nullptr;
}

TEST(AzureBlobStore, SmallBlobsRoundTripAsTheIndependentClientSeesThem) {
  auto store = FreshContainer("small");
  Azurite& azurite = Azurite::Global();
  for (size_t size : {size_t(0), size_t(1) << 20}) {
    std::string name = "small/blob-" + std::to_string(size);
    std::string data = BlockBytes(size, size);
    WriteOptions options;
    options.condition = Condition::IfNoneExists();
    options.content_md5 = Md5::Of(data);
    options.metadata = {{"modtime", "1700000000123456789"},
                        {"permissions", "33188"},
                        {"posix_owner", "1000"},
                        {"posix_group", "1000"}};
    auto written = store->Write(name, http::Body::FromString(data), options);
    ASSERT_TRUE(written.ok()) << written.status().ToString();

    auto listing = RunChecker(azurite, {"list", store->endpoint().container});
    auto blob = FindBlob(listing, name);
    ASSERT_FALSE(blob.is_null());
    EXPECT_EQ(blob["size"], size);
    EXPECT_EQ(blob["md5"], Md5Hex(Md5::Of(data)));
    EXPECT_EQ(blob["metadata"]["modtime"], "1700000000123456789");
    EXPECT_EQ(blob["metadata"]["posix_group"], "1000");
    EXPECT_EQ("\"" + blob["etag"].get<std::string>() + "\"", written->etag);
    storage::Entry listed;
    auto lister = store->List("small/");
    ASSERT_TRUE(lister.ok());
    while (*(*lister)->Next(listed) && listed.path != name) {
    }
    EXPECT_EQ(listed.etag, written->etag) << "listing and writes agree on the ETag's form";
    auto downloaded = RunChecker(azurite, {"download-md5", store->endpoint().container, name});
    EXPECT_EQ(downloaded["size"], size);
    EXPECT_EQ(downloaded["md5"], Md5Hex(Md5::Of(data)));
  }
}

TEST(AzureBlobStore, A300MiBBlobGoesThroughParallelBlocks) {
  auto store = FreshContainer("large");
  constexpr size_t kBlock = 8 << 20;
  constexpr uint64_t kSize = 300ull << 20;
  const size_t blocks = (kSize + kBlock - 1) / kBlock;
  std::vector<std::string> ids;
  for (size_t i = 0; i < blocks; ++i) ids.push_back(fmt::format("{:06d}", i));

  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next++) < blocks;) {
        size_t size = std::min<uint64_t>(kBlock, kSize - i * kBlock);
        std::string data = BlockBytes(size, i);
        Status st =
            store->StageBlock("big.bin", ids[i], http::Body::FromString(data), Md5::Of(data));
        if (!st.ok()) {
          ADD_FAILURE() << st.ToString();
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_EQ(failures, 0);

  auto staged = store->ListStagedBlocks("big.bin");
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(staged->size(), blocks);

  Md5 whole;
  for (size_t i = 0; i < blocks; ++i) {
    whole.Update(BlockBytes(std::min<uint64_t>(kBlock, kSize - i * kBlock), i));
  }
  Md5Digest digest = whole.Finish();
  std::string md5_hex = Md5Hex(digest);
  WriteOptions options;
  options.condition = Condition::IfNoneExists();
  options.content_md5 = digest;
  auto committed = store->Commit("big.bin", ids, options);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();

  Azurite& azurite = Azurite::Global();
  auto downloaded = RunChecker(azurite, {"download-md5", store->endpoint().container, "big.bin"});
  EXPECT_EQ(downloaded["size"], kSize);
  EXPECT_EQ(downloaded["md5"], md5_hex);
  EXPECT_EQ(downloaded["stored_md5"], md5_hex);
  auto blocks_seen = RunChecker(azurite, {"staged", store->endpoint().container, "big.bin"});
  EXPECT_EQ(blocks_seen["committed"].size(), blocks);
  EXPECT_TRUE(blocks_seen["uncommitted"].empty());
}

TEST(AzureBlobStore, AwkwardNamesAreStoredExactlyAsGiven) {
  auto store = FreshContainer("names");
  std::string longest(1024, 'n');  // the service's limit for a blob name
  for (size_t i = 100; i < longest.size(); i += 100) longest[i] = '/';
  std::set<std::string> names{"with space.txt", "hash#tag",   "question?mark", "per%cent",
                              "plus+sign",      "amp&ersand", "équipe/café",   "日本語/ファイル",
                              "emoji-😀",        "a%20b",      "dir/sub dir/f", longest};
  for (const auto& name : names) {
    auto written = store->Write(name, http::Body::FromString(name), {});
    ASSERT_TRUE(written.ok()) << name << ": " << written.status().ToString();
  }
  std::set<std::string> seen;
  for (const auto& blob : RunChecker(Azurite::Global(), {"list", store->endpoint().container})) {
    seen.insert(blob["name"].get<std::string>());
  }
  EXPECT_EQ(seen, names);
  for (const auto& name : names) EXPECT_EQ(ReadAllOf(*store, name), name) << name;
}

TEST(AzureBlobStore, ListsTwentyFourPagesOfBlobs) {
  AzureBlobOptions options;
  options.list_page_size = 50;
  auto store = FreshContainer("many", options);
  constexpr int kCount = 1'200;
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] {
      for (int i; (i = next++) < kCount;) {
        auto written =
            store->Write(fmt::format("d{:02d}/f{:05d}", i % 37, i), http::Body::Empty(), {});
        if (!written.ok()) ADD_FAILURE() << written.status().ToString();
      }
    });
  }
  for (auto& w : workers) w.join();

  std::vector<std::string> expected;
  for (int i = 0; i < kCount; ++i) expected.push_back(fmt::format("d{:02d}/f{:05d}", i % 37, i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ListPaths(*store), expected);
  EXPECT_EQ(ListPaths(*store, "d05/").size(),
            size_t(std::count_if(expected.begin(), expected.end(),
                                 [](const std::string& s) { return s.starts_with("d05/"); })));
  EXPECT_EQ(RunChecker(Azurite::Global(), {"list", store->endpoint().container}).size(),
            size_t(kCount));
}

TEST(AzureBlobStore, ConditionalWritesGiveTypedOutcomesAndKeepTheOtherContent) {
  auto store = FreshContainer("conditional");
  Azurite& azurite = Azurite::Global();
  auto theirs = RunChecker(azurite, {"put", store->endpoint().container, "theirs.txt", "not ours"});

  WriteOptions create_only;
  create_only.condition = Condition::IfNoneExists();
  auto refused = store->Write("theirs.txt", http::Body::FromString("ours"), create_only);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kAlreadyExists) << refused.status().ToString();
  EXPECT_TRUE(refused.status().http_status() == 409 || refused.status().http_status() == 412);
  EXPECT_FALSE(refused.status().service_code().empty());
  EXPECT_FALSE(refused.status().request_id().empty());

  WriteOptions stale;
  stale.condition = Condition::IfMatch("\"0x8D000000DEADBEEF\"");
  auto changed = store->Write("theirs.txt", http::Body::FromString("ours"), stale);
  EXPECT_EQ(changed.status().code(), Code::kPreconditionFailed) << changed.status().ToString();
  EXPECT_EQ(changed.status().service_code(), "ConditionNotMet");

  auto after = RunChecker(azurite, {"download-md5", store->endpoint().container, "theirs.txt"});
  EXPECT_EQ(after["md5"], Md5Hex(Md5::Of("not ours")));

  WriteOptions right;
  right.condition = Condition::IfMatch(theirs["etag"].get<std::string>());
  EXPECT_TRUE(store->Write("theirs.txt", http::Body::FromString("ours"), right).ok());
}

TEST(AzureBlobStore, AListingWithoutMetadataHasTheSameBlobsAndETags) {
  auto store = FreshContainer("nometa");
  WriteOptions options;
  options.metadata = {{"modtime", "1"}, {"hdi_isfolder", "true"}};
  ASSERT_TRUE(store->Write("folder", http::Body::Empty(), options).ok());
  ASSERT_TRUE(store->Write("file", http::Body::FromString("x"), WriteOptions{}).ok());
  auto list = [&](bool metadata) {
    std::vector<storage::Entry> out;
    auto lister = store->List("", storage::ListOptions{.metadata = metadata});
    EXPECT_TRUE(lister.ok());
    storage::Entry entry;
    while (*(*lister)->Next(entry)) out.push_back(entry);
    return out;
  };
  auto with = list(true), without = list(false);
  ASSERT_EQ(with.size(), 2u);
  ASSERT_EQ(without.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(with[i].path, without[i].path);
    EXPECT_EQ(with[i].etag, without[i].etag);
    EXPECT_EQ(with[i].size, without[i].size);
    EXPECT_TRUE(without[i].metadata.empty()) << without[i].path;
  }
  EXPECT_EQ(with[1].kind, storage::Kind::kFolder) << "the marker, known by its metadata";
  EXPECT_EQ(with[1].metadata.at("modtime"), "1");
}

TEST(AzureBlobStore, AWrongKeyGivesAClearAuthorisationError) {
  Azurite& azurite = Azurite::Global();
  auto endpoint = storage::ParseAzureUrl(azurite.ContainerUrl("anything"));
  ASSERT_TRUE(endpoint.ok());
  storage::AzureCredentials wrong = azurite.Credentials();
  wrong.key = "this is not the account key";
  AzureBlobStore store(*endpoint, wrong);
  auto lister = store.List("");
  ASSERT_TRUE(lister.ok());
  storage::Entry entry;
  Result<bool> first = (*lister)->Next(entry);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), Code::kAuth);
  EXPECT_EQ(first.status().http_status(), 403);
  EXPECT_FALSE(first.status().service_code().empty());
  EXPECT_FALSE(first.status().request_id().empty());
  EXPECT_NE(first.status().message().find("refused the credentials"), std::string::npos)
      << first.status().message();
  EXPECT_TRUE(store.RetriesByCause().empty()) << "an auth failure is not retried";
}

TEST(AzureBlobStore, ASasOnTheUrlAuthorisesWithoutTheKey) {
  auto keyed = FreshContainer("sas");
  Azurite& azurite = Azurite::Global();
  std::string sas = RunChecker(azurite, {"sas", keyed->endpoint().container})["sas"];
  auto endpoint =
      storage::ParseAzureUrl(azurite.ContainerUrl(keyed->endpoint().container, "in") + "?" + sas);
  ASSERT_TRUE(endpoint.ok());
  auto creds = storage::ResolveCredentials(*endpoint, [](const char*) { return std::nullopt; });
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  AzureBlobStore store(*endpoint, *creds);
  EXPECT_EQ(store.Describe().find(sas.substr(sas.find("sig=") + 4)), std::string::npos);
  EXPECT_NE(store.Describe().find("sig=REDACTED"), std::string::npos);
  auto written = store.Write("via-sas.txt", http::Body::FromString("sas"), {});
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(ListPaths(store), (std::vector<std::string>{"via-sas.txt"}));
  auto listing = RunChecker(azurite, {"list", keyed->endpoint().container});
  EXPECT_FALSE(FindBlob(listing, "in/via-sas.txt").is_null());
}

TEST(AzureBlobStore, MissingContainerIsNotFoundUntilCreated) {
  auto store = StoreFor(UniqueContainer("later"));
  auto lister = store->List("");
  ASSERT_TRUE(lister.ok());
  storage::Entry entry;
  EXPECT_EQ((*lister)->Next(entry).status().code(), Code::kNotFound);
  ASSERT_TRUE(store->CreateRoot().ok());
  ASSERT_TRUE(store->CreateRoot().ok()) << "creating an existing container is not an error";
  EXPECT_TRUE(ListPaths(*store).empty());
}

TEST(AzureBlobStore, SetTierIsVisibleToTheIndependentClient) {
  auto store = FreshContainer("tier");
  ASSERT_TRUE(store->Write("cold.bin", http::Body::FromString("zzz"), {}).ok());
  Status st = store->SetTier("cold.bin", "Cool");
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto blob =
      FindBlob(RunChecker(Azurite::Global(), {"list", store->endpoint().container}), "cold.bin");
  EXPECT_EQ(blob["tier"], "Cool");
}

TEST(AzureBlobStore, ConnectionsAreKeptAliveAcrossRequests) {
  auto store = FreshContainer("keepalive");
  ASSERT_TRUE(store->Write("k", http::Body::FromString("k"), {}).ok());
  uint64_t before = store->pipeline().transport().connections_opened();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Stat("k").ok());
  EXPECT_LE(store->pipeline().transport().connections_opened() - before, 1u);
}

}  // namespace
}  // namespace ferry::testing
