// The migration commands end to end: the built binary, a real Azurite, and Microsoft's own client
// to check what arrived.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "base/encoding.h"
#include "catalog/catalog.h"
#include "support/azurite.h"
#include "support/checker.h"
#include "support/migration_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

using MigrationTest = MigrationFixture;

TEST_F(MigrationTest, ATreeOfTwoThousandFilesArrivesCompleteAndCorrect) {
  std::mt19937_64 rng(2026);
  const char* awkward[] = {"with space", "hash#tag", "per%cent", "question?mark", "plus+amp&",
                           "café",       "日本語",   "emoji😀",   "a%20b"};
  for (int i = 0; i < 2000; ++i) {
    std::string folder = fmt::format("d{}/sub{}", i % 7, i % 13);
    std::string name = fmt::format("{} {}.dat", awkward[i % 9], i);
    size_t size = i % 50 == 0 ? 0 : size_t(rng() % 40'000);
    AddFile(folder + "/" + name, Random(size, rng));
  }
  ::mkdir((Src() + "/empty").c_str(), 0755);
  ::mkdir((Src() + "/d1/also empty").c_str(), 0700);
  ASSERT_EQ(::symlink("d0", (Src() + "/link-to-d0").c_str()), 0);
  ASSERT_EQ(::mkfifo((Src() + "/a-fifo").c_str(), 0600), 0);
  std::string big_md5 = WriteLarge(Src() + "/big 100MiB.bin", 100ull << 20, 7);
  Expect("big 100MiB.bin");

  Init();
  auto scan = Ferry({"scan", Mig(), "--json"});
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  auto report = nlohmann::json::parse(scan.out);
  EXPECT_EQ(report["files"], 2001);
  EXPECT_EQ(report["links"], 1);
  EXPECT_EQ(report["specials"], 1);
  EXPECT_EQ(report["skipped"], 2);
  EXPECT_NE(scan.err.find("largest folders"), std::string::npos) << "human report on stderr";

  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  EXPECT_NE(copy.out.find("copied 2001 files"), std::string::npos) << copy.out;
  EXPECT_TRUE(copy.err.empty()) << "no progress line when stderr is not a terminal: " << copy.err;
  VerifyTarget({"empty", "d1/also empty"});
  auto big = RunChecker(Azurite::Global(), {"download-md5", container_, "share/big 100MiB.bin"});
  EXPECT_EQ(big["md5"], big_md5) << "the bytes, not only the stored MD5";

  nlohmann::json status = Status();
  EXPECT_EQ(status["states"]["skipped"]["items"], 2);
  EXPECT_EQ(status["states"]["pending"]["items"], 0);
  EXPECT_EQ(status["states"]["failed"]["items"], 0);
  auto errors = Ferry({"errors", Mig(), "--json"});
  auto groups = nlohmann::json::parse(errors.out)["groups"];
  ASSERT_EQ(groups.size(), 2u);
  std::set<std::string> causes{groups[0]["cause"], groups[1]["cause"]};
  EXPECT_EQ(causes, (std::set<std::string>{"special file", "symbolic link"}));
}

TEST_F(MigrationTest, KillNineAtAnyMomentThenResumeCopiesEverythingExactlyOnce) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 1500; ++i) {
    AddFile(fmt::format("f{}/file{:04d}", i % 20, i), Random(size_t(rng() % 20'000), rng));
  }
  WriteLarge(Src() + "/0-large.bin", 120ull << 20, 3);
  Expect("0-large.bin");
  Init();

  // 1: in the middle of the large file, once some of its blocks are staged. (Files above
  // --block-above go in blocks; the default would send this one as a single write.)
  const std::string blocks_above = "64MiB";
  {
    BackgroundProcess copy(
        FerryArgv({"copy", Mig(), "--concurrency", "4", "--block-above", blocks_above}),
        FerryOptions(env_));
    bool staged = false;
    for (int i = 0; i < 300 && !staged && copy.Running(); ++i) {
      auto blocks = RunChecker(Azurite::Global(), {"staged", container_, "share/0-large.bin"});
      staged = !blocks.is_null() && !blocks["uncommitted"].empty();
    }
    ASSERT_TRUE(staged) << "the large file never had staged blocks to interrupt";
    copy.Kill(SIGKILL);
    EXPECT_EQ(copy.Wait().exit_code, 128 + SIGKILL);
  }
  // 2 and 3: a moment into the run, and almost at once.
  for (int delay_ms : {700, 60}) {
    BackgroundProcess copy(FerryArgv({"copy", Mig(), "--block-above", blocks_above}),
                           FerryOptions(env_));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    copy.Kill(SIGKILL);
    copy.Wait();
  }
  auto finish = Ferry({"copy", Mig(), "--block-above", blocks_above});
  ASSERT_EQ(finish.exit_code, 0) << finish.out << finish.err;
  VerifyTarget();
  auto blocks = RunChecker(Azurite::Global(), {"staged", container_, "share/0-large.bin"});
  EXPECT_TRUE(blocks["uncommitted"].empty());
  EXPECT_EQ(blocks["committed"].size(), 15u) << "120 MiB in 8 MiB blocks";

  // Each item was recorded copied once; what the crashes re-sent were only items in flight.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((Mig() + "/catalog.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE kind IN ('copied', 'adopted')", -1,
                     &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 1501);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  ExpectCatalogIntact();
  auto status = Status();
  EXPECT_EQ(status["states"]["copied"]["items"], 1501 + 20);  // files and their folders
  int interrupted = 0;
  for (const auto& run : status["runs"]) interrupted += run["outcome"] == "interrupted";
  // The first two kills come after the run began; the one at 60 ms may come before it did (on
  // a loaded machine), leaving no run to mark.
  EXPECT_GE(interrupted, 2);
  EXPECT_LE(interrupted, 3);
}

TEST_F(MigrationTest, VanishedChangingAndConflictingFilesAreReportedNotLost) {
  AddFile("kept.txt", "kept");
  WriteFile(Src() + "/gone.txt", "gone");
  WriteFile(Src() + "/theirs.txt", "ours");
  std::mt19937_64 rng(5);
  WriteFile(Src() + "/hot.log", Random(24 << 20, rng));
  Init();
  ASSERT_EQ(Ferry({"scan", Mig()}).exit_code, 0);
  ::unlink((Src() + "/gone.txt").c_str());
  RunChecker(Azurite::Global(), {"put", container_, "share/theirs.txt", "someone else's"});

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing) {
      std::ofstream(Src() + "/hot.log", std::ios::app) << "line\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  auto copy = Ferry({"copy", Mig()});
  writing = false;
  writer.join();
  EXPECT_EQ(copy.exit_code, 1) << copy.out << copy.err;
  EXPECT_NE(copy.out.find("ferry errors"), std::string::npos) << copy.out;

  auto status = Status();
  EXPECT_EQ(status["states"]["vanished"]["items"], 1);
  EXPECT_EQ(status["states"]["conflict"]["items"], 1);
  EXPECT_EQ(status["states"]["failed"]["items"], 1);
  auto errors = Ferry({"errors", Mig()});
  EXPECT_NE(errors.out.find("kept changing while read"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("hot.log"), std::string::npos);
  EXPECT_NE(errors.out.find("conflict: the target holds a different blob"), std::string::npos);
  auto theirs = RunChecker(Azurite::Global(), {"download-md5", container_, "share/theirs.txt"});
  EXPECT_EQ(theirs["md5"], Md5Hex(Md5::Of("someone else's"))) << "the other blob is kept";
  auto hot = RunChecker(Azurite::Global(), {"list", container_, "share/hot.log"});
  EXPECT_TRUE(hot.empty()) << "a changing file is never stored torn";
}

TEST_F(MigrationTest, BadInputGetsOneLineAndExitTwo) {
  WriteFile(Src() + "/a", "a");
  const std::vector<std::vector<std::string>> no_migration = {
      {"scan", dir_.Sub("nope")},
      {"copy", dir_.Sub("nope")},
      {"status", dir_.Sub("nope")},
      {"errors", dir_.Sub("nope")},
      {"scan", Src()},
      {"copy"},
      {"status"},
  };
  for (const auto& args : no_migration) {
    auto r = Ferry(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
  }
  auto bad_glob = Ferry({"init", Mig(), "--source", Src(), "--target", target_, "--exclude", "[x"});
  EXPECT_EQ(bad_glob.exit_code, 2);
  EXPECT_NE(bad_glob.err.find("never closed"), std::string::npos) << bad_glob.err;
  auto bad_tier = Ferry({"init", Mig(), "--source", Src(), "--target", target_, "--tier", "Warm"});
  EXPECT_EQ(bad_tier.exit_code, 2);
  auto no_source = Ferry({"init", Mig(), "--source", dir_.Sub("missing"), "--target", target_});
  EXPECT_EQ(no_source.exit_code, 2);
  EXPECT_EQ(Lines(no_source.err), 1) << no_source.err;
  auto no_creds = RunFerry({"init", Mig(), "--source", Src(), "--target", target_});
  EXPECT_EQ(no_creds.exit_code, 2);
  EXPECT_NE(no_creds.err.find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos);
  struct stat st;
  EXPECT_NE(::stat(Mig().c_str(), &st), 0) << "a refused init creates nothing";

  Init();
  auto twice = Ferry({"init", Mig(), "--source", Src(), "--target", target_});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("already a migration"), std::string::npos);

  {
    // Another ferry holds the migration: a second copy is refused and changes nothing.
    auto holder = catalog::Catalog::Open(Mig());
    ASSERT_TRUE(holder.ok());
    auto second = Ferry({"copy", Mig()});
    EXPECT_EQ(second.exit_code, 2);
    EXPECT_EQ(Lines(second.err), 1) << second.err;
    EXPECT_NE(second.err.find("another ferry process"), std::string::npos) << second.err;
    EXPECT_EQ(Ferry({"status", Mig()}).exit_code, 0) << "status reads while another ferry works";
  }
  auto no_creds_copy = RunFerry({"copy", Mig()});
  EXPECT_EQ(no_creds_copy.exit_code, 2);
  EXPECT_EQ(Lines(no_creds_copy.err), 1) << no_creds_copy.err;
  EXPECT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
}

TEST_F(MigrationTest, OnATerminalCopyShowsAProgressLine) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 300; ++i) AddFile(fmt::format("p/{:03d}", i), Random(20'000, rng));
  WriteLarge(Src() + "/large.bin", 64ull << 20, 1);
  Init();
  // script(1) runs the copy on a pseudo-terminal, as an operator would see it.
  ProcessOptions options = FerryOptions(env_);
  auto r = RunProcess({"script", "-qec", std::string(FERRY_BINARY) + " copy " + Mig(), "/dev/null"},
                      options);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("copy: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/s"), std::string::npos) << r.out;
}

TEST_F(MigrationTest, FiltersTierAndKeptLinks) {
  AddFile("keep/a.csv", "a,b");
  WriteFile(Src() + "/keep/scratch.tmp", "t");
  WriteFile(Src() + "/cache/x.csv", "x");
  ASSERT_EQ(::symlink("keep/a.csv", (Src() + "/link").c_str()), 0);
  Init({"--exclude", "*.tmp", "--exclude", "cache", "--tier", "cool", "--symlinks", "keep"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto listing = RunChecker(Azurite::Global(), {"list", container_});
  std::map<std::string, nlohmann::json> blobs;
  for (const auto& b : listing) blobs[b["name"]] = b;
  EXPECT_TRUE(blobs.contains("share/keep/a.csv"));
  EXPECT_FALSE(blobs.contains("share/keep/scratch.tmp"));
  EXPECT_FALSE(blobs.contains("share/cache/x.csv"));
  EXPECT_EQ(blobs["share/keep/a.csv"]["tier"], "Cool");
  ASSERT_TRUE(blobs.contains("share/link"));
  EXPECT_EQ(blobs["share/link"]["metadata"]["is_symlink"], "true");
  EXPECT_EQ(blobs["share/link"]["size"], std::string("keep/a.csv").size());
}

}  // namespace
}  // namespace ferry::testing
