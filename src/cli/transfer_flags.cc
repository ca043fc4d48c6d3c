#include "cli/transfer_flags.h"

#include <fmt/format.h>

#include <algorithm>

#include "cli/common.h"

namespace ferry::cli {

void AddTransferOptions(CLI::App* cmd, transfer::EngineFlags& flags) {
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

std::unique_ptr<transfer::Engine> MakeEngine(const transfer::EngineFlags& flags) {
  Result<transfer::EngineOptions> options = transfer::ParseEngineOptions(flags);
  if (!options.ok()) throw ExitError(kExitUsage, options.status().message());
  return std::make_unique<transfer::Engine>(std::move(options).value(), &InterruptFlag());
}

void UseEngine(const transfer::Engine& engine, migration::CopyOptions& options) {
  options.engine = engine.options();
  options.engine_stats = [&engine] { return engine.Stats(); };
}

transfer::UploadOptions MigrationUploads(const catalog::Config& config) {
  transfer::UploadOptions upload;
  upload.tier = config.tier;
  upload.content_type = config.content_type;
  upload.guess_content_type = config.guess_content_type;
  upload.follow_links = config.symlinks == catalog::SymlinkPolicy::kFollow;
  return upload;
}

migration::CopyOptions MigrationCopyOptions(const catalog::Config& config,
                                            transfer::Engine& engine) {
  migration::CopyOptions options;
  UseEngine(engine, options);
  options.upload = MigrationUploads(config);
  options.stop = &InterruptFlag();
  options.live_workers = [&engine](int workers) { engine.ShareAmong(workers); };
  return options;
}

std::string EngineSummary(const migration::CopyReport& r, double seconds) {
  seconds = std::max(seconds, 1e-3);
  double files = double(r.copied + r.adopted) / seconds;
  std::string line =
      fmt::format("{:.{}f} files/s, {}/s, {} retries, throttled {}", files, files < 10 ? 1 : 0,
                  HumanBytes(int64_t(double(r.bytes_sent) / seconds)), r.retries,
                  HumanDuration(r.engine.throttled_seconds));
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
