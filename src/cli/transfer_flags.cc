#include "cli/transfer_flags.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "cli/common.h"
#include "transfer/limits.h"

namespace ferry::cli {

namespace {

constexpr int kMaxStreams = 512;
constexpr int kAutoMax = 64;                      // --concurrency auto tunes between 2 and this
constexpr std::chrono::milliseconds kBurst{500};  // what an idle throttle lets through at once

// A share of the machine's memory for transfer buffers: an eighth, between 64 MiB and 1 GiB.
uint64_t DefaultMaxMemory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 4ull << 30;
  return std::clamp<uint64_t>(ram / 8, 64ull << 20, 1ull << 30);
}

template <typename T>
T OrFail(const char* option, const std::string& value, Result<T> parsed) {
  if (!parsed.ok()) {
    throw ExitError(kExitUsage, fmt::format("{} {}", option, parsed.status().message()));
  }
  (void)value;
  return *parsed;
}

}  // namespace

void AddTransferOptions(CLI::App* cmd, TransferFlags& flags) {
  cmd->add_option("--concurrency", flags.concurrency,
                  "Parallel streams (requests in flight to the target): a number, or 'auto' to "
                  "tune it while running (more while throughput grows, half on busy answers)")
      ->envname("FERRY_CONCURRENCY")
      ->capture_default_str();
  cmd->add_option("--max-memory", flags.max_memory,
                  "Most bytes held in transfer buffers at once, e.g. 512MiB (default: an eighth "
                  "of the machine's memory, 64MiB to 1GiB)")
      ->envname("FERRY_MAX_MEMORY");
  cmd->add_option("--max-bandwidth", flags.max_bandwidth,
                  "Cap on the bytes sent per second over the whole process, e.g. 50MiB/s or "
                  "400Mbit/s")
      ->envname("FERRY_MAX_BANDWIDTH");
  cmd->add_option("--max-ops", flags.max_ops,
                  "Cap on requests per second to the target, e.g. 200/s")
      ->envname("FERRY_MAX_OPS");
  cmd->add_option("--schedule", flags.schedule,
                  "Weekly timetable of bandwidth caps, first matching rule wins, in local time: "
                  "'Mon-Fri 08:00-18:00 20MiB/s; Sat-Sun off; * 200MiB/s' ('off' pauses, "
                  "'unlimited' lifts the cap); switches as time passes, with --max-bandwidth "
                  "as an overall cap")
      ->envname("FERRY_SCHEDULE");
  cmd->add_option("--block-above", flags.block_above,
                  "Files larger than this go in 8 MiB blocks sent in parallel, and resume block "
                  "by block after a crash; smaller ones stream as one request, hashed once, "
                  "and are sent again whole after a crash (files up to 4MiB always go whole). "
                  "Lower it on slow links with few large files")
      ->envname("FERRY_BLOCK_ABOVE")
      ->capture_default_str();
}

TransferControls ParseTransferFlags(const TransferFlags& flags) {
  TransferControls controls;
  http::ConcurrencyOptions streams;
  if (flags.concurrency == "auto") {
    controls.tuned = streams.tuned = true;
    streams.initial = 16;
    streams.min = 2;
    streams.max = kAutoMax;
    controls.workers = kAutoMax;
  } else {
    size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(flags.concurrency, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != flags.concurrency.size() || n < 1 || n > kMaxStreams) {
      throw ExitError(kExitUsage,
                      fmt::format("--concurrency '{}': give a number of streams from 1 to {}, or "
                                  "auto",
                                  flags.concurrency, kMaxStreams));
    }
    streams.initial = n;
    controls.workers = n;
  }
  controls.concurrency = std::make_shared<http::ConcurrencyLimit>(streams, http::SystemClock());

  controls.max_memory = flags.max_memory.empty() ? DefaultMaxMemory()
                                                 : OrFail("--max-memory", flags.max_memory,
                                                          transfer::ParseSize(flags.max_memory));
  if (controls.max_memory < (16ull << 20)) {
    throw ExitError(kExitUsage, fmt::format("--max-memory '{}': give at least 16MiB (a block and "
                                            "a few small files)",
                                            flags.max_memory));
  }

  controls.block_above =
      OrFail("--block-above", flags.block_above, transfer::ParseSize(flags.block_above));

  std::optional<double> cap;
  if (!flags.max_bandwidth.empty()) {
    cap = OrFail("--max-bandwidth", flags.max_bandwidth, transfer::ParseRate(flags.max_bandwidth));
    if (*cap <= 0) {
      throw ExitError(kExitUsage,
                      "--max-bandwidth: give a rate above zero (to pause at set "
                      "times, use --schedule with 'off')");
    }
  }
  std::optional<transfer::Schedule> schedule;
  if (!flags.schedule.empty()) {
    schedule = OrFail("--schedule", flags.schedule, transfer::Schedule::Parse(flags.schedule));
  }
  if (cap || schedule) {
    http::LimitAt bytes_at = [cap, schedule](std::chrono::system_clock::time_point now) {
      std::optional<double> limit = cap;
      if (schedule) {
        int64_t unix_s =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        std::optional<double> scheduled = schedule->LimitAtUnixTime(unix_s);
        if (scheduled) limit = limit ? std::min(*limit, *scheduled) : *scheduled;
      }
      return limit;
    };
    controls.bytes = std::make_shared<http::RateLimiter>(bytes_at, http::SystemClock(), kBurst,
                                                         &InterruptFlag());
  }
  if (!flags.max_ops.empty()) {
    double ops = OrFail("--max-ops", flags.max_ops, transfer::ParseOpsRate(flags.max_ops));
    if (ops <= 0) throw ExitError(kExitUsage, "--max-ops: give a rate above zero, e.g. 200/s");
    controls.operations =
        std::make_shared<http::RateLimiter>([ops](auto) { return std::optional<double>(ops); },
                                            http::SystemClock(), kBurst, &InterruptFlag());
  }
  if (controls.bytes || controls.operations) {
    controls.throttle = std::make_shared<http::ThrottlePolicy>(controls.bytes, controls.operations);
  }
  return controls;
}

void ApplyTransferControls(const TransferControls& controls, migration::CopyOptions& options) {
  options.concurrency = controls.workers;
  options.max_memory = controls.max_memory;
  options.upload.stream_limit = controls.block_above;
  options.engine_stats = [bytes = controls.bytes, operations = controls.operations,
                          streams = controls.concurrency, tuned = controls.tuned] {
    migration::EngineStats stats;
    for (const auto& limiter : {bytes, operations}) {
      if (limiter) {
        stats.throttled_seconds = std::max(
            stats.throttled_seconds, std::chrono::duration<double>(limiter->throttled()).count());
      }
    }
    http::ConcurrencyLimit::Stats s = streams->stats();
    stats.tuned = tuned;
    stats.streams_initial = s.initial;
    stats.streams_lowest = s.lowest;
    stats.streams_highest = s.highest;
    stats.streams_last = s.last;
    stats.backoffs = s.backoffs;
    return stats;
  };
}

std::string EngineSummary(const migration::CopyReport& r) {
  double seconds = std::max(r.seconds, 1e-3);
  double files = double(r.copied + r.adopted) / seconds;
  std::string line = fmt::format("{:.{}f} files/s, {:.1f} MB/s, {} retries, throttled {}", files,
                                 files < 10 ? 1 : 0, double(r.bytes_sent) / seconds / 1e6,
                                 r.retries, HumanDuration(r.engine.throttled_seconds));
  const migration::EngineStats& e = r.engine;
  if (e.tuned) {
    line += fmt::format("; streams tuned from {} to {} (between {} and {}, {} back-offs)",
                        e.streams_initial, e.streams_last, e.streams_lowest, e.streams_highest,
                        e.backoffs);
  } else if (e.streams_initial > 0) {
    line += fmt::format("; {} streams", e.streams_initial);
  }
  return line;
}

}  // namespace ferry::cli
