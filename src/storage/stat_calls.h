// lstat calls started ahead of need and taken later, many in flight at once: where each call is
// a network round trip (an NFS or SMB share), the walk of a folder does not wait on them one by
// one.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <future>
#include <memory>
#include <string>

namespace ferry::storage {

// One call: the path it stats, and once taken, its result.
struct PendingStat {
  std::string path;                  // absolute (for messages, and the call when dir is AT_FDCWD)
  int dir = AT_FDCWD;                // or an open folder `name` is in (one lookup fewer)
  std::string name;                  // with dir
  std::shared_ptr<const void> keep;  // keeps `dir` open while the call is in flight
  struct stat st {};                 // the result, when error is 0
  int error = 0;                     // the call's errno
  bool done = false;                 // (io_uring) the call's completion has been seen
  std::future<void> ran;             // (threads) ready when the call has run
  void* buffer = nullptr;            // (io_uring) where the kernel writes the result
  ~PendingStat();
};

class StatCalls {
 public:
  // Up to `concurrency` calls in flight from the calling thread through io_uring (statx, run by
  // the kernel's own workers: no thread, stack or malloc arena per call), or, where the kernel
  // does not allow io_uring (an old kernel, a container's seccomp profile) or `ring` is false,
  // on a pool of `concurrency` threads.
  static std::unique_ptr<StatCalls> Open(int concurrency, bool ring = true);
  virtual ~StatCalls() = default;  // waits for the calls in flight

  // Starts an lstat of `absolute`. Not thread-safe: one thread starts and takes.
  std::shared_ptr<PendingStat> Start(std::string absolute);
  // Starts an lstat of `name` in the open folder `dir` (which is `absolute`'s folder), which
  // `keep` keeps open until the call is over: on a share, the folder's lookup is not repeated.
  std::shared_ptr<PendingStat> StartAt(int dir, std::string name, std::string absolute,
                                       std::shared_ptr<const void> keep);
  // Waits until `call` has run; its st and error are then set.
  virtual void Take(PendingStat& call) = 0;
  // How many more calls can start without waiting for one to complete (completions already
  // there are taken in).
  virtual size_t Room() = 0;
  // "io_uring" or "threads", for tests and logs.
  virtual const char* Kind() const = 0;

 protected:
  virtual void Submit(const std::shared_ptr<PendingStat>& call) = 0;
};

}  // namespace ferry::storage
