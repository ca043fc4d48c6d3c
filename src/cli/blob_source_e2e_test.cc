// Another Azure Blob container as the source, through the whole playbook: a second Azurite
// (the source account) filled and changed by Microsoft's JavaScript client, the shared one as
// the target, both read back with that client. The source is only ever read, and signs in with
// credentials of its own, never the target's.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

constexpr char kSourceContainer[] = "src-data";

Azurite& SourceAzurite() {
  static std::unique_ptr<Azurite> azurite = Azurite::Start();  // stopped at exit
  return *azurite;
}

class BlobSourceTest : public MigrationFixture {
 protected:
  void SetUp() override {
    MigrationFixture::SetUp();
    env_["FERRY_SOURCE_CONNECTION_STRING"] = source_.ConnectionString();
  }

  std::string SourceUrl() const { return source_.ContainerUrl(kSourceContainer, "dept"); }

  // Requests to the source that could change it (the checker's own aside: see Ferry).
  int64_t SourceWrites() const {
    int64_t n = 0;
    for (const char* method : {"PUT ", "DELETE ", "POST ", "PATCH ", "MERGE "}) {
      n += source_.RequestCount(method);
    }
    return n;
  }

  // Runs ferry and checks that it sent the source nothing but reads.
  ProcessResult ReadingFerry(const std::vector<std::string>& args) {
    int64_t before = SourceWrites();
    ProcessResult r = Ferry(args);
    EXPECT_EQ(SourceWrites(), before) << args[0] << " wrote to the source";
    return r;
  }

  // The target holds, under share/, exactly the files under the source's dept/ (its folder
  // marker as one, its link blob not at all): size, MD5, Content-Type and metadata.
  void ExpectTargetIsTheSource() {
    nlohmann::json source = RunChecker(source_, {"list", kSourceContainer, "dept/"});
    nlohmann::json listing = RunChecker(*azurite_, {"list", container_});
    std::map<std::string, nlohmann::json> blobs;
    for (const auto& b : listing) blobs[b["name"]] = b;
    int compared = 0;
    for (const auto& s : source) {
      std::string name = s["name"].get<std::string>().substr(5);      // after "dept/"
      if (s["metadata"].value("is_symlink", "") == "true") continue;  // skipped, with the reason
      auto it = blobs.find("share/" + name);
      if (it == blobs.end()) {
        ADD_FAILURE() << "missing in the target: " << name;
        continue;
      }
      const nlohmann::json& b = it->second;
      EXPECT_EQ(b["size"], s["size"]) << name;
      if (s["metadata"].value("hdi_isfolder", "") == "true") {
        EXPECT_EQ(b["metadata"]["hdi_isfolder"], "true") << name;
        blobs.erase(it);
        continue;
      }
      std::string md5 = s["md5"].is_string()
                            ? s["md5"].get<std::string>()
                            : RunChecker(source_, {"download-md5", kSourceContainer,
                                                   s["name"].get<std::string>()})["md5"]
                                  .get<std::string>();
      EXPECT_EQ(b["md5"], md5) << name;
      EXPECT_EQ(b["content_type"], s["content_type"]) << name;
      for (const auto& [key, value] : s["metadata"].items()) {
        bool reserved = key == "permissions" || key == "modtime";
        EXPECT_EQ(b["metadata"][reserved ? "rename_" + key : key], value) << name << " " << key;
      }
      EXPECT_TRUE(b["metadata"].contains("modtime")) << name;
      EXPECT_FALSE(b["metadata"].contains("permissions")) << "a blob has no POSIX mode: " << name;
      blobs.erase(it);
      ++compared;
    }
    EXPECT_GT(compared, 600);
    for (const auto& [name, b] : blobs) ADD_FAILURE() << "unexpected blob: " << name;
  }

  Azurite& source_ = SourceAzurite();
};

TEST_F(BlobSourceTest, TheWholePlaybookFromAnotherAccountReadingItOnly) {
  nlohmann::json spec = nlohmann::json::array();
  for (int i = 0; i < 600; ++i) {
    spec.push_back({{"name", fmt::format("dept/d{}/f-{:03d}.dat", i % 10, i)}, {"size", 100 + i}});
  }
  for (const char* name : {"dept/with space/a b.txt", "dept/unicode/ünï-çødé.txt",
                           "dept/plus/a+b=c.txt", "dept/percent/100%.txt", "dept/hash/#tag.txt"}) {
    spec.push_back({{"name", name}, {"size", 64}});
  }
  spec.push_back({{"name", "dept/site/index.html"},
                  {"size", 300},
                  {"content_type", "text/html"},
                  {"metadata", {{"team", "web"}, {"permissions", "3583"}}}});
  spec.push_back(
      {{"name", "dept/empty-folder"}, {"size", 0}, {"metadata", {{"hdi_isfolder", "true"}}}});
  spec.push_back({{"name", "dept/a-link"}, {"size", 9}, {"metadata", {{"is_symlink", "true"}}}});
  spec.push_back({{"name", "dept/media/big.bin"}, {"size", 20 << 20}, {"blocks", true}});
  spec.push_back({{"name", "dept/same/size.txt"}, {"size", 11}});
  spec.push_back({{"name", "dept/gone/soon.txt"}, {"size", 20}});
  spec.push_back({{"name", "other/outside.txt"}, {"size", 5}});  // not under the source's prefix
  WriteFile(dir_.Sub("spec.json"), spec.dump());
  ASSERT_EQ(RunChecker(source_, {"fill", kSourceContainer, dir_.Sub("spec.json")})["blobs"],
            spec.size());
  ASSERT_GE(SourceWrites(), int64_t(spec.size())) << "the access log counts the checker's writes";

  auto init = ReadingFerry(
      {"init", Mig(), "--source", SourceUrl(), "--target", target_, "--mode", "mirror"});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  EXPECT_NE(
      init.out.find(fmt::format("credential for {}: FERRY_SOURCE_CONNECTION_STRING", SourceUrl())),
      std::string::npos)
      << init.out;
  EXPECT_NE(init.out.find("credential for " + target_ + ": AZURE_STORAGE_CONNECTION_STRING"),
            std::string::npos)
      << init.out;
  auto scan = ReadingFerry({"scan", Mig(), "--json"});
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  nlohmann::json report = nlohmann::json::parse(scan.out);
  EXPECT_EQ(report["files"], 609) << "every blob under dept/ but the folder and the link";
  EXPECT_EQ(report["folders"], 1);

  auto trial = ReadingFerry({"trial", Mig(), "--sample", "20"});
  ASSERT_EQ(trial.exit_code, 0) << trial.out << trial.err;
  ASSERT_EQ(ReadingFerry({"trial", Mig(), "--cleanup"}).exit_code, 0);

  auto copy = ReadingFerry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  ExpectTargetIsTheSource();
  auto errors = ReadingFerry({"errors", Mig()});
  EXPECT_NE(errors.out.find("a-link"), std::string::npos)
      << "the link blob, skipped: " << errors.out;

  // Replaced with as many bytes, deleted, added.
  RunChecker(source_, {"put", kSourceContainer, "dept/same/size.txt", "other bytes"});
  RunChecker(source_, {"delete", kSourceContainer, "dept/gone/soon.txt"});
  RunChecker(source_, {"put", kSourceContainer, "dept/new/arrival.txt", "hello"});
  auto sync = ReadingFerry({"sync", Mig()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  nlohmann::json delta = Status()["sync_deltas"].back();
  EXPECT_EQ(delta["changed"], 1) << delta.dump();
  EXPECT_EQ(delta["new"], 1) << delta.dump();
  EXPECT_EQ(delta["deleted"], 1) << delta.dump();
  ExpectTargetIsTheSource();

  auto verify = ReadingFerry({"verify", Mig(), "--deep"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("0 mismatches"), std::string::npos) << verify.out;
  // The skipped link blob holds the cutover until the operator accepts going without it.
  auto held = ReadingFerry({"cutover", Mig(), "--quiet-window", "200ms", "--yes"});
  EXPECT_EQ(held.exit_code, 3) << held.out << held.err;
  EXPECT_NE((held.out + held.err).find("a-link"), std::string::npos) << held.out << held.err;
  auto cutover =
      ReadingFerry({"cutover", Mig(), "--quiet-window", "200ms", "--yes", "--accept-skipped"});
  EXPECT_EQ(cutover.exit_code, 0) << cutover.out << cutover.err;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"status", Mig()}, {"report", Mig(), "--json"}}) {
    auto r = ReadingFerry(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
  }
  ExpectCatalogIntact();
}

TEST_F(BlobSourceTest, ASourceSignsInWithItsOwnCredentialsOnly) {
  RunChecker(source_, {"put", "sas-source", "dir/file.txt", "signed"});
  std::string url = source_.ContainerUrl("sas-source");
  std::string sas = RunChecker(source_, {"sas", "sas-source"})["sas"];

  // The target's credentials are never tried on the source.
  env_.erase("FERRY_SOURCE_CONNECTION_STRING");
  auto none = Ferry({"init", Mig(), "--source", url, "--target", target_});
  EXPECT_EQ(none.exit_code, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("FERRY_SOURCE_CONNECTION_STRING"), std::string::npos) << none.err;
  EXPECT_EQ(Lines(none.err), 1) << none.err;
  EXPECT_FALSE(std::filesystem::exists(Mig() + "/catalog.db"));

  // A SAS on the URL serves init and is not stored; later runs take it from the environment
  // or --source-sas.
  auto init = Ferry({"init", Mig(), "--source", url + "?" + sas, "--target", target_});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  EXPECT_NE(init.out.find("FERRY_SOURCE_SAS_TOKEN"), std::string::npos) << init.out;
  EXPECT_EQ(ReadFile(Mig() + "/catalog.db").find("sig="), std::string::npos);
  auto unsigned_scan = Ferry({"scan", Mig()});
  EXPECT_EQ(unsigned_scan.exit_code, 2) << unsigned_scan.out << unsigned_scan.err;
  auto scan = Ferry({"--source-sas", sas, "scan", Mig()});
  ASSERT_EQ(scan.exit_code, 0) << scan.out << scan.err;
  env_["FERRY_SOURCE_SAS_TOKEN"] = sas;
  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_EQ(RunChecker(*azurite_, {"download-md5", container_, "share/dir/file.txt"})["md5"],
            Md5Hex(Md5::Of("signed")));
  for (const auto& r : {init, scan, copy}) {
    EXPECT_EQ((r.out + r.err).find(sas.substr(sas.find("sig="))), std::string::npos)
        << "the SAS's signature shows: " << r.out << r.err;
  }

  auto check = Ferry({"check", url, "--source"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("credential: FERRY_SOURCE_SAS_TOKEN"), std::string::npos) << check.out;
  EXPECT_EQ(Ferry({"check", url, "--source", "--write"}).exit_code, 2);
}

TEST_F(BlobSourceTest, ASourceAndTargetThatOverlapAreRefused) {
  env_["FERRY_SOURCE_CONNECTION_STRING"] = Azurite::Global().ConnectionString();
  const std::string container = Azurite::Global().ContainerUrl(container_);
  for (const auto& [source, target] :
       std::vector<std::pair<std::string, std::string>>{{container + "/a", container + "/a/b"},
                                                        {container + "/a/b", container + "/a"},
                                                        {container, container + "/x"},
                                                        {container + "/a", container + "/a"},
                                                        {container + "/a", container + "/./a/b"}}) {
    auto r = Ferry({"init", Mig(), "--source", source, "--target", target});
    EXPECT_EQ(r.exit_code, 2) << source << " -> " << target << ": " << r.out << r.err;
    EXPECT_TRUE(r.err.find("overlap") != std::string::npos ||
                r.err.find("'..' are not allowed") != std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(Mig() + "/catalog.db"));
}

}  // namespace
}  // namespace ferry::testing
