// A clock for tests of timing: it moves only when the code under test sleeps (or the test
// advances it), so waits of minutes take no time. Thread-safe.
#pragma once

#include <mutex>
#include <vector>

#include "http/retry_policy.h"

namespace ferry::testing {

class FakeClock : public http::Clock {
 public:
  std::chrono::system_clock::time_point Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void SleepFor(http::Duration d) override {
    std::lock_guard lock(mu_);
    sleeps.push_back(d);
    now_ += d;
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mu_);
    now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }
  std::vector<http::Duration> sleeps;  // every SleepFor, in order

 private:
  std::mutex mu_;
  std::chrono::system_clock::time_point now_ =
      std::chrono::system_clock::from_time_t(1'800'000'000);
};

}  // namespace ferry::testing
