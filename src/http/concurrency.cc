#include "http/concurrency.h"

#include <algorithm>
#include <charconv>

namespace ferry::http {

namespace {
constexpr double kRequestWeight = 64 * 1024;  // bytes a request's fixed cost is worth
constexpr double kGain = 1.05;                // a step up must raise throughput this much
constexpr int kHoldAfterOverload = 3, kHoldAfterPlateau = 5;
}  // namespace

bool IsOverload(const Result<Response>& outcome) {
  if (!outcome.ok()) return outcome.status().code() == Code::kTransient;
  switch (outcome->status) {
    case 429:
    case 503:
      return true;
    case 500:
      return outcome->headers.Get("x-ms-error-code") == "OperationTimedOut";
    default:
      return false;
  }
}

ConcurrencyLimit::ConcurrencyLimit(ConcurrencyOptions options, std::shared_ptr<Clock> clock)
    : options_(options),
      clock_(std::move(clock)),
      limit_(options.tuned ? std::clamp(options.initial, options.min, options.max)
                           : std::max(1, options.initial)) {
  stats_.initial = stats_.lowest = stats_.highest = stats_.last = limit_;
  window_start_ = clock_->Now();
}

void ConcurrencyLimit::Enter() {
  std::unique_lock lock(mu_);
  if (in_flight_ >= limit_) window_saturated_ = true;
  cv_.wait(lock, [&] { return in_flight_ < limit_; });
  ++in_flight_;
  if (in_flight_ >= limit_) window_saturated_ = true;
}

void ConcurrencyLimit::Exit(const Result<Response>& outcome, uint64_t bytes) {
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    window_work_ += double(bytes) + kRequestWeight;
    if (IsOverload(outcome)) window_overloaded_ = true;
    if (options_.tuned) {
      auto now = clock_->Now();
      if (now - window_start_ >= options_.window) Tune(now);
    }
  }
  cv_.notify_all();
}

void ConcurrencyLimit::Tune(std::chrono::system_clock::time_point now) {
  double seconds = std::chrono::duration<double>(now - window_start_).count();
  double rate = window_work_ / seconds;
  int before = limit_;
  if (window_overloaded_) {
    limit_ = std::max(options_.min, limit_ / 2);
    if (limit_ < before) ++stats_.backoffs;
    probing_ = false;
    hold_ = kHoldAfterOverload;
  } else if (probing_ && rate < rate_before_probe_ * kGain) {
    limit_ = limit_before_probe_;  // more streams did not help: step back and wait
    probing_ = false;
    hold_ = kHoldAfterPlateau;
  } else if (hold_ > 0) {
    --hold_;
    probing_ = false;
  } else if (window_saturated_ && limit_ < options_.max) {
    probing_ = true;
    limit_before_probe_ = limit_;
    rate_before_probe_ = rate;
    limit_ = std::min(options_.max, limit_ + std::max(1, limit_ / 4));
  } else {
    probing_ = false;
  }
  stats_.lowest = std::min(stats_.lowest, limit_);
  stats_.highest = std::max(stats_.highest, limit_);
  stats_.last = limit_;
  window_start_ = now;
  window_work_ = 0;
  window_overloaded_ = false;
  window_saturated_ = in_flight_ >= limit_;
}

int ConcurrencyLimit::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

ConcurrencyLimit::Stats ConcurrencyLimit::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

namespace {

uint64_t ResponseBytes(const Result<Response>& outcome) {
  if (!outcome.ok()) return 0;
  auto length = outcome->headers.Get("Content-Length");
  uint64_t n = 0;
  if (length) std::from_chars(length->data(), length->data() + length->size(), n);
  return std::max<uint64_t>(n, outcome->body.size());
}

}  // namespace

Result<Response> ConcurrencyPolicy::Send(Request& request, const NextPolicy& next) {
  limit_->Enter();
  Result<Response> outcome = next(request);
  uint64_t received = request.method == "HEAD" ? 0 : ResponseBytes(outcome);
  limit_->Exit(outcome, request.body.size + received);
  return outcome;
}

}  // namespace ferry::http
