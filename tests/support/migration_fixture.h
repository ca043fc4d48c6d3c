// A migration on a real Azurite, driven through the ferry binary, with the expectations that
// the independent checker verifies.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "support/azurite.h"
#include "support/checker.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {

struct Expected {
  uint64_t size = 0;
  std::string md5;
  struct stat st {};
};

inline std::string Random(size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// Writes a large file of `size` bytes in 1 MiB pieces and returns its MD5 (hex).
inline std::string WriteLarge(const std::string& path, uint64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary);
  Md5 md5;
  for (uint64_t done = 0; done < size; done += 1 << 20) {
    std::string chunk = Random(std::min<uint64_t>(1 << 20, size - done), rng);
    md5.Update(chunk);
    out.write(chunk.data(), std::streamsize(chunk.size()));
  }
  return Md5Hex(md5.Finish());
}

class MigrationFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    container_ = UniqueContainer("e2e");
    target_ = Azurite::Global().ContainerUrl(container_, "share");
    env_ = {{"AZURE_STORAGE_CONNECTION_STRING", Azurite::Global().ConnectionString()}};
  }
  // The shared emulator keeps every blob in memory and slows down as they pile up: each test
  // drops its container (one that started its own emulator has nothing to drop there).
  void TearDown() override {
    if (mounted_) RunProcess({"fusermount3", "-u", "-z", Share()});
    if (azurite_ == &Azurite::Global()) RunChecker(Azurite::Global(), {"drop", container_});
  }

  // The source tree as a network share: mounted through slowfs at Share(), waiting `delay_us`
  // before every metadata call and open (a round trip). Skips the test where FUSE cannot mount
  // (the caller returns when IsSkipped()); unmounted at TearDown.
  std::string Share() const { return dir_.Sub("share"); }
  void MountShare(int delay_us) {
    if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "no /dev/fuse here: this test needs FUSE to mount slowfs";
    }
    ::mkdir(Share().c_str(), 0755);
    auto r = RunProcess({FERRY_SLOWFS, Src(), Share(), "--delay-us", std::to_string(delay_us)});
    if (r.exit_code != 0) GTEST_SKIP() << "slowfs could not mount here: " << r.err;
    struct statfs fs;
    ASSERT_EQ(::statfs(Share().c_str(), &fs), 0);
    constexpr long kFuseMagic = 0x65735546;
    ASSERT_EQ(fs.f_type, kFuseMagic) << "the share is not mounted";
    mounted_ = true;
  }
  bool mounted_ = false;

  ProcessResult Ferry(const std::vector<std::string>& args) { return RunFerry(args, env_); }

  void Init(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"init", Mig(), "--source", Src(), "--target", target_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Ferry(args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  std::string Src() const { return dir_.Sub("src"); }
  std::string Mig() const { return dir_.Sub("migration"); }

  // Adds a file to the source tree and to the expectations.
  void AddFile(const std::string& path, const std::string& data) {
    WriteFile(Src() + "/" + path, data);
    Expect(path);
  }
  void Expect(const std::string& path) {
    Expected e;
    ::lstat((Src() + "/" + path).c_str(), &e.st);
    e.size = uint64_t(e.st.st_size);
    e.md5 = Md5Hex(Md5::Of(ReadFile(Src() + "/" + path)));
    expected_[path] = e;
  }

  // Checks with the independent client that the target holds exactly the expected files (and
  // the listed folder markers), each with its size, MD5 and POSIX metadata.
  void VerifyTarget(const std::vector<std::string>& folders = {}) {
    nlohmann::json listing = RunChecker(*azurite_, {"list", container_});
    ASSERT_TRUE(listing.is_array());
    std::map<std::string, nlohmann::json> blobs;
    for (const auto& b : listing) {
      std::string name = b["name"];
      EXPECT_FALSE(blobs.contains(name)) << "listed twice: " << name;
      blobs[name] = b;
    }
    for (const auto& [path, e] : expected_) {
      auto it = blobs.find("share/" + path);
      if (it == blobs.end()) {
        ADD_FAILURE() << "missing in the target: " << path;
        continue;
      }
      const nlohmann::json& b = it->second;
      EXPECT_EQ(b["size"], e.size) << path;
      EXPECT_EQ(b["md5"], e.md5) << path;
      EXPECT_EQ(b["metadata"]["permissions"], std::to_string(e.st.st_mode)) << path;
      EXPECT_EQ(b["metadata"]["modtime"],
                std::to_string(int64_t(e.st.st_mtim.tv_sec) * 1'000'000'000 + e.st.st_mtim.tv_nsec))
          << path;
      EXPECT_EQ(b["metadata"]["posix_owner"], std::to_string(e.st.st_uid)) << path;
      EXPECT_EQ(b["metadata"]["posix_group"], std::to_string(e.st.st_gid)) << path;
      blobs.erase(it);
    }
    for (const auto& folder : folders) {
      auto it = blobs.find("share/" + folder);
      if (it == blobs.end()) {
        ADD_FAILURE() << "no folder marker for " << folder;
        continue;
      }
      EXPECT_EQ(it->second["metadata"]["hdi_isfolder"], "true");
      EXPECT_EQ(it->second["size"], 0);
      blobs.erase(it);
    }
    for (const auto& [name, b] : blobs) ADD_FAILURE() << "unexpected blob: " << name;
  }

  // The catalog passes SQLite's integrity check and its event log's hash chain is unbroken.
  void ExpectCatalogIntact(const std::string& migration = "") {
    const std::string dir = migration.empty() ? Mig() : migration;
    auto integrity = RunProcess({"sqlite3", dir + "/catalog.db", "PRAGMA integrity_check"});
    EXPECT_EQ(integrity.out, "ok\n") << integrity.err;
    auto check = Ferry({"log", dir, "--check"});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }

  nlohmann::json Status() {
    auto r = Ferry({"status", Mig(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  TempDir dir_;
  Azurite* azurite_ = &Azurite::Global();  // the emulator VerifyTarget checks
  std::string container_, target_;
  std::map<std::string, std::optional<std::string>> env_;
  std::map<std::string, Expected> expected_;
};

}  // namespace ferry::testing
