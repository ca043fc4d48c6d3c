// The transfer engine's flags, shared by copy, sync, cutover and trial: parallel streams,
// memory, blocks, and the throttles that keep a migration from hurting production. The engine
// itself, and its defaults, live in transfer/engine.h; here flags only become its options.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "migration/copy.h"
#include "transfer/engine.h"

namespace ferry::cli {

// Registers --concurrency, --max-memory, --max-bandwidth, --max-ops, --schedule and --block-above
// (each also read from a FERRY_* environment variable, so an operator can set them once).
void AddTransferOptions(CLI::App* cmd, transfer::EngineFlags& flags);

// The engine the flags describe, its throttle waits ended by Ctrl-C. A bad value ends the
// command with exit 2 and one line naming the option and what to give instead.
std::unique_ptr<transfer::Engine> MakeEngine(const transfer::EngineFlags& flags);

// Copy options that use `engine`, with its statistics for the run's record.
void UseEngine(const transfer::Engine& engine, migration::CopyOptions& options);

// How the migration's blobs are written: its tier, content types and link policy.
transfer::UploadOptions MigrationUploads(const catalog::Config& config);

// The options of a copy of the migration (copy, sync, a helper's share of a sync): `engine`
// (its throttles shared among the live workers), MigrationUploads, stopped by Ctrl-C.
migration::CopyOptions MigrationCopyOptions(const catalog::Config& config,
                                            transfer::Engine& engine);

// The end-of-run line: files and bytes per second over `seconds` (the run's duration, as `status`
// computes its rates), retries, time throttled, and the streams used.
std::string EngineSummary(const migration::CopyReport& report, double seconds);

}  // namespace ferry::cli
