// The transfer engine's options, shared by copy, sync, cutover and trial: parallel streams,
// memory, and the throttles that keep a migration from hurting production.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "http/concurrency.h"
#include "http/throttle.h"
#include "migration/copy.h"

namespace ferry::cli {

struct TransferFlags {
  std::string concurrency = "16";
  std::string max_memory;  // empty: sized for the machine
  std::string max_bandwidth, max_ops, schedule;
  std::string block_above = "256MiB";
};

// Registers --concurrency, --max-memory, --max-bandwidth, --max-ops, --schedule and --block-above
// (each also read from a FERRY_* environment variable, so an operator can set them once).
void AddTransferOptions(CLI::App* cmd, TransferFlags& flags);

// The flags as the engine's controls, for the target's requests.
struct TransferControls {
  std::shared_ptr<http::ThrottlePolicy> throttle;  // null: no limit
  std::shared_ptr<http::RateLimiter> bytes, operations;
  std::shared_ptr<http::ConcurrencyLimit> concurrency;
  int workers = 16;  // threads copying items: the most streams that may be wanted
  uint64_t max_memory = 0;
  uint64_t block_above = 0;  // larger files go in blocks
  bool tuned = false;
};

// Validates the flags once, at the edge: a bad value ends the command with exit 2 and one line
// naming the option and what to give instead.
TransferControls ParseTransferFlags(const TransferFlags& flags);

// Copy options from the controls, with the engine's statistics for the run's record.
void ApplyTransferControls(const TransferControls& controls, migration::CopyOptions& options);

// The end-of-run line: files/s, MB/s, retries, time throttled, and the streams used.
std::string EngineSummary(const migration::CopyReport& report);

}  // namespace ferry::cli
