#include "storage/stat_calls.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/sysmacros.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <unordered_map>

#include "base/task_pool.h"

namespace ferry::storage {

using Statx = struct statx;  // the struct, not the function

PendingStat::~PendingStat() { delete static_cast<Statx*>(buffer); }

namespace {

void StatNow(PendingStat& call) {
  int done = call.dir == AT_FDCWD
                 ? ::lstat(call.path.c_str(), &call.st)
                 : ::fstatat(call.dir, call.name.c_str(), &call.st, AT_SYMLINK_NOFOLLOW);
  call.error = done == 0 ? 0 : errno;
}

struct stat FromStatx(const struct statx& x) {
  struct stat st {};
  st.st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  st.st_ino = x.stx_ino;
  st.st_mode = x.stx_mode;
  st.st_nlink = x.stx_nlink;
  st.st_uid = x.stx_uid;
  st.st_gid = x.stx_gid;
  st.st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  st.st_size = off_t(x.stx_size);
  st.st_blksize = blksize_t(x.stx_blksize);
  st.st_blocks = blkcnt_t(x.stx_blocks);
  st.st_atim = {x.stx_atime.tv_sec, long(x.stx_atime.tv_nsec)};
  st.st_mtim = {x.stx_mtime.tv_sec, long(x.stx_mtime.tv_nsec)};
  st.st_ctim = {x.stx_ctime.tv_sec, long(x.stx_ctime.tv_nsec)};
  return st;
}

// Whether an errno from a statx is the file system's answer about the path (rather than the
// ring's own trouble: EINVAL, ECANCELED, EAGAIN, EINTR, ...).
bool IsAnswer(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
    case ELOOP:
    case ENAMETOOLONG:
    case EIO:
    case ESTALE:
    case ETIMEDOUT:
    case EHOSTDOWN:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

class ThreadStatCalls : public StatCalls {
 public:
  explicit ThreadStatCalls(int concurrency) : pool_(concurrency) {}

  void Submit(const std::shared_ptr<PendingStat>& call) override {
    // Weak: the call's future holds the task, and a call dropped before it runs needs no run.
    call->ran = pool_.Submit([weak = std::weak_ptr<PendingStat>(call)] {
      if (std::shared_ptr<PendingStat> call = weak.lock()) StatNow(*call);
    });
  }
  void Take(PendingStat& call) override {
    if (call.ran.valid()) call.ran.get();
  }
  // Calls queue on the pool: the caller bounds how many it starts.
  size_t Room() override { return SIZE_MAX; }
  const char* Kind() const override { return "threads"; }

 private:
  TaskPool pool_;
};

class RingStatCalls : public StatCalls {
 public:
  ~RingStatCalls() override {
    if (!ready_) return;
    while (!broken_ && !in_flight_.empty()) ReapOne();
    io_uring_queue_exit(&ring_);
    // A broken ring's calls may still be written by the kernel: their memory is left alone.
    for (auto& [raw, call] : in_flight_) new std::shared_ptr<PendingStat>(call);
  }

  static std::unique_ptr<StatCalls> Open(int concurrency) {
    auto calls = std::unique_ptr<RingStatCalls>(new RingStatCalls(concurrency));
    if (io_uring_queue_init(std::bit_ceil(unsigned(concurrency)), &calls->ring_, 0) != 0) {
      return nullptr;
    }
    calls->ready_ = true;
    // Kernels before 5.6 have io_uring but not its statx.
    io_uring_probe* probe = io_uring_get_probe_ring(&calls->ring_);
    bool statx = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_STATX);
    if (probe != nullptr) io_uring_free_probe(probe);
    if (!statx) return nullptr;  // the ring goes with `calls`
    // The kernel runs a statx on a worker of its own; by default it keeps 4 per CPU for one
    // ring, too few to hide a round trip.
    unsigned workers[2] = {unsigned(concurrency), unsigned(concurrency)};
    io_uring_register_iowq_max_workers(&calls->ring_, workers);
    return calls;
  }

  void Submit(const std::shared_ptr<PendingStat>& call) override {
    while (!broken_ && in_flight_.size() >= depth_) ReapOne();
    io_uring_sqe* sqe = broken_ ? nullptr : io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // a broken ring (or, not expected, a full one): the call runs here
      StatNow(*call);
      call->done = true;
      return;
    }
    auto* buffer = new Statx();
    call->buffer = buffer;
    const bool at = call->dir != AT_FDCWD;
    io_uring_prep_statx(sqe, call->dir, at ? call->name.c_str() : call->path.c_str(),
                        AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer);
    io_uring_sqe_set_data(sqe, call.get());
    in_flight_.emplace(call.get(), call);
    int submitted;
    do {
      submitted = io_uring_submit(&ring_);
    } while (submitted == -EINTR);
    if (submitted < 0) {  // the kernel took nothing (it may later): the call runs here
      broken_ = true;
      StatNow(*call);
      call->done = true;
    }
  }

  void Take(PendingStat& call) override {
    while (!call.done) ReapOne();
  }
  size_t Room() override {
    while (!broken_ && !in_flight_.empty() && Reap(/*wait=*/false)) {
    }
    return broken_ || in_flight_.size() >= depth_ ? 0 : depth_ - in_flight_.size();
  }
  const char* Kind() const override { return "io_uring"; }

 private:
  explicit RingStatCalls(int concurrency) : depth_(size_t(concurrency)) {}

  void ReapOne() { Reap(/*wait=*/true); }

  // Records one completion in its call (waiting for one, or only if there is one); false if
  // there was none.
  bool Reap(bool wait) {
    io_uring_cqe* cqe = nullptr;
    int waited;
    if (!wait) {
      if (io_uring_peek_cqe(&ring_, &cqe) != 0) return false;
      waited = 0;
    } else {
      do {
        waited = io_uring_wait_cqe(&ring_, &cqe);
      } while (waited == -EINTR || waited == -EAGAIN);
    }
    if (waited < 0) {  // the ring failed: the calls it holds run here instead
      broken_ = true;
      for (auto& [raw, call] : in_flight_) {
        if (call->done) continue;
        StatNow(*call);
        call->done = true;
      }
      return false;
    }
    auto* call = static_cast<PendingStat*>(io_uring_cqe_get_data(cqe));
    if (cqe->res < 0 && !IsAnswer(-cqe->res)) {
      StatNow(*call);  // the ring's trouble, not the file's: asked again here
    } else if (cqe->res < 0) {
      call->error = -cqe->res;
    } else {
      call->st = FromStatx(*static_cast<Statx*>(call->buffer));
    }
    delete static_cast<Statx*>(call->buffer);  // the result is in st: calls taken later keep less
    call->buffer = nullptr;
    call->done = true;
    io_uring_cqe_seen(&ring_, cqe);
    in_flight_.erase(call);  // may free the call: nothing else holds it
    return true;
  }

  size_t depth_;
  bool ready_ = false;  // the ring was set up
  bool broken_ = false;
  io_uring ring_{};
  // The calls the kernel holds (it writes their buffers), kept alive until they complete.
  std::unordered_map<PendingStat*, std::shared_ptr<PendingStat>> in_flight_;
};

}  // namespace

std::shared_ptr<PendingStat> StatCalls::Start(std::string absolute) {
  auto call = std::make_shared<PendingStat>();
  call->path = std::move(absolute);
  Submit(call);
  return call;
}

std::shared_ptr<PendingStat> StatCalls::StartAt(int dir, std::string name, std::string absolute,
                                                std::shared_ptr<const void> keep) {
  auto call = std::make_shared<PendingStat>();
  call->path = std::move(absolute);
  call->dir = dir;
  call->name = std::move(name);
  call->keep = std::move(keep);
  Submit(call);
  return call;
}

std::unique_ptr<StatCalls> StatCalls::Open(int concurrency, bool ring) {
  if (concurrency < 1) concurrency = 1;
  if (ring) {
    if (std::unique_ptr<StatCalls> calls = RingStatCalls::Open(concurrency)) return calls;
  }
  return std::make_unique<ThreadStatCalls>(concurrency);
}

}  // namespace ferry::storage
