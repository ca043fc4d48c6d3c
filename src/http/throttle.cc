#include "http/throttle.h"

#include <algorithm>

namespace ferry::http {

namespace {
constexpr auto kLookAgain = std::chrono::seconds(1);  // while paused
}

RateLimiter::RateLimiter(LimitAt limit, std::shared_ptr<Clock> clock,
                         std::chrono::milliseconds burst)
    : limit_(std::move(limit)), clock_(std::move(clock)), burst_(burst) {}

void RateLimiter::CountHeld(TimePoint from, TimePoint to) {
  from = std::max(from, held_until_);
  if (to <= from) return;
  throttled_ += to - from;
  held_until_ = to;
}

void RateLimiter::Acquire(double units) {
  std::unique_lock lock(mu_);
  while (true) {
    TimePoint now = clock_->Now();
    std::optional<double> rate = limit_(now);
    if (!rate) {
      next_ = std::max(next_, now);  // unlimited: later bookings start from here
      return;
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
    if (start <= now) return;
    CountHeld(now, start);
    lock.unlock();
    clock_->SleepFor(std::chrono::ceil<Duration>(start - now));
    return;
  }
}

std::chrono::milliseconds RateLimiter::throttled() const {
  std::lock_guard lock(mu_);
  return std::chrono::duration_cast<std::chrono::milliseconds>(throttled_);
}

Status ThrottlePolicy::Prepare(Request& request) {
  if (operations_) operations_->Acquire(1);
  if (bytes_) bytes_->Acquire(double(request.body.size));
  return Status::Ok();
}

}  // namespace ferry::http
