#include "http/retry_policy.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <thread>

namespace ferry::http {

namespace {

class RealClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration d) override { std::this_thread::sleep_for(d); }
};

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The key that groups a retry with others of its kind.
std::string RetryCause(const Result<Response>& outcome) {
  if (outcome.ok()) {
    std::string cause = fmt::format("HTTP {}", outcome->status);
    if (auto code = outcome->headers.Get("x-ms-error-code")) cause += fmt::format(" {}", *code);
    return cause;
  }
  // Network messages end with libcurl's reason, the part that groups them.
  const std::string& message = outcome.status().message();
  size_t colon = message.rfind(": ");
  return "network: " + (colon == std::string::npos ? message : message.substr(colon + 2));
}

}  // namespace

std::shared_ptr<Clock> SystemClock() {
  static auto clock = std::make_shared<RealClock>();
  return clock;
}

bool IsRetriable(const Result<Response>& outcome) {
  if (!outcome.ok()) return outcome.status().code() == Code::kTransient;
  switch (outcome->status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

RetryPolicy::RetryPolicy(RetryOptions options, std::shared_ptr<Clock> clock, uint64_t seed)
    : options_(options), clock_(std::move(clock)), rng_(seed ? seed : std::random_device{}()) {}

std::optional<Duration> RetryPolicy::ServerHint(const Response& response) {
  if (auto ms = response.headers.Get("x-ms-retry-after-ms")) {
    if (auto v = ParseInt(*ms)) return Duration(*v);
  }
  if (auto after = response.headers.Get("Retry-After")) {
    if (auto v = ParseInt(*after)) return Duration(*v * 1000);
    std::string date(*after);
    time_t when = curl_getdate(date.c_str(), nullptr);
    if (when >= 0) {
      int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch())
              .count();
      // In whole seconds, so a date centuries away cannot overflow; the cap applies later.
      int64_t wait_s = std::clamp<int64_t>(int64_t(when) - now, 0, 86'400);
      return Duration(wait_s * 1000);
    }
  }
  return std::nullopt;
}

std::optional<Duration> RetryPolicy::NextDelay(int attempts_done, const Result<Response>& outcome) {
  if (!IsRetriable(outcome) || attempts_done >= options_.max_attempts) return std::nullopt;
  if (outcome.ok()) {
    if (auto hint = ServerHint(*outcome)) return std::min(*hint, options_.max_delay);
  }
  double base = options_.initial_delay.count() * std::pow(options_.multiplier, attempts_done - 1);
  base = std::min(base, double(options_.max_delay.count()));
  double jitter;
  {
    std::lock_guard lock(mu_);
    jitter = std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
  }
  return Duration(static_cast<int64_t>(base * jitter));
}

Result<Response> RetryPolicy::Send(Request& request, const NextPolicy& next) {
  for (int attempt = 1;; ++attempt) {
    Request prepared = request;
    if (attempt > 1 && prepared.sink != nullptr && prepared.sink->reset) prepared.sink->reset();
    Result<Response> outcome = next(prepared);
    std::optional<Duration> delay = NextDelay(attempt, outcome);
    if (!delay) return outcome;
    std::string cause = RetryCause(outcome);
    {
      std::lock_guard lock(mu_);
      ++retries_;
      ++causes_[cause];
    }
    spdlog::debug("retry {} of {} {} in {} ms: {}", attempt, request.method, RedactUrl(request.url),
                  delay->count(), cause);
    clock_->SleepFor(*delay);
  }
}

uint64_t RetryPolicy::retries() const {
  std::lock_guard lock(mu_);
  return retries_;
}

std::map<std::string, uint64_t> RetryPolicy::RetriesByCause() const {
  std::lock_guard lock(mu_);
  return causes_;
}

}  // namespace ferry::http
