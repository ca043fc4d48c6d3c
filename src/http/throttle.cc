#include "http/throttle.h"

#include <algorithm>

namespace ferry::http {

namespace {
constexpr auto kLookAgain = std::chrono::seconds(1);  // while paused or waiting a turn
}

RateLimiter::RateLimiter(LimitAt limit, std::shared_ptr<Clock> clock,
                         std::chrono::milliseconds burst, const std::atomic<bool>* stop)
    : limit_(std::move(limit)), clock_(std::move(clock)), burst_(burst), stop_(stop) {}

void RateLimiter::CountHeld(TimePoint from, TimePoint to) {
  from = std::max(from, held_until_);
  if (to <= from) return;
  throttled_ += to - from;
  held_until_ = to;
}

bool RateLimiter::Acquire(double units) {
  auto stopped = [&] { return stop_ != nullptr && stop_->load(); };
  std::unique_lock lock(mu_);
  while (true) {
    if (stopped()) return false;
    TimePoint now = clock_->Now();
    std::optional<double> rate = limit_(now);
    if (!rate) {
      next_ = std::max(next_, now);  // unlimited: later bookings start from here
      return true;
    }
    if (*rate <= 0) {  // paused: wait and look again
      CountHeld(now, now + kLookAgain);
      lock.unlock();
      clock_->SleepFor(std::chrono::duration_cast<Duration>(kLookAgain));
      lock.lock();
      continue;
    }
    // Book [start, start + units / rate) on the timeline; an idle bucket lends up to one burst.
    TimePoint start = std::max(next_, now - burst_);
    auto cost = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::max(0.0, units) / *rate));
    next_ = start + cost;
    if (start <= now) return true;
    CountHeld(now, start);
    lock.unlock();
    // Wait for the turn a second at a time, so a stop is seen.
    for (TimePoint t = now; t < start; t = clock_->Now()) {
      if (stopped()) return false;
      clock_->SleepFor(std::chrono::ceil<Duration>(std::min<std::chrono::nanoseconds>(
          start - t, std::chrono::duration_cast<std::chrono::nanoseconds>(kLookAgain))));
    }
    return true;
  }
}

std::chrono::milliseconds RateLimiter::throttled() const {
  std::lock_guard lock(mu_);
  return std::chrono::duration_cast<std::chrono::milliseconds>(throttled_);
}

Status ThrottlePolicy::Prepare(Request& request) {
  const Status stopped(Code::kCancelled, "stopped while the throttle held the request");
  if (operations_ && !operations_->Acquire(1)) return stopped;
  if (!bytes_) return Status::Ok();
  if (request.body.size <= kPaceAbove) {
    return bytes_->Acquire(double(request.body.size)) ? Status::Ok() : stopped;
  }
  // A long body takes its bytes as they go, so it does not pass in one burst after a long
  // wait; a pause still holds it before the first byte.
  if (!bytes_->Acquire(0)) return stopped;
  request.body.read = [read = std::move(request.body.read), bytes = bytes_, stopped](
                          uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    if (!bytes->Acquire(double(len))) return stopped;
    return read(offset, buf, len);
  };
  return Status::Ok();
}

}  // namespace ferry::http
