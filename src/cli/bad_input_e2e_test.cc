// Bad input from outside ferry's control: an expired SAS, a container ferry cannot create, a
// source that disappears mid-run, a full disk under the catalog. Each ends with one clear line
// and exit 2, and leaves the catalog consistent.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using BadInputTest = MigrationFixture;

TEST_F(BadInputTest, AnExpiredSasOrOneThatCannotCreateTheContainerIsOneLineAndExitTwo) {
  AddFile("a.txt", "a");
  // A container SAS cannot create its container: init says so and creates nothing.
  std::string sas = RunChecker(Azurite::Global(), {"sas", container_})["sas"];
  auto cannot_create =
      RunFerry({"init", Mig(), "--source", Src(), "--target", target_ + "?" + sas});
  EXPECT_EQ(cannot_create.exit_code, 2);
  EXPECT_EQ(Lines(cannot_create.err), 1) << cannot_create.err;
  EXPECT_NE(cannot_create.err.find("create container"), std::string::npos) << cannot_create.err;
  EXPECT_NE(cannot_create.err.find("permission"), std::string::npos) << cannot_create.err;
  struct stat st;
  EXPECT_NE(::stat(Mig().c_str(), &st), 0) << "nothing created";

  Init();  // with the account key, which creates the container
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  AddFile("b.txt", "b");
  std::string expired = RunChecker(Azurite::Global(), {"sas", container_, "-60"})["sas"];
  for (const std::string command : {"copy", "sync", "verify"}) {
    auto r = RunFerry({command, Mig()}, {{"AZURE_STORAGE_SAS_TOKEN", expired}});
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("expired at"), std::string::npos) << r.err;
  }
  ExpectCatalogIntact();
  EXPECT_EQ(Status()["states"]["pending"]["items"], 0) << "b.txt not even scanned";
  std::string valid = RunChecker(Azurite::Global(), {"sas", container_})["sas"];
  EXPECT_EQ(RunFerry({"sync", Mig()}, {{"AZURE_STORAGE_SAS_TOKEN", valid}}).exit_code, 0);
  VerifyTarget();
}

TEST_F(BadInputTest, ASourceThatDisappearsMidRunIsNeverTakenForDeletions) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1500; ++i) {
    AddFile(fmt::format("d{:02d}/f{:04d}", i % 15, i), Random(size_t(rng() % 20'000), rng));
  }
  Init({"--mode", "mirror"});
  ASSERT_EQ(Ferry({"scan", Mig()}).exit_code, 0);
  BackgroundProcess copy(FerryArgv({"copy", Mig()}), FerryOptions(env_));
  const std::string puts = fmt::format("PUT /devstoreaccount1/{}/", container_);
  const int64_t before = Azurite::Global().RequestCount(puts);
  for (int i = 0; i < 2000 && Azurite::Global().RequestCount(puts) < before + 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(copy.Running()) << "the copy ended before the source could go";
  std::filesystem::rename(Src(), dir_.Sub("src-moved"));  // the share is unmounted
  auto cut = copy.Wait();
  EXPECT_LE(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_GT(Status()["states"]["vanished"]["items"].get<int>(), 0) << "the copy saw it go";

  // The source root is gone: sync refuses rather than deleting the blobs of every file.
  auto sync = Ferry({"sync", Mig()});
  EXPECT_EQ(sync.exit_code, 2) << sync.out << sync.err;
  EXPECT_EQ(Lines(sync.err), 1) << sync.err;
  EXPECT_NE(sync.err.find("src"), std::string::npos) << sync.err;
  ExpectCatalogIntact();

  std::filesystem::rename(dir_.Sub("src-moved"), Src());  // back again
  auto resumed = Ferry({"sync", Mig()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  VerifyTarget();
}

TEST_F(BadInputTest, AFullDiskUnderTheCatalogStopsCleanlyAndTheNextRunGoesOn) {
  std::string small = dir_.Sub("small");
  ::mkdir(small.c_str(), 0755);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=600k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  for (int d = 0; d < 20; ++d) {
    ::mkdir((Src() + fmt::format("/d{:02d}", d)).c_str(), 0755);
    for (int i = 0; i < 300; ++i) {
      WriteFile(Src() + fmt::format("/d{:02d}/a-rather-long-file-name-{:04d}.dat", d, i), "");
    }
  }
  std::string mig = small + "/migration";
  auto init = Ferry({"init", mig, "--source", Src(), "--target", target_});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  auto full = Ferry({"scan", mig});
  EXPECT_EQ(full.exit_code, 2) << full.out << full.err;
  EXPECT_EQ(Lines(full.err), 1) << full.err;
  EXPECT_NE(full.err.find("full"), std::string::npos) << full.err;

  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
  ExpectCatalogIntact(mig);
  auto scan = Ferry({"scan", mig});
  EXPECT_EQ(scan.exit_code, 0) << scan.out << scan.err;
  auto status = RunFerry({"status", mig, "--json"});
  EXPECT_EQ(nlohmann::json::parse(status.out)["states"]["pending"]["items"], 20 * 300 + 20);
}

}  // namespace
}  // namespace ferry::testing
