#include "transfer/engine.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace ferry::transfer {

namespace {

constexpr std::chrono::milliseconds kBurst{500};  // what an idle throttle lets through at once

// `parsed`, or an error that names the flag.
template <typename T>
Result<T> Named(const char* flag, Result<T> parsed) {
  if (parsed.ok()) return parsed;
  return InvalidInput(fmt::format("{} {}", flag, parsed.status().message()));
}

Result<int> ParseStreams(const std::string& text) {
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || n < 1 || n > EngineOptions::kMaxStreams) {
    return InvalidInput(
        fmt::format("--concurrency '{}': give a number of streams from 1 to {}, or auto", text,
                    EngineOptions::kMaxStreams));
  }
  return n;
}

}  // namespace

uint64_t DefaultMaxMemory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 4ull << 30;
  return std::clamp<uint64_t>(ram / 8, 64ull << 20, 1ull << 30);
}

Result<EngineOptions> ParseEngineOptions(const EngineFlags& flags) {
  EngineOptions options;
  if (flags.concurrency == "auto") {
    options.tuned = true;
  } else {
    Result<int> streams = ParseStreams(flags.concurrency);
    if (!streams.ok()) return streams.status();
    options.streams = *streams;
  }
  if (!flags.max_memory.empty()) {
    Result<uint64_t> memory = Named("--max-memory", ParseSize(flags.max_memory));
    if (!memory.ok()) return memory.status();
    if (*memory < EngineOptions::kMinMemory) {
      return InvalidInput(
          fmt::format("--max-memory '{}': give at least 16MiB (a block and a few small files)",
                      flags.max_memory));
    }
    options.max_memory = *memory;
  }
  Result<uint64_t> blocks = Named("--block-above", ParseSize(flags.block_above));
  if (!blocks.ok()) return blocks.status();
  if (*blocks > (5000ull << 20)) {
    return InvalidInput(fmt::format(
        "--block-above '{}': at most 5000MiB, the most one Put Blob may send", flags.block_above));
  }
  options.block_above = *blocks;
  if (!flags.max_bandwidth.empty()) {
    Result<double> rate = Named("--max-bandwidth", ParseRate(flags.max_bandwidth));
    if (!rate.ok()) return rate.status();
    if (*rate <= 0) {
      return InvalidInput(
          "--max-bandwidth: give a rate above zero (to pause at set times, use --schedule "
          "with 'off')");
    }
    options.max_bandwidth = *rate;
  }
  if (!flags.schedule.empty()) {
    Result<Schedule> schedule = Named("--schedule", Schedule::Parse(flags.schedule));
    if (!schedule.ok()) return schedule.status();
    options.schedule = *schedule;
  }
  if (!flags.max_ops.empty()) {
    Result<double> ops = Named("--max-ops", ParseOpsRate(flags.max_ops));
    if (!ops.ok()) return ops.status();
    if (*ops <= 0) return InvalidInput("--max-ops: give a rate above zero, e.g. 200/s");
    options.max_ops = *ops;
  }
  return options;
}

Engine::Engine(EngineOptions options, const std::atomic<bool>* stop)
    : options_(std::move(options)) {
  http::ConcurrencyOptions streams;
  streams.initial = options_.streams;
  streams.tuned = options_.tuned;
  if (options_.tuned) {
    streams.initial = EngineOptions::kDefaultStreams;
    streams.max = EngineOptions::kAutoMaxStreams;
  }
  concurrency_ = std::make_shared<http::ConcurrencyLimit>(streams, http::SystemClock());
  if (options_.max_bandwidth || options_.schedule) {
    http::LimitAt bytes_at = [cap = options_.max_bandwidth, schedule = options_.schedule,
                              share = share_](std::chrono::system_clock::time_point now) {
      std::optional<double> limit = cap;
      if (schedule) {
        int64_t unix_s =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        std::optional<double> scheduled = schedule->LimitAtUnixTime(unix_s);
        if (scheduled) limit = limit ? std::min(*limit, *scheduled) : *scheduled;
      }
      if (limit) *limit /= share->load();
      return limit;
    };
    bytes_ = std::make_shared<http::RateLimiter>(bytes_at, http::SystemClock(), kBurst, stop);
  }
  if (options_.max_ops) {
    operations_ = std::make_shared<http::RateLimiter>(
        [ops = *options_.max_ops, share = share_](auto) {
          return std::optional<double>(ops / share->load());
        },
        http::SystemClock(), kBurst, stop);
  }
  if (bytes_ || operations_)
    throttle_ = std::make_shared<http::ThrottlePolicy>(bytes_, operations_);
}

EngineStats Engine::Stats() const {
  EngineStats stats;
  for (const auto& limiter : {bytes_, operations_}) {
    if (limiter) {
      stats.throttled_seconds = std::max(
          stats.throttled_seconds, std::chrono::duration<double>(limiter->throttled()).count());
    }
  }
  http::ConcurrencyLimit::Stats s = concurrency_->stats();
  stats.tuned = options_.tuned;
  stats.streams_initial = s.initial;
  stats.streams_lowest = s.lowest;
  stats.streams_highest = s.highest;
  stats.streams_last = s.last;
  stats.backoffs = s.backoffs;
  return stats;
}

}  // namespace ferry::transfer
