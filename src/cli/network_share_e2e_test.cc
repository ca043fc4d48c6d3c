// A source on a network share: the tree is mounted through slowfs, which waits before every
// metadata call and open as an NFS or SMB round trip would, and ferry (which keeps many calls in
// flight there) must migrate it exactly as it migrates the same tree on a local disk.
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

class NetworkShareTest : public MigrationFixture {
 protected:
  // The catalog's items, one line each, with what the scan recorded of them.
  std::string Items(const std::string& migration) {
    auto r = RunProcess({"sqlite3", migration + "/catalog.db",
                         "SELECT path, kind, size, mtime_ns, ctime_ns, inode, mode, uid, gid, "
                         "link_target, state, cause FROM items ORDER BY path"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
};

TEST_F(NetworkShareTest, AShareWithRoundTripsMigratesExactlyAsTheSameTreeOnADisk) {
  for (int d = 0; d < 12; ++d) {
    for (int f = 0; f < 15; ++f) {
      AddFile(fmt::format("dept{:02d}/doc{:02d}.txt", d, f), fmt::format("{}-{}", d, f));
    }
  }
  AddFile("deep/a/b/c/leaf.bin", std::string(300'000, 'x'));  // many reads through FUSE
  AddFile("dept00-notes", "sorts between a folder and its contents");
  ASSERT_EQ(::mkdir((Src() + "/empty").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("dept00", (Src() + "/shortcut").c_str()), 0);
  MountShare(500);
  if (IsSkipped() || HasFatalFailure()) return;

  // The same tree scanned on the disk, one call at a time, is the reference.
  const std::string local = dir_.Sub("local-migration");
  auto init_local = Ferry({"init", local, "--source", Src(), "--target", dir_.Sub("local-target")});
  ASSERT_EQ(init_local.exit_code, 0) << init_local.err;
  ASSERT_EQ(Ferry({"scan", local, "--scan-concurrency", "1"}).exit_code, 0);

  auto init = Ferry({"init", Mig(), "--source", Share(), "--target", target_});
  ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
  auto scan = Ferry({"scan", Mig()});  // auto: many calls in flight on a FUSE mount
  ASSERT_EQ(scan.exit_code, 0) << scan.out << scan.err;
  EXPECT_EQ(Items(Mig()), Items(local));

  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  VerifyTarget({"empty"});

  // Changes at the source (made on the server's side) reach the target with the next sync.
  WriteFile(Src() + "/dept03/doc07.txt", "rewritten, longer than before");
  Expect("dept03/doc07.txt");
  AddFile("dept11/new.txt", "added later");
  auto sync = Ferry({"sync", Mig()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  VerifyTarget({"empty"});
  auto verify = Ferry({"verify", Mig(), "--deep"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace ferry::testing
