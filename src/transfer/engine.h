// How the transfer engine moves bytes, with its defaults in one place: parallel streams (fixed,
// or tuned while running), memory for transfer buffers, which files go in blocks, and the
// throttles that keep a migration from hurting production. copy, sync, cutover and trial take
// the same options; the command line only parses flags into them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "http/concurrency.h"
#include "http/throttle.h"
#include "transfer/limits.h"

namespace ferry::transfer {

// An eighth of the machine's memory, between 64 MiB and 1 GiB.
uint64_t DefaultMaxMemory();

struct EngineOptions {
  static constexpr int kDefaultStreams = 16;
  static constexpr int kMaxStreams = 512;
  static constexpr int kAutoMaxStreams = 64;  // --concurrency auto tunes between 2 and this
  static constexpr uint64_t kDefaultBlockAbove = 256ull << 20;
  static constexpr uint64_t kMinMemory = 16ull << 20;

  int streams = kDefaultStreams;  // requests in flight; where tuning starts, when tuned
  bool tuned = false;             // --concurrency auto
  uint64_t max_memory = 0;        // bytes held in transfer buffers at once; 0: DefaultMaxMemory()
  uint64_t block_above = kDefaultBlockAbove;  // larger files go in parallel blocks
  std::optional<double> max_bandwidth;        // bytes per second over the process
  std::optional<double> max_ops;              // requests per second to the target
  std::optional<Schedule> schedule;           // bandwidth caps by the time of the week

  // Threads copying items: the most streams that may be wanted.
  int workers() const { return tuned ? kAutoMaxStreams : streams; }
  uint64_t memory() const { return max_memory ? max_memory : DefaultMaxMemory(); }
};

// The options as an operator writes them (each flag also a FERRY_* variable); empty: default.
struct EngineFlags {
  std::string concurrency = std::to_string(EngineOptions::kDefaultStreams);  // N or "auto"
  std::string max_memory, max_bandwidth, max_ops, schedule;
  std::string block_above = "256MiB";
};

// Validates every flag once; the error (Code::kInvalidInput) is one line that names the flag and
// says what to give instead.
Result<EngineOptions> ParseEngineOptions(const EngineFlags& flags);

// What the engine did, for a run's record: time held back by the throttles, and the streams.
struct EngineStats {
  double throttled_seconds = 0;
  bool tuned = false;  // streams tuned while running (--concurrency auto)
  int streams_initial = 0, streams_lowest = 0, streams_highest = 0, streams_last = 0;
  int64_t backoffs = 0;  // times the streams were halved because the target was busy
};

// The engine's shared parts, built from the options once per process: the throttle and the
// stream limit that the target's pipeline takes as policies. Thread-safe.
class Engine {
 public:
  // `stop`, when set, ends every throttle wait (the operator interrupted the run).
  explicit Engine(EngineOptions options, const std::atomic<bool>* stop = nullptr);

  const EngineOptions& options() const { return options_; }
  // Null when neither bandwidth, operations nor a schedule is limited.
  const std::shared_ptr<http::ThrottlePolicy>& throttle() const { return throttle_; }
  const std::shared_ptr<http::ConcurrencyLimit>& concurrency() const { return concurrency_; }
  // So far, for the process.
  EngineStats Stats() const;
  // This process is one of `workers` live workers of one migration: its throttles allow
  // 1/workers of the limits, so the fleet keeps to them together.
  void ShareAmong(int workers) { share_->store(std::max(1, workers)); }

 private:
  EngineOptions options_;
  std::shared_ptr<http::RateLimiter> bytes_, operations_;
  std::shared_ptr<http::ThrottlePolicy> throttle_;
  std::shared_ptr<http::ConcurrencyLimit> concurrency_;
  std::shared_ptr<std::atomic<int>> share_ = std::make_shared<std::atomic<int>>(1);
};

}  // namespace ferry::transfer
