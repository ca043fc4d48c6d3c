// How many requests may be on the wire at once: a fixed number, or one tuned while running
// (--concurrency auto) the way TCP finds its window: more streams while throughput grows, half
// as many as soon as the service says it is busy.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "http/pipeline.h"
#include "http/request.h"
#include "http/retry_policy.h"

namespace ferry::http {

struct ConcurrencyOptions {
  int initial = 16;
  bool tuned = false;  // false: fixed at `initial`
  int min = 2, max = 64;
  // Tuning looks at throughput and busy answers once per window.
  std::chrono::milliseconds window{1000};
};

// True for an answer that says the service (or the path to it) is overloaded: 429, 503,
// 500 OperationTimedOut, or a network failure.
bool IsOverload(const Result<Response>& outcome);

// Admission to the wire. With tuning, at the end of each window:
//   - any overload answer in it: the limit halves (not below min), and it holds for 3 windows;
//   - else, if the last step up raised throughput by less than 5%, the limit steps back down
//     and holds for 5 windows before probing again;
//   - else, if the limit was reached in the window (more streams were wanted), it steps up by a
//     quarter (at least 1, not above max).
// Throughput counts bytes moved plus 64 KiB for every request, so many small requests and a few
// large ones weigh alike. Thread-safe.
class ConcurrencyLimit {
 public:
  ConcurrencyLimit(ConcurrencyOptions options, std::shared_ptr<Clock> clock);

  // Waits until fewer than limit() requests are in flight, then counts this one in.
  void Enter();
  // Counts out a request begun by Enter; `outcome` and `bytes` (sent and received) feed tuning.
  void Exit(const Result<Response>& outcome, uint64_t bytes);

  int limit() const;

  struct Stats {
    int initial = 0, lowest = 0, highest = 0, last = 0;
    int64_t backoffs = 0;  // halvings on overload
  };
  Stats stats() const;

 private:
  void Tune(std::chrono::system_clock::time_point now);  // REQUIRES: mu_ held

  const ConcurrencyOptions options_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int limit_;
  int in_flight_ = 0;
  Stats stats_;

  // The current window.
  std::chrono::system_clock::time_point window_start_;
  double window_work_ = 0;  // bytes, plus 64 KiB per request
  bool window_overloaded_ = false;
  bool window_saturated_ = false;
  // The step up being judged: the limit and throughput before it.
  bool probing_ = false;
  int limit_before_probe_ = 0;
  double rate_before_probe_ = 0;
  int hold_ = 0;  // windows to wait before the next step up
};

// The pipeline's admission to the wire: each attempt waits for room under `limit`, and reports
// its outcome and the bytes it moved (sent and received) when it is done. Put it last, next to
// the transport, so waits for a throttle or between retries hold no slot.
class ConcurrencyPolicy : public Policy {
 public:
  explicit ConcurrencyPolicy(std::shared_ptr<ConcurrencyLimit> limit) : limit_(std::move(limit)) {}
  Result<Response> Send(Request& request, const NextPolicy& next) override;

 private:
  std::shared_ptr<ConcurrencyLimit> limit_;
};

}  // namespace ferry::http
