// When and how long to wait before sending a failed request again. The clock is injected so that
// tests of the timing run instantly.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>

#include "base/status.h"
#include "http/pipeline.h"
#include "http/request.h"

namespace ferry::http {

using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() = 0;
  virtual void SleepFor(Duration d) = 0;
};

// The real clock. Thread-safe.
std::shared_ptr<Clock> SystemClock();

struct RetryOptions {
  int max_attempts = 6;  // including the first; 1 means never retry
  Duration initial_delay{400};
  Duration max_delay{60'000};
  double multiplier = 2.0;
};

// True for outcomes worth another attempt: network errors (the Status of a failed send), and
// HTTP 408, 429, 500, 502, 503, 504.
bool IsRetriable(const Result<Response>& outcome);

// Exponential backoff with jitter, capped, honouring the service's own hints, as the pipeline's
// retry policy: it sends each attempt on through the policies after it (which prepare it afresh)
// and counts the retries by cause. Thread-safe.
class RetryPolicy : public Policy {
 public:
  RetryPolicy(RetryOptions options, std::shared_ptr<Clock> clock, uint64_t seed = 0);

  // Sends a copy of `request` on, again after each retriable outcome (see NextDelay), with the
  // response sink reset before each new attempt; returns the last outcome.
  Result<Response> Send(Request& request, const NextPolicy& next) override;

  // Attempts beyond the first, since construction; and the same by cause ("HTTP 503 ServerBusy",
  // "network: Connection reset by peer", ...).
  uint64_t retries() const;
  std::map<std::string, uint64_t> RetriesByCause() const;

  const RetryOptions& options() const { return options_; }
  Clock& clock() { return *clock_; }

  // The wait before the next attempt, after `attempts_done` attempts (>= 1) ended in `outcome`.
  // Nullopt when the outcome is final: success, a non-retriable error, or no attempts left.
  // A `Retry-After` (seconds or HTTP date) or `x-ms-retry-after-ms` header replaces the computed
  // backoff; every delay is capped at max_delay.
  std::optional<Duration> NextDelay(int attempts_done, const Result<Response>& outcome);

 private:
  std::optional<Duration> ServerHint(const Response& response);

  RetryOptions options_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  uint64_t retries_ = 0;
  std::map<std::string, uint64_t> causes_;
};

}  // namespace ferry::http
