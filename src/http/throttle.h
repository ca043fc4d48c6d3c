// Process-wide throttles on what ferry sends: bytes per second and requests per second, each a
// token bucket whose rate may change with the time of the week (a schedule), so a migration can
// leave room for the production traffic on the same links and the same account.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "http/pipeline.h"
#include "http/retry_policy.h"

namespace ferry::http {

// The limit in force at a moment, in units per second: nullopt is unlimited, 0 is paused.
using LimitAt = std::function<std::optional<double>(std::chrono::system_clock::time_point)>;

// A token bucket with a rate that may change over time. Every Acquire books its units on the
// bucket's timeline at the rate then in force, in order of arrival, and waits for its turn, so
// over any stretch longer than the burst the units granted stay within the limit. After an idle
// spell, up to `burst` worth of the current rate passes at once. A paused limit (0) holds every
// caller until it lifts, looking again every second, so a schedule switches without a restart;
// turns already booked are waited out at the rate they were booked at. Thread-safe.
class RateLimiter {
 public:
  // `stop`, when given and set, ends every wait early (the operator interrupted the run).
  RateLimiter(LimitAt limit, std::shared_ptr<Clock> clock,
              std::chrono::milliseconds burst = std::chrono::milliseconds(500),
              const std::atomic<bool>* stop = nullptr);

  // Returns true once `units` may go (at once when unlimited); false if `stop` was set while
  // waiting, the units then not taken.
  bool Acquire(double units);

  // Wall time during which at least one caller was held back (waiting its turn, or paused).
  std::chrono::milliseconds throttled() const;

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  // Adds the part of [from, to) not already counted to the throttled time. REQUIRES: mu_ held.
  void CountHeld(TimePoint from, TimePoint to);

  LimitAt limit_;
  std::shared_ptr<Clock> clock_;
  const std::chrono::nanoseconds burst_;
  const std::atomic<bool>* stop_;
  mutable std::mutex mu_;
  TimePoint next_{};        // the bucket's timeline: where the next booking starts
  TimePoint held_until_{};  // throttled time is counted up to here
  std::chrono::nanoseconds throttled_{0};
};

// The pipeline's throttle: before every attempt of a request, one operation from `operations`
// and the request body's bytes from `bytes` (either may be null: not limited); a body longer
// than kPaceAbove takes its bytes piece by piece as it is read instead. A paused limit holds
// every request before it starts, bodiless ones too. Put it first among the policies, before the
// date and the signature are set, so a long wait never sends a stale request. A wait ended by the
// limiters' stop flag fails the request with Code::kCancelled.
class ThrottlePolicy : public RequestPolicy {
 public:
  ThrottlePolicy(std::shared_ptr<RateLimiter> bytes, std::shared_ptr<RateLimiter> operations)
      : bytes_(std::move(bytes)), operations_(std::move(operations)) {}

  Status Prepare(Request& request) override;

  static constexpr uint64_t kPaceAbove = 16ull << 20;

 private:
  std::shared_ptr<RateLimiter> bytes_;
  std::shared_ptr<RateLimiter> operations_;
};

}  // namespace ferry::http
