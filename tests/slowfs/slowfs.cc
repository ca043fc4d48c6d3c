// slowfs: a read-only FUSE passthrough of a folder that waits before every metadata call and
// open (and, if asked, every read), the way an NFS or SMB mount of a NAS pays a network round
// trip for each. For the tests and benchmarks of scanning and copying from network shares.
//
//   slowfs BACKING MOUNTPOINT [--delay-us N] [--read-delay-us N] [FUSE options, e.g. -f]
//   fusermount3 -u MOUNTPOINT
//
// The kernel caches nothing (attribute, entry and negative timeouts are 0), so every stat,
// lookup, folder read and open reaches slowfs and waits, as an uncached network call would.
// Calls are served by many threads, so concurrent calls overlap like concurrent round trips.
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_backing;
std::chrono::microseconds g_delay{1000};
std::chrono::microseconds g_read_delay{0};

void Wait(std::chrono::microseconds delay) {
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
}

std::string Backing(const char* path) { return g_backing + path; }

void* Init(fuse_conn_info*, fuse_config* config) {
  config->use_ino = 1;
  config->attr_timeout = 0;
  config->entry_timeout = 0;
  config->negative_timeout = 0;
  return nullptr;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info*) {
  Wait(g_delay);
  return ::lstat(Backing(path).c_str(), st) == 0 ? 0 : -errno;
}

int ReadLink(const char* path, char* buf, size_t size) {
  Wait(g_delay);
  ssize_t n = ::readlink(Backing(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int OpenDir(const char* path, fuse_file_info* fi) {
  Wait(g_delay);
  DIR* dir = ::opendir(Backing(path).c_str());
  if (dir == nullptr) return -errno;
  fi->fh = reinterpret_cast<uint64_t>(dir);
  return 0;
}

int ReadDir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi,
            fuse_readdir_flags) {
  Wait(g_delay);
  DIR* dir = reinterpret_cast<DIR*>(fi->fh);
  ::rewinddir(dir);
  while (true) {
    errno = 0;
    struct dirent* d = ::readdir(dir);
    if (d == nullptr) return errno == 0 ? 0 : -errno;
    struct stat st {};
    st.st_ino = d->d_ino;
    st.st_mode = DTTOIF(d->d_type);  // the type, as NFS's READDIRPLUS gives it
    if (fill(buf, d->d_name, &st, 0, fuse_fill_dir_flags(0)) != 0) return 0;
  }
}

int ReleaseDir(const char*, fuse_file_info* fi) {
  ::closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  Wait(g_delay);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  int fd = ::open(Backing(path).c_str(), fi->flags);
  if (fd < 0) return -errno;
  fi->fh = uint64_t(fd);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Wait(g_read_delay);
  ssize_t n = ::pread(int(fi->fh), buf, size, offset);
  return n < 0 ? -errno : int(n);
}

int Release(const char*, fuse_file_info* fi) {
  ::close(int(fi->fh));
  return 0;
}

int StatFs(const char* path, struct statvfs* st) {
  Wait(g_delay);
  return ::statvfs(Backing(path).c_str(), st) == 0 ? 0 : -errno;
}

int Usage(const char* problem) {
  std::fprintf(stderr,
               "slowfs: %s\nusage: slowfs BACKING MOUNTPOINT [--delay-us N] [--read-delay-us N] "
               "[FUSE options]\n",
               problem);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage("give the backing folder and the mount point");
  char resolved[PATH_MAX];
  if (::realpath(argv[1], resolved) == nullptr) return Usage("the backing folder does not exist");
  g_backing = resolved;
  std::vector<char*> fuse_args{argv[0], argv[2], const_cast<char*>("-o"),
                               const_cast<char*>("ro,default_permissions,max_threads=256")};
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--delay-us" || arg == "--read-delay-us") && i + 1 < argc) {
      auto us = std::chrono::microseconds(std::atoll(argv[++i]));
      (arg == "--delay-us" ? g_delay : g_read_delay) = us;
    } else {
      fuse_args.push_back(argv[i]);
    }
  }
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readlink = ReadLink;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.statfs = StatFs;
  return fuse_main(int(fuse_args.size()), fuse_args.data(), &ops, nullptr);
}
