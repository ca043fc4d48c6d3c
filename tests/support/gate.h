// A point where a thread under test stops until the test lets it go on: the test waits until the
// thread is there, does what it means to do meanwhile, and opens the gate.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>

namespace ferry::testing {

class Gate {
 public:
  // On the thread under test: marks the gate reached and waits until it is open.
  void Pass() {
    std::unique_lock lock(mu_);
    reached_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }

  // Waits until a thread reached the gate (true), or `ended` says none will (false): the work
  // under test ended before it, on an error, and waiting on would hang the test.
  bool AwaitReached(const std::function<bool()>& ended) {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return reached_; })) {
      if (ended()) return false;
    }
    return true;
  }

  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false, open_ = false;
};

// Whether the work behind `future` has ended.
template <typename T>
bool Ended(const std::future<T>& future) {
  return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

// Opens a gate when it goes out of scope. Declared after the std::async future of the work that
// waits at the gate: a test that fails an assertion meanwhile would otherwise hang in that
// future's destructor, which waits for the work.
class OpenAtExit {
 public:
  explicit OpenAtExit(Gate& gate) : gate_(gate) {}
  OpenAtExit(const OpenAtExit&) = delete;
  OpenAtExit& operator=(const OpenAtExit&) = delete;
  ~OpenAtExit() { gate_.Open(); }

 private:
  Gate& gate_;
};

}  // namespace ferry::testing
