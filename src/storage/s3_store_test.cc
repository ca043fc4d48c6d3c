// S3Store against a real S3 server (s3rver), filled by AWS's own JavaScript SDK: the read side
// every source backend must show, over listings of several pages.
#include "storage/s3_store.h"

#include <gtest/gtest.h>

#include "support/s3_server.h"
#include "support/store_conformance.h"

namespace ferry::testing {
namespace {

constexpr char kBucket[] = "conformance";

S3Server& Server() {
  static S3Server* server = new S3Server(kBucket);  // one per test binary, stopped at exit
  return *server;
}

std::unique_ptr<storage::Store> S3StoreUnder(const std::string& prefix) {
  auto env = [](const char* name) -> std::optional<std::string> {
    if (std::string_view(name) == "AWS_ENDPOINT_URL_S3") return Server().Endpoint();
    return std::nullopt;
  };
  auto endpoint = storage::ParseS3Url(fmt::format("s3://{}/{}", kBucket, prefix), env);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status().ToString();
  storage::S3Options options;
  options.list_page_size = 7;
  return std::make_unique<storage::S3Store>(
      *endpoint, storage::AwsCredentials{"S3RVER", "S3RVER", "", "us-east-1"}, options);
}

// Each fill gets a fresh prefix of the one bucket, its objects written by the SDK from files.
std::unique_ptr<storage::Store> Fill(const std::vector<SourceObject>& objects) {
  static TempDir dir;
  static int n = 0;
  std::string prefix = fmt::format("fill-{}", ++n);
  nlohmann::json spec = nlohmann::json::array();
  for (size_t i = 0; i < objects.size(); ++i) {
    const SourceObject& o = objects[i];
    std::string file = dir.Sub(fmt::format("{}-{}", prefix, i));
    WriteFile(file, o.data);
    nlohmann::json entry{{"key", prefix + "/" + o.path}, {"file", file}};
    if (!o.content_type.empty()) entry["content_type"] = o.content_type;
    if (!o.metadata.empty()) entry["metadata"] = o.metadata;
    spec.push_back(entry);
  }
  std::string spec_file = dir.Sub(prefix + ".json");
  WriteFile(spec_file, spec.dump());
  EXPECT_EQ(RunS3Client(Server(), {"put-files", kBucket, spec_file})["objects"], objects.size());
  return S3StoreUnder(prefix);
}

// s3rver lists "a/a" before "a-b" (AWS sorts by bytes, '-' before '/').
INSTANTIATE_TEST_SUITE_P(S3, SourceConformance,
                         ::testing::Values(SourceFactory{"s3rver", Fill, /*keeps_metadata=*/true,
                                                         /*reports_md5=*/true, /*identifies=*/true,
                                                         /*byte_order=*/false}),
                         [](const auto& info) { return info.param.name; });

TEST(S3StoreTest, EveryWriteIsRefusedWithoutASingleRequest) {
  auto store = Fill({{"kept", "bytes", "", {}}});
  storage::WriteOptions options;
  EXPECT_EQ(store->Write("kept", http::Body::FromString("x"), options).status().code(),
            Code::kUnsupported);
  EXPECT_EQ(store->Delete("kept", {}).code(), Code::kUnsupported);
  EXPECT_EQ(store->SetMetadata("kept", {}, {}).status().code(), Code::kUnsupported);
  EXPECT_EQ(store->StageBlock("kept", "b", http::Body::FromString("x"), {}).code(),
            Code::kUnsupported);
  EXPECT_EQ(ReadAllOf(*store, "kept"), "bytes");
}

}  // namespace
}  // namespace ferry::testing
