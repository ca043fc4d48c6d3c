#include "storage/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <optional>

#include "base/task_pool.h"
#include "storage/stat_calls.h"

namespace ferry::storage {

namespace {

constexpr size_t kIoBuffer = 1 << 20;
// Threads reading folders ahead of a parallel walk: few, since the stats are the many calls and
// each thread costs memory (a stack, a malloc arena).
constexpr int kFolderReaders = 2;
// Folders a parallel walk keeps open at most to stat their names in (past it, by full path):
// well under the usual limit of 1,024 descriptors, which transfers need too.
constexpr int kMaxKeptFolders = 128;

Status ErrnoStatus(int err, std::string_view what, std::string_view path) {
  Code code = err == ENOENT || err == ENOTDIR ? Code::kNotFound : Code::kIo;
  return Status(code, fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

// Rejects paths that would escape the root.
Status CheckRelative(std::string_view path) {
  if (path.empty()) return Status(Code::kInvalidInput, "empty path");
  if (path.front() == '/')
    return Status(Code::kInvalidInput, fmt::format("absolute path '{}'", path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return Status(Code::kInvalidInput,
                    fmt::format("path '{}' has an empty, '.' or '..' part", path));
    }
    start = end + 1;
  }
  return Status::Ok();
}

std::string EtagOf(const struct stat& st) {
  int64_t mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return fmt::format("\"{:x}-{:x}-{:x}\"", uint64_t(st.st_ino), uint64_t(st.st_size), mtime_ns);
}

Status MakeParents(const std::string& absolute) {
  size_t slash = absolute.rfind('/');
  if (slash == 0 || slash == std::string::npos) return Status::Ok();
  std::string dir = absolute.substr(0, slash);
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return Status::Ok();
  FERRY_RETURN_IF_ERROR(MakeParents(dir));
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create folder", dir);
  }
  return Status::Ok();
}

std::optional<int64_t> MetadataInt(const Metadata& metadata, const char* key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Applies the modtime and permissions metadata to a placed file, folder or link.
Status ApplyMetadata(const std::string& absolute, const Metadata& metadata, bool is_link) {
  if (auto mode = MetadataInt(metadata, "permissions"); mode && !is_link) {
    if (::chmod(absolute.c_str(), mode_t(*mode) & 07777) != 0) {
      return ErrnoStatus(errno, "cannot set permissions of", absolute);
    }
  }
  if (auto mtime = MetadataInt(metadata, "modtime")) {
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = *mtime / 1'000'000'000;
    times[1].tv_nsec = *mtime % 1'000'000'000;
    if (::utimensat(AT_FDCWD, absolute.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "cannot set the modification time of", absolute);
    }
  }
  return Status::Ok();
}

// Streams `body` into the open file `fd`, checking `expected_md5` when given.
Status WriteBody(int fd, const http::Body& body, const std::optional<Md5Digest>& expected_md5,
                 const std::string& name) {
  std::string buffer(std::min<uint64_t>(kIoBuffer, std::max<uint64_t>(body.size, 1)), '\0');
  Md5 md5;
  uint64_t done = 0;
  while (done < body.size) {
    Result<size_t> n =
        body.read(done, buffer.data(), std::min<uint64_t>(buffer.size(), body.size - done));
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(Code::kIo, "body ended before its declared size");
    if (expected_md5) md5.Update(buffer.data(), *n);
    for (size_t off = 0; off < *n;) {
      ssize_t w = ::write(fd, buffer.data() + off, *n - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "cannot write", name);
      }
      off += size_t(w);
    }
    done += *n;
  }
  if (expected_md5 && md5.Finish() != *expected_md5) {
    return Status(Code::kInvalidInput, "Content-MD5 does not match the data");
  }
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "cannot flush", name);
  return Status::Ok();
}

// A temporary file beside `absolute`, removed on destruction unless released.
class TempFile {
 public:
  explicit TempFile(const std::string& absolute) {
    size_t slash = absolute.rfind('/');
    path_ = absolute.substr(0, slash + 1) + ".ferry-tmp-XXXXXX";
    fd_ = ::mkstemp(path_.data());
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Release() { released_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool released_ = false;
};

}  // namespace

void AddFileMetadata(Entry& entry) {
  entry.metadata["modtime"] = std::to_string(entry.mtime_ns);
  entry.metadata["permissions"] = std::to_string(entry.mode);
}

// The entry for `st` (an lstat of `absolute`, which reads a link's target).
Status EntryFromStat(const struct stat& st, const std::string& absolute, std::string relative,
                     Entry& entry) {
  entry = Entry{};
  entry.path = std::move(relative);
  entry.mode = st.st_mode;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  entry.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  entry.inode = uint64_t(st.st_ino);
  entry.device = uint64_t(st.st_dev);
  entry.etag = EtagOf(st);
  if (S_ISREG(st.st_mode)) {
    entry.kind = Kind::kFile;
    entry.size = uint64_t(st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    entry.kind = Kind::kFolder;
  } else if (S_ISLNK(st.st_mode)) {
    entry.kind = Kind::kSymlink;
    std::string target(size_t(st.st_size > 0 ? st.st_size : 4096), '\0');
    ssize_t n = ::readlink(absolute.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "cannot read link", absolute);
    target.resize(size_t(n));
    entry.link_target = std::move(target);
    entry.size = entry.link_target.size();
  } else {
    entry.kind = Kind::kSpecial;
  }
  return Status::Ok();
}

Status StatLocal(const std::string& absolute, std::string relative, Entry& entry) {
  struct stat st;
  if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", absolute);
  return EntryFromStat(st, absolute, std::move(relative), entry);
}

// Walks the tree depth first. Each directory's names are read and sorted once; a folder gives
// two events in its parent: its own entry (sorted by its name) and its contents (sorted by
// name + '/'), which together yield every path in ascending byte order.
//
// With a concurrency above 1 (a network share, where each call is a round trip), that many stats
// are kept in flight (StatCalls: io_uring where the kernel allows it): those of the next entries
// of the folder being walked (a window of 4 x concurrency), then those of the first entries of
// the folders read ahead. A few threads read the next folders (at most `concurrency` of them)
// before the walk gets there. Memory grows with folder sizes, as the serial walk's does, not
// with the tree. The entries and their order are those of the serial walk; results are only
// computed earlier.
class LocalStore::TreeLister : public Lister {
 public:
  // With `folder` (a folder's path, "" for the root), lists only what that folder holds,
  // without walking into its folders; `prefix` is then folder + "/" (or "").
  TreeLister(const LocalStore* store, std::string prefix, const ListOptions& options,
             int concurrency, std::optional<std::string> folder = std::nullopt)
      : store_(store),
        prefix_(std::move(prefix)),
        metadata_(options.metadata),
        folder_(std::move(folder)) {
    if (concurrency > 1) {
      stats_ = StatCalls::Open(concurrency, options.io_uring);
      readers_ = std::make_unique<TaskPool>(std::min(concurrency, kFolderReaders));
      read_ahead_ = size_t(concurrency);
      stat_window_ = 4 * size_t(concurrency);
      prime_ = std::max<size_t>(1, size_t(concurrency) / 4);
    }
  }
  ~TreeLister() override {
    // Queued folder reads return at once; the readers join, then the stats in flight complete,
    // before any other member goes.
    cancelled_->store(true);
    readers_.reset();
    ahead_.clear();  // the calls of frames no one will walk are not waited for on threads
    stack_.clear();
    stats_.reset();
  }

  Result<bool> Next(Entry& entry) override {
    if (!started_) {
      started_ = true;
      Result<Frame> root = ReadFolder(folder_.value_or(""));
      if (!root.ok()) return root.status();
      stack_.push_back(std::move(root).value());
    }
    while (!stack_.empty()) {
      ReadAhead();
      Frame& frame = stack_.back();
      if (frame.next == frame.events.size()) {
        stack_.pop_back();
        continue;
      }
      const size_t index = frame.next++;
      const Event& event = frame.events[index];
      std::string rel = JoinPath(frame.rel, event.name);
      if (!Wanted(frame.rel, event)) continue;
      if (event.descend && folder_) continue;  // one folder's level only
      if (event.descend) {
        if (rel == skip_) {
          ahead_.erase(rel);  // read ahead for nothing
          continue;
        }
        Result<Frame> inside = TakeFolder(rel);
        if (!inside.ok()) {  // the listing goes on past this folder on the next call
          unlisted_ = rel + "/";
          return inside.status();
        }
        stack_.push_back(std::move(inside).value());
        continue;
      }
      if (stats_) StartStats(frame, stat_window_);
      Stat stat = TakeStat(frame, index, rel);
      if (stat.status.code() == Code::kNotFound) continue;  // deleted since the folder was read
      if (!stat.status.ok()) {
        unlisted_ = rel;
        return stat.status;
      }
      entry = std::move(stat.entry);
      last_ = rel;
      return true;
    }
    return false;
  }

  // The folder's own descend event comes later in its parent's (sorted) events: it is skipped
  // there.
  void SkipContents() override { skip_ = last_; }

  std::string Unlisted() const override { return unlisted_; }

 private:
  struct Event {
    std::string name;
    bool descend;
  };
  struct Stat {
    Status status;
    Entry entry;
  };
  struct FolderFd {
    FolderFd(int fd, std::shared_ptr<std::atomic<int>> count) : fd(fd), count(std::move(count)) {
      ++*this->count;
    }
    ~FolderFd() {
      ::close(fd);
      --*count;
    }
    int fd;
    std::shared_ptr<std::atomic<int>> count;
  };
  struct Frame {
    std::string rel;
    std::vector<Event> events;
    size_t next = 0;
    size_t ahead = 0;     // events before this one were considered for read-ahead
    size_t started = 0;   // events before this one have their stat started (or need none)
    bool primed = false;  // (read ahead) the stats of its first entries have been started
    std::shared_ptr<const FolderFd> fd;  // (parallel) the folder, open, to stat names in
    std::vector<std::shared_ptr<PendingStat>> stats;  // by event, for those started
  };
  struct Ahead {
    std::future<Result<Frame>> reading;
    std::optional<Result<Frame>> read;  // once the read is over
  };

  // Whether an event is part of this listing: under the prefix, or a folder leading to it.
  bool Wanted(const std::string& parent, const Event& event) const {
    if (parent.empty() && event.name == kStagingFolder) return false;
    std::string rel = JoinPath(parent, event.name);
    if (!event.descend) return rel.starts_with(prefix_);
    std::string inside = rel + "/";
    return inside.starts_with(prefix_) || prefix_.starts_with(inside);
  }

  Stat StatOne(const std::string& rel) const {
    Stat stat;
    stat.status = StatLocal(store_->Absolute(rel), rel, stat.entry);
    if (stat.status.ok() && metadata_) AddFileMetadata(stat.entry);
    return stat;
  }

  Stat TakeStat(Frame& frame, size_t index, const std::string& rel) {
    if (index >= frame.stats.size() || !frame.stats[index]) return StatOne(rel);
    std::shared_ptr<PendingStat> call = std::move(frame.stats[index]);
    stats_->Take(*call);
    Stat stat;
    if (call->error != 0) {
      stat.status = ErrnoStatus(call->error, "cannot stat", call->path);
    } else {
      stat.status = EntryFromStat(call->st, call->path, rel, stat.entry);
    }
    if (stat.status.ok() && metadata_) AddFileMetadata(stat.entry);
    return stat;
  }

  // A folder's events, sorted.
  Result<Frame> ReadFolder(const std::string& rel) const {
    std::string absolute = rel.empty() ? store_->root_ : store_->Absolute(rel);
    DIR* dir = ::opendir(absolute.c_str());
    if (dir == nullptr) {
      if (rel.empty()) return ErrnoStatus(errno, "cannot list", absolute);
      return ErrnoStatus(errno, "cannot list folder", absolute);
    }
    Frame frame{rel, {}, 0, 0, 0, false, nullptr, {}};
    while (true) {
      errno = 0;
      struct dirent* d = ::readdir(dir);
      if (d == nullptr) {
        // A folder read in part is a folder not read: its missing names are not deletions.
        int err = errno;
        if (err == 0 && stats_ && kept_fds_->load() < kMaxKeptFolders) {
          // Its names are stat'ed in it: no lookup of the folder for each.
          int kept = ::fcntl(::dirfd(dir), F_DUPFD_CLOEXEC, 0);
          if (kept >= 0) frame.fd.reset(new FolderFd(kept, kept_fds_));
        }
        ::closedir(dir);
        if (err != 0) return ErrnoStatus(err, "cannot read folder", absolute);
        break;
      }
      std::string_view name = d->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = d->d_type == DT_DIR;
      if (d->d_type == DT_UNKNOWN) {
        struct stat st;
        std::string child = absolute + "/" + std::string(name);
        // A name that cannot be stat'ed here (EIO, a timeout, EACCES) may be a folder: it is
        // walked, so that its read reports what is wrong, instead of its contents going
        // unseen (and taken for deleted). Only a name gone since the read is not.
        if (::lstat(child.c_str(), &st) == 0) {
          is_dir = S_ISDIR(st.st_mode);
        } else {
          is_dir = errno != ENOENT;
        }
      }
      frame.events.push_back({std::string(name), false});
      if (is_dir) frame.events.push_back({std::string(name) + "/", true});
    }
    std::sort(frame.events.begin(), frame.events.end(),
              [](const Event& a, const Event& b) { return a.name < b.name; });
    for (Event& e : frame.events) {
      if (e.descend) e.name.pop_back();
    }
    return frame;
  }

  // Keeps the stats of the frame's next entries under way, a window of them ahead of the walk
  // (so memory does not grow with the folder's size), as far as there is room for more calls.
  void StartStats(Frame& frame, size_t window) {
    if (frame.stats.size() != frame.events.size()) frame.stats.resize(frame.events.size());
    const size_t until = std::min(frame.events.size(), frame.next + window);
    frame.started = std::max(frame.started, frame.next);  // those passed were stat'ed there
    for (; frame.started < until && stats_->Room() > 0; ++frame.started) {
      const Event& e = frame.events[frame.started];
      if (e.descend || !Wanted(frame.rel, e)) continue;
      std::string absolute = store_->Absolute(JoinPath(frame.rel, e.name));
      frame.stats[frame.started] =
          frame.fd ? stats_->StartAt(frame.fd->fd, e.name, std::move(absolute), frame.fd)
                   : stats_->Start(std::move(absolute));
    }
    if (frame.started == frame.events.size()) frame.fd.reset();  // its calls keep it meanwhile
  }

  // The folders the walk reaches next, read before it gets there: the deepest frame's first.
  // Those read already get the stats of their first entries started, so the walk does not wait
  // for them when it gets there.
  void ReadAhead() {
    if (!stats_) return;
    if (!stack_.empty()) StartStats(stack_.back(), stat_window_);  // the walk's own come first
    for (auto& [rel, ahead] : ahead_) {
      if (stats_->Room() == 0) break;
      if (!ahead.read) {
        if (ahead.reading.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
        ahead.read = ahead.reading.get();
      }
      if (ahead.read->ok() && !(*ahead.read)->primed) {
        Frame& frame = ahead.read->value();
        StartStats(frame, prime_);
        frame.primed = frame.started == std::min(frame.events.size(), prime_);
      }
    }
    for (auto frame = stack_.rbegin(); frame != stack_.rend(); ++frame) {
      frame->ahead = std::max(frame->ahead, frame->next);
      while (ahead_.size() < read_ahead_ && frame->ahead < frame->events.size()) {
        const Event& e = frame->events[frame->ahead++];
        if (!e.descend || folder_ || !Wanted(frame->rel, e)) continue;
        std::string rel = JoinPath(frame->rel, e.name);
        auto task = std::make_shared<std::packaged_task<Result<Frame>()>>(
            [this, rel, cancelled = cancelled_]() -> Result<Frame> {
              if (cancelled->load()) return Status(Code::kCancelled, "listing closed");
              return ReadFolder(rel);
            });
        ahead_.emplace(rel, Ahead{task->get_future(), std::nullopt});
        readers_->Submit([task] { (*task)(); });
      }
      if (ahead_.size() >= read_ahead_) return;
    }
  }

  Result<Frame> TakeFolder(const std::string& rel) {
    auto it = ahead_.find(rel);
    if (it == ahead_.end()) return ReadFolder(rel);
    Result<Frame> frame = it->second.read ? std::move(*it->second.read) : it->second.reading.get();
    ahead_.erase(it);
    return frame;
  }

  const LocalStore* store_;
  std::string prefix_;
  bool metadata_;
  std::optional<std::string> folder_;  // the one folder listed, without walking deeper
  std::vector<Frame> stack_;
  bool started_ = false;
  std::string last_;        // the path Next returned last
  std::string skip_;        // a folder whose contents are not walked
  std::string unlisted_;    // what the last error left unknown
  size_t read_ahead_ = 0;   // folders read ahead of the walk, at most
  size_t stat_window_ = 0;  // stats under way ahead of the walk in a folder, at most
  size_t prime_ = 0;        // stats started in each folder read ahead, before the walk is there
  std::map<std::string, Ahead> ahead_;  // folders read ahead, by path
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  // Folder descriptors kept open for stats (each frame's, while it or a call of it needs it).
  std::shared_ptr<std::atomic<int>> kept_fds_ = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<StatCalls> stats_;   // with a concurrency above 1
  std::unique_ptr<TaskPool> readers_;  // last: its tasks finish before anything else goes
};

LocalStore::LocalStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalStore::Absolute(std::string_view path) const {
  return root_ == "/" ? "/" + std::string(path) : root_ + "/" + std::string(path);
}

std::string LocalStore::StagingDir(std::string_view path) const {
  return Absolute(kStagingFolder) + "/" + Md5Hex(Md5::Of(path));
}

Status LocalStore::CreateRoot() {
  FERRY_RETURN_IF_ERROR(MakeParents(root_ + "/x"));
  return Status::Ok();
}

namespace {

// The name of a file system type from statfs(2), for the few a share is usually on.
std::string FilesystemName(uint64_t type) {
  switch (type) {
    case 0x6969:
      return "nfs";
    case 0xFF534D42:
      return "cifs";
    case 0xFE534D42:
      return "smb2";
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlay";
    case 0x65735546:
      return "fuse";
    default:
      return fmt::format("0x{:x}", type);
  }
}

// Where each metadata call is a round trip (or unknown): worth keeping many in flight.
bool IsNetworkFilesystem(uint64_t type) {
  for (uint64_t local :
       {0xEF53ull, 0x58465342ull, 0x9123683Eull, 0x2FC12FC1ull, 0x01021994ull, 0x794C7630ull}) {
    if (type == local) return false;  // ext2/3/4, xfs, btrfs, zfs, tmpfs, overlay
  }
  return true;
}

}  // namespace

Result<RootIdentity> LocalStore::Identify() {
  struct stat root, parent;
  if (::stat(root_.c_str(), &root) != 0) return ErrnoStatus(errno, "cannot stat", root_);
  std::string up = root_ == "/" ? "/" : root_ + "/..";
  if (::stat(up.c_str(), &parent) != 0) return ErrnoStatus(errno, "cannot stat", up);
  struct statfs fs;
  if (::statfs(root_.c_str(), &fs) != 0) return ErrnoStatus(errno, "cannot statfs", root_);
  RootIdentity id;
  id.filesystem = FilesystemName(uint64_t(fs.f_type));
  id.root_inode = uint64_t(root.st_ino);
  id.mount_point = root.st_dev != parent.st_dev || root.st_ino == parent.st_ino;
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, "cannot list", root_);
  id.empty = true;
  while (struct dirent* d = ::readdir(dir)) {
    std::string_view name = d->d_name;
    if (name != "." && name != ".." && name != kStagingFolder) {
      id.empty = false;
      break;
    }
  }
  ::closedir(dir);
  return id;
}

Result<std::unique_ptr<Lister>> LocalStore::List(std::string_view prefix, ListOptions options) {
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot list", root_);
  if (!S_ISDIR(st.st_mode))
    return Status(Code::kInvalidInput, fmt::format("'{}' is not a folder", root_));
  return std::unique_ptr<Lister>(
      new TreeLister(this, std::string(prefix), options, Concurrency(options)));
}

int LocalStore::Concurrency(const ListOptions& options) const {
  if (options.concurrency > 0) return options.concurrency;
  struct statfs fs;
  return ::statfs(root_.c_str(), &fs) == 0 && IsNetworkFilesystem(uint64_t(fs.f_type))
             ? kNetworkListConcurrency
             : 1;
}

Result<LevelPage> LocalStore::ListLevel(std::string_view prefix, std::string_view marker,
                                        const ListOptions& options) {
  (void)marker;  // one page: a folder's names are read whole, as the walk reads them
  std::string folder(prefix);
  if (!folder.empty()) folder.pop_back();  // "dir/" -> "dir"
  FERRY_RETURN_IF_ERROR(folder.empty() ? Status::Ok() : CheckRelative(folder));
  TreeLister lister(this, std::string(prefix), options, Concurrency(options), folder);
  LevelPage page;
  Entry entry;
  while (true) {
    Result<bool> more = lister.Next(entry);
    if (!more.ok()) {
      std::string unlisted = lister.Unlisted();
      // The folder itself could not be read: the caller says so for all it holds.
      if (unlisted.empty() || unlisted == prefix) return more.status();
      page.unlisted.emplace_back(unlisted, more.status().message());
      continue;
    }
    if (!*more) break;
    if (entry.kind == Kind::kFolder) page.prefixes.push_back(entry.path + "/");
    page.entries.push_back(std::move(entry));
  }
  return page;
}

Result<Entry> LocalStore::Stat(std::string_view path) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  Entry entry;
  FERRY_RETURN_IF_ERROR(StatLocal(Absolute(path), std::string(path), entry));
  AddFileMetadata(entry);
  return entry;
}

Status LocalStore::CheckInside(const std::string& resolved, const std::string& absolute) const {
  char* root = ::realpath(root_.c_str(), nullptr);
  if (root == nullptr) return ErrnoStatus(errno, "cannot resolve", root_);
  std::string inside = root;
  std::free(root);
  if (inside != "/") inside += "/";
  if (resolved.starts_with(inside)) return Status::Ok();
  return Status(Code::kRefused,
                fmt::format("link leaves the source: '{}' leads to '{}'", absolute, resolved));
}

Result<int> LocalStore::OpenForReading(const std::string& absolute) const {
  // O_NONBLOCK: a name that became a FIFO since it was listed must not block the open; only a
  // regular file is read.
  int fd = ::open(absolute.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd >= 0) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status(Code::kIo, fmt::format("'{}' is not a regular file", absolute));
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // reads of it wait, as ever
    return fd;
  }
  if (errno != ELOOP) return ErrnoStatus(errno, "cannot open", absolute);
  // A link: followed only to a regular file inside the root, as it is now (not as it was
  // scanned), and checked before it is opened (opening a FIFO or a device may block or act).
  char* resolved = ::realpath(absolute.c_str(), nullptr);
  if (resolved == nullptr) return ErrnoStatus(errno, "cannot follow", absolute);
  std::string target = resolved;
  std::free(resolved);
  FERRY_RETURN_IF_ERROR(CheckInside(target, absolute));
  fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", absolute);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(Code::kIo, fmt::format("'{}' does not lead to a regular file", absolute));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<Entry> LocalStore::StatTarget(std::string_view path) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  struct stat st;
  if (::stat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot follow", absolute);
  if (char* resolved = ::realpath(absolute.c_str(), nullptr)) {
    Status inside = CheckInside(resolved, absolute);
    std::free(resolved);
    FERRY_RETURN_IF_ERROR(inside);
  } else {
    return ErrnoStatus(errno, "cannot follow", absolute);
  }
  Entry entry;
  FERRY_RETURN_IF_ERROR(StatLocal(absolute, std::string(path), entry));
  if (entry.kind != Kind::kSymlink) return entry;
  entry.kind = S_ISREG(st.st_mode)   ? Kind::kFile
               : S_ISDIR(st.st_mode) ? Kind::kFolder
                                     : Kind::kSpecial;
  entry.size = S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
  entry.mode = st.st_mode;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  entry.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  entry.inode = uint64_t(st.st_ino);
  entry.device = uint64_t(st.st_dev);
  entry.etag = EtagOf(st);
  return entry;
}

Status LocalStore::Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  Result<int> opened = OpenForReading(absolute);
  if (!opened.ok()) return opened.status();
  int fd = *opened;
  const size_t size = size_t(std::min<uint64_t>(kIoBuffer, std::max<uint64_t>(length, 1)));
  auto buffer = std::make_unique_for_overwrite<char[]>(size);
  Status status;
  uint64_t done = 0;
  while (done < length) {
    size_t want = std::min<uint64_t>(size, length - done);
    ssize_t n = ::pread(fd, buffer.get(), want, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus(errno, "cannot read", absolute);
      break;
    }
    if (n == 0) break;
    if (!sink.write(buffer.get(), size_t(n))) {
      status = Status(Code::kIo, "the sink refused the data");
      break;
    }
    done += uint64_t(n);
  }
  ::close(fd);
  return status;
}

Result<size_t> LocalStore::ReadInto(std::string_view path, uint64_t offset, char* buffer,
                                    size_t length) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  Result<int> opened = OpenForReading(absolute);
  if (!opened.ok()) return opened.status();
  int fd = *opened;
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, buffer + done, length - done, off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status status = ErrnoStatus(errno, "cannot read", absolute);
      ::close(fd);
      return status;
    }
    if (n == 0) break;
    done += size_t(n);
  }
  ::close(fd);
  return done;
}

Result<WriteResult> LocalStore::Place(std::string_view path, const std::string& temp,
                                      const WriteOptions& options) {
  std::string absolute = Absolute(path);
  switch (options.condition.type) {
    case Condition::Type::kNone:
      if (::rename(temp.c_str(), absolute.c_str()) != 0) {
        return ErrnoStatus(errno, "cannot move into place", absolute);
      }
      break;
    case Condition::Type::kIfNoneExists:
      if (::link(temp.c_str(), absolute.c_str()) != 0) {
        int err = errno;
        if (err == EEXIST) {
          return Status(Code::kAlreadyExists, fmt::format("'{}' already exists", path));
        }
        return ErrnoStatus(err, "cannot move into place", absolute);
      }
      ::unlink(temp.c_str());
      break;
    case Condition::Type::kIfMatch: {
      struct stat st;
      if (::lstat(absolute.c_str(), &st) != 0 || EtagOf(st) != options.condition.etag) {
        return Status(Code::kPreconditionFailed,
                      fmt::format("'{}' is not at version {}", path, options.condition.etag));
      }
      if (::rename(temp.c_str(), absolute.c_str()) != 0) {
        return ErrnoStatus(errno, "cannot move into place", absolute);
      }
      break;
    }
  }
  struct stat st;
  if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", absolute);
  return WriteResult{.etag = EtagOf(st)};
}

Result<WriteResult> LocalStore::Write(std::string_view path, const http::Body& body,
                                      const WriteOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  FERRY_RETURN_IF_ERROR(MakeParents(absolute));
  Kind kind = KindFromMetadata(options.metadata);

  if (kind == Kind::kFolder) {
    if (::mkdir(absolute.c_str(), 0777) != 0) {
      int err = errno;
      if (err != EEXIST) return ErrnoStatus(err, "cannot create folder", absolute);
      if (options.condition.type == Condition::Type::kIfNoneExists) {
        return Status(Code::kAlreadyExists, fmt::format("'{}' already exists", path));
      }
    }
    FERRY_RETURN_IF_ERROR(ApplyMetadata(absolute, options.metadata, false));
    struct stat st;
    if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", absolute);
    return WriteResult{.etag = EtagOf(st)};
  }

  TempFile temp(absolute);
  if (!temp.ok()) return ErrnoStatus(errno, "cannot create a temporary file beside", absolute);
  if (kind == Kind::kSymlink) {
    Result<std::string> target = ReadAll(body);
    if (!target.ok()) return target.status();
    temp.Close();
    ::unlink(temp.path().c_str());
    if (::symlink(target->c_str(), temp.path().c_str()) != 0) {
      return ErrnoStatus(errno, "cannot create link", absolute);
    }
  } else {
    FERRY_RETURN_IF_ERROR(WriteBody(temp.fd(), body, options.content_md5, absolute));
    temp.Close();
  }
  FERRY_RETURN_IF_ERROR(ApplyMetadata(temp.path(), options.metadata, kind == Kind::kSymlink));
  Result<WriteResult> placed = Place(path, temp.path(), options);
  if (placed.ok() && options.condition.type != Condition::Type::kIfNoneExists) temp.Release();
  return placed;
}

Status LocalStore::StageBlock(std::string_view path, std::string_view block_id,
                              const http::Body& body, const std::optional<Md5Digest>& md5) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string dir = StagingDir(path);
  FERRY_RETURN_IF_ERROR(MakeParents(dir + "/x"));
  // The length rule of block ids holds per item, as on Azure.
  if (auto staged = ListStagedBlocks(path);
      staged.ok() && !staged->empty() && staged->front().id.size() != block_id.size()) {
    return Status(Code::kInvalidInput, "block ids of one item must have the same length");
  }
  std::string block = dir + "/" + HexEncode(block_id);
  TempFile temp(block);
  if (!temp.ok()) return ErrnoStatus(errno, "cannot create a temporary file beside", block);
  FERRY_RETURN_IF_ERROR(WriteBody(temp.fd(), body, md5, block));
  temp.Close();
  if (::rename(temp.path().c_str(), block.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot store block", block);
  }
  temp.Release();
  return Status::Ok();
}

Result<WriteResult> LocalStore::Commit(std::string_view path,
                                       const std::vector<std::string>& block_ids,
                                       const WriteOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  FERRY_RETURN_IF_ERROR(MakeParents(absolute));
  std::string dir = StagingDir(path);
  TempFile temp(absolute);
  if (!temp.ok()) return ErrnoStatus(errno, "cannot create a temporary file beside", absolute);
  std::string buffer(kIoBuffer, '\0');
  for (const std::string& id : block_ids) {
    std::string block = dir + "/" + HexEncode(id);
    int fd = ::open(block.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Status(Code::kInvalidInput, fmt::format("block '{}' of '{}' is not staged", id, path));
    }
    ssize_t n;
    while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) {
      if (::write(temp.fd(), buffer.data(), size_t(n)) != n) {
        ::close(fd);
        return ErrnoStatus(errno, "cannot write", temp.path());
      }
    }
    ::close(fd);
    if (n < 0) return ErrnoStatus(errno, "cannot read", block);
  }
  if (::fsync(temp.fd()) != 0) return ErrnoStatus(errno, "cannot flush", temp.path());
  temp.Close();
  FERRY_RETURN_IF_ERROR(ApplyMetadata(temp.path(), options.metadata, false));
  Result<WriteResult> placed = Place(path, temp.path(), options);
  if (!placed.ok()) return placed;
  if (options.condition.type != Condition::Type::kIfNoneExists) temp.Release();
  // Staged blocks are discarded on commit, as on Azure.
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ::unlink((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
    ::rmdir(dir.c_str());
  }
  return placed;
}

Result<std::vector<StagedBlock>> LocalStore::ListStagedBlocks(std::string_view path) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::vector<StagedBlock> blocks;
  std::string dir = StagingDir(path);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return blocks;
    return ErrnoStatus(errno, "cannot list", dir);
  }
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ".", ".." and temporary files
    std::string hex = e->d_name;
    std::string id;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      id += char(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    struct stat st;
    if (::stat((dir + "/" + hex).c_str(), &st) == 0) blocks.push_back({id, uint64_t(st.st_size)});
  }
  ::closedir(d);
  std::sort(blocks.begin(), blocks.end(),
            [](const StagedBlock& a, const StagedBlock& b) { return a.id < b.id; });
  return blocks;
}

Result<WriteResult> LocalStore::SetMetadata(std::string_view path, const Metadata& metadata,
                                            const Condition& condition) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  struct stat st;
  if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", absolute);
  if (condition.type == Condition::Type::kIfMatch && EtagOf(st) != condition.etag) {
    return Status(Code::kPreconditionFailed,
                  fmt::format("'{}' is not at version {}", path, condition.etag));
  }
  FERRY_RETURN_IF_ERROR(ApplyMetadata(absolute, metadata, S_ISLNK(st.st_mode)));
  if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot stat", absolute);
  return WriteResult{.etag = EtagOf(st)};
}

Status LocalStore::SetTier(std::string_view, std::string_view) {
  return Status(Code::kUnsupported, "a local folder has no access tiers");
}

Status LocalStore::Delete(std::string_view path, const Condition& condition) {
  FERRY_RETURN_IF_ERROR(CheckRelative(path));
  std::string absolute = Absolute(path);
  struct stat st;
  if (::lstat(absolute.c_str(), &st) != 0) return ErrnoStatus(errno, "cannot delete", absolute);
  if (condition.type == Condition::Type::kIfMatch && EtagOf(st) != condition.etag) {
    return Status(Code::kPreconditionFailed,
                  fmt::format("'{}' is not at version {}", path, condition.etag));
  }
  int rc = S_ISDIR(st.st_mode) ? ::rmdir(absolute.c_str()) : ::unlink(absolute.c_str());
  if (rc != 0) return ErrnoStatus(errno, "cannot delete", absolute);
  return Status::Ok();
}

}  // namespace ferry::storage
