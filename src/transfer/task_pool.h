// A fixed set of threads running submitted tasks, and a byte budget that bounds buffers in flight.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::transfer {

class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();  // finishes queued tasks, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Queues `task`; the future is ready when it has run. Thread-safe.
  std::future<void> Submit(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Bytes that may be held in transfer buffers at once. Acquire blocks until enough is free; a
// request larger than the whole budget is granted when nothing else is held. Thread-safe.
class ByteBudget {
 public:
  explicit ByteBudget(uint64_t bytes) : capacity_(bytes) {}
  void Acquire(uint64_t bytes);
  void Release(uint64_t bytes);
  uint64_t capacity() const { return capacity_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t capacity_;
  uint64_t used_ = 0;
};

}  // namespace ferry::transfer
