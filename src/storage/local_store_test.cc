#include "storage/local_store.h"

#include <fmt/format.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <list>

#include "support/store_conformance.h"
#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

using storage::Entry;
using storage::Kind;
using storage::LocalStore;

std::list<TempDir>& Dirs() {
  static std::list<TempDir> dirs;  // kept until the binary exits
  return dirs;
}

INSTANTIATE_TEST_SUITE_P(Local, StoreConformance,
                         ::testing::Values(StoreFactory{"local",
                                                        [] {
                                                          Dirs().emplace_back();
                                                          return std::make_unique<LocalStore>(
                                                              Dirs().back().Sub("root"));
                                                        },
                                                        /*keeps_metadata=*/false}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Local, SourceConformance,
                         ::testing::Values(SourceFactory{
                             "local",
                             [](const std::vector<SourceObject>& objects) {
                               Dirs().emplace_back();
                               std::string root = Dirs().back().Sub("root");
                               std::filesystem::create_directories(root);
                               for (const auto& o : objects) WriteFile(root + "/" + o.path, o.data);
                               return std::make_unique<LocalStore>(root);
                             },
                             /*keeps_metadata=*/false, /*reports_md5=*/false}),
                         [](const auto& info) { return info.param.name; });

// Every entry of a listing, or the test fails.
std::vector<Entry> ListAll(LocalStore& store, storage::ListOptions options,
                           const std::string& prefix = "") {
  std::vector<Entry> entries;
  auto lister = store.List(prefix, options);
  EXPECT_TRUE(lister.ok()) << lister.status().ToString();
  if (!lister.ok()) return entries;
  Entry entry;
  while (true) {
    auto more = (*lister)->Next(entry);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) return entries;
    entries.push_back(entry);
  }
}

std::vector<std::string> PathsOf(const std::vector<Entry>& entries) {
  std::vector<std::string> paths;
  for (const auto& e : entries) paths.push_back(e.path);
  return paths;
}

// The listing tests run serially and with many calls in flight (as on a network share), through
// io_uring and on threads: the entries and their order must not differ.
struct Calls {
  int concurrency;
  bool io_uring;
};
class Listing : public ::testing::TestWithParam<Calls> {
 protected:
  storage::ListOptions options(bool metadata = true) const {
    return {.metadata = metadata,
            .concurrency = GetParam().concurrency,
            .io_uring = GetParam().io_uring};
  }
};
INSTANTIATE_TEST_SUITE_P(Concurrency, Listing,
                         ::testing::Values(Calls{1, true}, Calls{2, true}, Calls{16, true},
                                           Calls{16, false}),
                         [](const auto& info) {
                           return "x" + std::to_string(info.param.concurrency) +
                                  (info.param.io_uring ? "" : "_threads");
                         });

TEST(LocalStore, StatReportsEveryKindWithPosixProperties) {
  TempDir dir;
  WriteFile(dir.Sub("file"), "12345");
  ::chmod(dir.Sub("file").c_str(), 0640);
  ::mkdir(dir.Sub("folder").c_str(), 0755);
  ASSERT_EQ(::symlink("file", dir.Sub("link").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir.Sub("fifo").c_str(), 0600), 0);
  LocalStore store(dir.path());

  auto file = store.Stat("file");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->kind, Kind::kFile);
  EXPECT_EQ(file->size, 5u);
  EXPECT_EQ(file->mode & 07777, 0640u);
  EXPECT_TRUE(S_ISREG(file->mode));
  EXPECT_EQ(file->uid, ::getuid());
  EXPECT_EQ(file->gid, ::getgid());
  struct stat st;
  ::stat(dir.Sub("file").c_str(), &st);
  EXPECT_EQ(file->mtime_ns, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);

  EXPECT_EQ(store.Stat("folder")->kind, Kind::kFolder);
  auto link = store.Stat("link");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->kind, Kind::kSymlink);
  EXPECT_EQ(link->link_target, "file");
  EXPECT_EQ(store.Stat("fifo")->kind, Kind::kSpecial);
}

TEST_P(Listing, IncludesFoldersInPathOrderAndSkipsStaging) {
  TempDir dir;
  for (const char* f : {"a/x", "a.txt", "a-b", "b/c/d", "b/e"}) WriteFile(dir.Sub(f), f);
  ::mkdir(dir.Sub("empty").c_str(), 0755);
  LocalStore store(dir.path());
  ASSERT_TRUE(store.StageBlock("pending-upload", "id", http::Body::FromString("x"), {}).ok());
  EXPECT_EQ(
      PathsOf(ListAll(store, options())),
      (std::vector<std::string>{"a", "a-b", "a.txt", "a/x", "b", "b/c", "b/c/d", "b/e", "empty"}));
  EXPECT_EQ(PathsOf(ListAll(store, options(), "b/")),
            (std::vector<std::string>{"b/c", "b/c/d", "b/e"}));
}

TEST_P(Listing, SkipContentsLeavesOutOneFolderAndNothingElse) {
  TempDir dir;
  for (const char* f : {"a/x", "a/y/z", "a-b", "a.txt", "b/c/d", "b/e"}) WriteFile(dir.Sub(f), f);
  LocalStore store(dir.path());
  auto lister = store.List("", options(/*metadata=*/false));
  ASSERT_TRUE(lister.ok());
  std::vector<std::string> paths;
  storage::Entry entry;
  while (*(*lister)->Next(entry)) {
    paths.push_back(entry.path);
    if (entry.path == "a" || entry.path == "b/c") (*lister)->SkipContents();
  }
  // "a-b" and "a.txt" sort between the folder "a" and its contents, and are still listed.
  EXPECT_EQ(paths, (std::vector<std::string>{"a", "a-b", "a.txt", "b", "b/c", "b/e"}));
}

TEST(LocalStore, ListingOfAMissingRootIsNotFound) {
  TempDir dir;
  LocalStore store(dir.Sub("missing"));
  EXPECT_EQ(store.List("").status().code(), Code::kNotFound);
}

TEST_P(Listing, AWideTreeListsInOrderWithoutLosingItems) {
  TempDir dir;
  std::vector<std::string> expected;
  for (int d = 0; d < 20; ++d) {
    std::string folder = "d" + std::to_string(d);
    expected.push_back(folder);
    for (int f = 0; f < 50; ++f) {
      std::string path = folder + "/f" + std::to_string(f);
      WriteFile(dir.Sub(path), "");
      expected.push_back(path);
    }
  }
  std::sort(expected.begin(), expected.end());
  LocalStore store(dir.path());
  EXPECT_EQ(PathsOf(ListAll(store, options())), expected);
}

TEST_P(Listing, EveryEntryIsWhatTheSerialWalkGives) {
  TempDir dir;
  // Names that sort around '/' ('-', '.', '0'), deep and empty folders, links and a fifo.
  for (const char* f : {"a/x", "a/y/z/deep", "a-b", "a.txt", "a0", "b/c/d", "b/e", "c/c/c/c/c"}) {
    WriteFile(dir.Sub(f), std::string(std::strlen(f), 'x'));
  }
  for (int i = 0; i < 300; ++i) WriteFile(dir.Sub("many/f" + std::to_string(i)), "");
  ::mkdir(dir.Sub("empty").c_str(), 0755);
  ::mkdir(dir.Sub("b/empty").c_str(), 0700);
  ASSERT_EQ(::symlink("a.txt", dir.Sub("link").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", dir.Sub("b/dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir.Sub("b/fifo").c_str(), 0600), 0);
  ::chmod(dir.Sub("a-b").c_str(), 0751);
  LocalStore store(dir.path());
  std::vector<Entry> serial = ListAll(store, {.concurrency = 1}),
                     listed = ListAll(store, options());
  ASSERT_EQ(PathsOf(listed), PathsOf(serial));
  for (size_t i = 0; i < serial.size(); ++i) {
    SCOPED_TRACE(serial[i].path);
    EXPECT_EQ(listed[i].kind, serial[i].kind);
    EXPECT_EQ(listed[i].size, serial[i].size);
    EXPECT_EQ(listed[i].mtime_ns, serial[i].mtime_ns);
    EXPECT_EQ(listed[i].ctime_ns, serial[i].ctime_ns);
    EXPECT_EQ(listed[i].inode, serial[i].inode);
    EXPECT_EQ(listed[i].mode, serial[i].mode);
    EXPECT_EQ(listed[i].link_target, serial[i].link_target);
    EXPECT_EQ(listed[i].metadata, serial[i].metadata);
  }
  EXPECT_EQ(serial.size(), 8u + 300u + 12u + 3u);  // files, folders, links and the fifo
}

TEST_P(Listing, AListerClosedHalfWayStopsItsWorkAndLeavesNothingRunning) {
  TempDir dir;
  for (int d = 0; d < 30; ++d) {
    for (int f = 0; f < 20; ++f) WriteFile(dir.Sub(fmt::format("d{}/f{}", d, f)), "");
  }
  LocalStore store(dir.path());
  for (int stop_after : {0, 1, 50, 500}) {
    auto lister = store.List("", options(/*metadata=*/false));
    ASSERT_TRUE(lister.ok());
    Entry entry;
    for (int i = 0; i < stop_after; ++i) ASSERT_TRUE(*(*lister)->Next(entry));
  }  // each lister goes with work queued; a sanitizer build sees any use after it
}

TEST(LocalStore, LinksAreFollowedOnlyInsideTheRoot) {
  TempDir dir;
  WriteFile(dir.Sub("outside/secret"), "secret");
  WriteFile(dir.Sub("root/docs/a.txt"), "inside");
  ASSERT_EQ(::symlink(dir.Sub("outside/secret").c_str(), dir.Sub("root/absolute-out").c_str()), 0);
  ASSERT_EQ(::symlink("../outside/secret", dir.Sub("root/relative-out").c_str()), 0);
  ASSERT_EQ(::symlink("docs/a.txt", dir.Sub("root/inside").c_str()), 0);
  ASSERT_EQ(::symlink(dir.Sub("root/docs/a.txt").c_str(), dir.Sub("root/absolute-in").c_str()), 0);
  // A root reached through a link of its own is no way out either.
  ASSERT_EQ(::symlink(dir.Sub("root").c_str(), dir.Sub("alias").c_str()), 0);
  LocalStore store(dir.Sub("alias"));
  char buffer[16];
  for (const char* out : {"absolute-out", "relative-out"}) {
    EXPECT_EQ(store.StatTarget(out).status().code(), Code::kRefused) << out;
    auto read = store.ReadInto(out, 0, buffer, sizeof buffer);
    EXPECT_EQ(read.status().code(), Code::kRefused) << out;
    EXPECT_NE(read.status().message().find("link leaves the source"), std::string::npos);
  }
  for (const char* in : {"inside", "absolute-in"}) {
    auto target = store.StatTarget(in);
    ASSERT_TRUE(target.ok()) << in << ": " << target.status().ToString();
    EXPECT_EQ(target->kind, Kind::kFile);
    auto read = store.ReadInto(in, 0, buffer, sizeof buffer);
    ASSERT_TRUE(read.ok()) << in;
    EXPECT_EQ(std::string(buffer, *read), "inside");
  }
}

// For the life of the object, this thread runs without the capabilities that let root read
// any folder, so a folder with mode 000 is unreadable to it as to any service account.
class WithoutDacOverride {
 public:
  WithoutDacOverride() {
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    ::syscall(SYS_capget, &header_, saved_);
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    reduced[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    ::syscall(SYS_capset, &header_, reduced);
  }
  ~WithoutDacOverride() { ::syscall(SYS_capset, &header_, saved_); }

 private:
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
};

TEST_P(Listing, AnUnreadableFolderIsReportedAsUnlistedAndTheListingGoesOn) {
  WithoutDacOverride unprivileged;  // before the lister's threads start: they inherit it
  TempDir dir;
  WriteFile(dir.Sub("root/a/x"), "x");
  WriteFile(dir.Sub("root/b/y"), "y");
  WriteFile(dir.Sub("root/b2/z"), "z");
  WriteFile(dir.Sub("root/c"), "c");
  ASSERT_EQ(::chmod(dir.Sub("root/b").c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir.Sub("root/b2").c_str(), 0), 0);
  LocalStore store(dir.Sub("root"));
  auto lister = store.List("", options(/*metadata=*/false));
  ASSERT_TRUE(lister.ok());
  std::vector<std::string> seen, unlisted;
  Entry entry;
  while (true) {
    auto more = (*lister)->Next(entry);
    if (!more.ok()) {
      unlisted.push_back((*lister)->Unlisted());
      continue;
    }
    if (!*more) break;
    seen.push_back(entry.path);
  }
  ::chmod(dir.Sub("root/b").c_str(), 0755);
  ::chmod(dir.Sub("root/b2").c_str(), 0755);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "a/x", "b", "b2", "c"}));
  EXPECT_EQ(unlisted, (std::vector<std::string>{"b/", "b2/"}));
}

TEST(LocalStore, IdentifiesItsRootAndWhetherItIsEmpty) {
  TempDir dir;
  ::mkdir(dir.Sub("root").c_str(), 0755);
  LocalStore store(dir.Sub("root"));
  auto empty = store.Identify();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty);
  EXPECT_FALSE(empty->mount_point);
  EXPECT_FALSE(empty->filesystem.empty());
  WriteFile(dir.Sub("root/f"), "f");
  auto full = store.Identify();
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->empty);
  EXPECT_EQ(full->root_inode, empty->root_inode);
  EXPECT_TRUE(LocalStore("/").Identify()->mount_point) << "the root of everything is one";
}

TEST(LocalStore, PathsThatEscapeTheRootAreRejected) {
  TempDir dir;
  LocalStore store(dir.path());
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a//b", "./a"}) {
    EXPECT_EQ(store.Write(bad, http::Body::FromString("x"), {}).status().code(),
              Code::kInvalidInput)
        << bad;
  }
}

TEST(LocalStore, WriteNeverLeavesATemporaryFileBehind) {
  TempDir dir;
  LocalStore store(dir.path());
  ASSERT_TRUE(store.Write("f", http::Body::FromString("one"), {}).ok());
  storage::WriteOptions create_only;
  create_only.condition = storage::Condition::IfNoneExists();
  EXPECT_FALSE(store.Write("f", http::Body::FromString("two"), create_only).ok());
  storage::WriteOptions bad_md5;
  bad_md5.content_md5 = Md5::Of("other");
  EXPECT_FALSE(store.Write("g", http::Body::FromString("two"), bad_md5).ok());
  EXPECT_EQ(ListPaths(store), (std::vector<std::string>{"f"}));
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// A name that became a FIFO after it was listed (a sync --checksum reads ahead) must not block
// the read forever: only a regular file is opened.
TEST(LocalStore, ANameThatIsAFifoIsRefusedNotOpened) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.Sub("fifo").c_str(), 0600), 0);
  storage::LocalStore store(dir.path());
  auto md5 = storage::ReadMd5(store, "fifo");
  ASSERT_FALSE(md5.ok());
  EXPECT_NE(md5.status().message().find("not a regular file"), std::string::npos)
      << md5.status().message();
}

}  // namespace
}  // namespace ferry::testing
