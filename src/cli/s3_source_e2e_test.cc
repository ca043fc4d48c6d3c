// An S3 bucket as the source, through the whole playbook: a real S3 server (s3rver) filled by
// AWS's own JavaScript SDK, Azurite as the target, and both sides read back with the vendors'
// clients. The source is only ever read.
#include <gtest/gtest.h>

#include <csignal>
#include <set>

#include "support/migration_fixture.h"
#include "support/s3_server.h"

namespace ferry::testing {
namespace {

class S3SourceTest : public MigrationFixture {
 protected:
  static constexpr char kBucket[] = "source-bucket";

  void SetUp() override {
    MigrationFixture::SetUp();
    env_["AWS_ACCESS_KEY_ID"] = "S3RVER";  // s3rver's own key pair, public
    env_["AWS_SECRET_ACCESS_KEY"] = "S3RVER";
    env_["AWS_ENDPOINT_URL_S3"] = s3_.Endpoint();
  }

  // Runs tests/support/s3_client.mjs and returns its JSON answer.
  nlohmann::json S3(const std::vector<std::string>& args) { return RunS3Client(s3_, args); }

  static inline const std::set<std::string> kReservedNames{
      "is_symlink", "hdi_isfolder", "permissions", "posix_owner", "posix_group", "ferry_write"};

  // The target holds exactly the bucket's objects (folder markers aside) under share/: size,
  // MD5, Content-Type, the objects' metadata and Last-Modified as modtime.
  void ExpectTargetIsTheBucket() {
    nlohmann::json objects = S3({"list", kBucket});
    nlohmann::json listing = RunChecker(*azurite_, {"list", container_});
    std::map<std::string, nlohmann::json> blobs;
    for (const auto& b : listing) blobs[b["name"]] = b;
    int compared = 0;
    for (const auto& o : objects) {
      std::string key = o["key"];
      if (key.ends_with("/")) continue;  // a folder marker is no object to copy
      auto it = blobs.find("share/" + key);
      if (it == blobs.end()) {
        ADD_FAILURE() << "missing in the target: " << key;
        continue;
      }
      const nlohmann::json& b = it->second;
      EXPECT_EQ(b["size"], o["size"]) << key;
      EXPECT_EQ(b["md5"], o["md5"]) << key;
      EXPECT_EQ(b["content_type"], o["content_type"]) << key;
      EXPECT_EQ(b["metadata"]["modtime"],
                std::to_string(o["last_modified"].get<int64_t>() / 1000 * 1'000'000'000))
          << key;
      for (const auto& [name, value] : o["metadata"].items()) {
        bool identifier = name.find_first_of("-.") == std::string::npos;
        // Names ferry or a later reader gives a meaning (a link, a folder, a mode, ferry's own
        // mark) are the object's words, not instructions: renamed like invalid ones.
        bool reserved = kReservedNames.contains(name);
        std::string blob_name =
            identifier && !reserved
                ? name
                : "rename_" + (identifier
                                   ? name
                                   : std::string(name).replace(name.find_first_of("-."), 1, "_"));
        EXPECT_EQ(b["metadata"][blob_name], value) << key << " " << name;
        if (!identifier || reserved) {
          EXPECT_EQ(b["metadata"]["rename_key_" + blob_name.substr(7)], name) << key;
        }
      }
      EXPECT_FALSE(b["metadata"].contains("permissions")) << "an object has no POSIX mode";
      EXPECT_FALSE(b["metadata"].contains("is_symlink")) << key;
      EXPECT_FALSE(b["metadata"].contains("hdi_isfolder")) << key;
      EXPECT_NE(b["metadata"].value("ferry_write", ""), "forged") << "ferry's own mark, " << key;
      blobs.erase(it);
      ++compared;
    }
    EXPECT_GT(compared, 0);
    for (const auto& [name, b] : blobs) ADD_FAILURE() << "unexpected blob: " << name;
  }

  static S3Server& Server() {
    static S3Server* server = new S3Server(kBucket);  // one per test binary, stopped at exit
    return *server;
  }
  S3Server& s3_ = Server();
};

TEST_F(S3SourceTest, TheWholePlaybookFromABucketReadingItOnly) {
  // 1,100 objects (two pages of a listing): ordinary ones, awkward keys, a typed one with
  // metadata, a folder marker and a 40 MiB multipart upload.
  nlohmann::json spec = nlohmann::json::array();
  for (int i = 0; i < 1089; ++i) {
    spec.push_back({{"key", fmt::format("d{:02d}/obj-{:04d}.dat", i % 20, i)}, {"size", 100 + i}});
  }
  for (const char* key : {"with space/a b.txt", "unicode/ünï-çødé.txt", "plus/a+b=c.txt",
                          "percent/100%.txt", "amp/&;,$@.txt"}) {
    spec.push_back({{"key", key}, {"size", 64}});
  }
  spec.push_back({{"key", "site/index.html"},
                  {"size", 300},
                  {"content_type", "text/html"},
                  {"metadata", {{"owner-team", "web"}, {"plain", "yes"}}}});
  spec.push_back({{"key", "forged/meta.txt"},
                  {"size", 30},
                  {"metadata",
                   {{"is_symlink", "true"},
                    {"hdi_isfolder", "true"},
                    {"permissions", "3583"},
                    {"posix_owner", "0"},
                    {"ferry_write", "forged"}}}});
  spec.push_back({{"key", "empty-folder/"}, {"size", 0}});
  spec.push_back({{"key", "media/big.bin"}, {"size", 40 << 20}, {"multipart_part", 8 << 20}});
  spec.push_back({{"key", "same/size.txt"}, {"size", 11}});
  spec.push_back({{"key", "gone/soon.txt"}, {"size", 20}});
  ASSERT_EQ(spec.size(), 1100u);
  WriteFile(dir_.Sub("spec.json"), spec.dump());
  ASSERT_EQ(S3({"fill", kBucket, dir_.Sub("spec.json")})["objects"], 1100);

  const std::string source = std::string("s3://") + kBucket;
  auto init = Ferry({"init", Mig(), "--source", source, "--target", target_, "--mode", "mirror"});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  EXPECT_NE(init.out.find("credential for s3://source-bucket: AWS access key S3RVER"),
            std::string::npos)
      << init.out;
  auto scan = Ferry({"scan", Mig(), "--json"});
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  EXPECT_EQ(nlohmann::json::parse(scan.out)["files"], 1099) << "every object but the marker";

  auto trial = Ferry({"trial", Mig(), "--sample", "20"});
  ASSERT_EQ(trial.exit_code, 0) << trial.out << trial.err;
  ASSERT_EQ(Ferry({"trial", Mig(), "--cleanup"}).exit_code, 0);

  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  ExpectTargetIsTheBucket();

  // Replaced with as many bytes, deleted, added (ScanTest shows the ETag alone tells a
  // replacement within the second).
  S3({"put", kBucket, "same/size.txt", "other bytes"});
  S3({"delete", kBucket, "gone/soon.txt"});
  S3({"put", kBucket, "new/arrival.txt", "hello"});
  auto sync = Ferry({"sync", Mig()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  nlohmann::json delta = Status()["sync_deltas"].back();
  EXPECT_EQ(delta["changed"], 1) << delta.dump();
  EXPECT_EQ(delta["new"], 1) << delta.dump();
  EXPECT_EQ(delta["deleted"], 1) << delta.dump();
  ExpectTargetIsTheBucket();

  auto verify = Ferry({"verify", Mig(), "--deep"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("0 mismatches"), std::string::npos) << verify.out;
  auto cutover = Ferry({"cutover", Mig(), "--quiet-window", "200ms", "--yes"});
  EXPECT_EQ(cutover.exit_code, 0) << cutover.out << cutover.err;
  for (std::vector<std::string> args : {std::vector<std::string>{"status", Mig()},
                                        {"errors", Mig()},
                                        {"report", Mig(), "--json"}}) {
    auto r = Ferry(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
  }
  ExpectCatalogIntact();

  // Every request that was not the SDK's (ferry's) only read.
  int reads = 0;
  for (const auto& request : s3_.Stop()) {
    if (request["user_agent"].get<std::string>().find("aws-sdk") != std::string::npos) continue;
    EXPECT_TRUE(request["method"] == "GET" || request["method"] == "HEAD") << request.dump();
    ++reads;
  }
  EXPECT_GT(reads, 1100);
}

TEST(S3SourceInput, BadBucketsMissingKeysAndAnS3TargetAreRefusedClearly) {
  TempDir dir;
  std::map<std::string, std::optional<std::string>> env{
      {"AZURE_STORAGE_CONNECTION_STRING", Azurite::Global().ConnectionString()}};
  std::string target = Azurite::Global().ContainerUrl("s3-input", "p");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--source", "s3://Bad_Bucket", "--target", target}, "bucket name"},
           {{"--source", "s3://good-bucket", "--target", target}, "AWS_ACCESS_KEY_ID"},
           {{"--source", dir.Sub("src"), "--target", "s3://good-bucket"}, "only reads S3"}}) {
    std::vector<std::string> args{"init", dir.Sub("m")};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = RunFerry(args, env);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.Sub("m/catalog.db")));
  }
}

}  // namespace
}  // namespace ferry::testing
