// What the migration commands share: opening a migration and its endpoints, turning errors into
// exit codes, and printing numbers for people.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "cli/exit_codes.h"
#include "http/pipeline.h"
#include "storage/endpoint.h"
#include "storage/store.h"

namespace ferry::cli {

// Ends the command with exit 2 and the status's message (with a hint for network errors).
[[noreturn]] void FailConfig(const Status& status);

// Opens DIR's catalog holding its lock (or, with `read_only`, without); exit 2 on failure.
std::unique_ptr<catalog::Catalog> OpenMigration(const std::string& dir, bool read_only = false);

struct Endpoints {
  std::unique_ptr<storage::Store> source;
  std::unique_ptr<storage::Store> target;
  // The target's HTTP pipeline, when it has one (for retry counts).
  const http::Pipeline* target_pipeline = nullptr;
};

// The target's retries by cause, for a run's record (empty for targets without HTTP).
std::function<std::map<std::string, uint64_t>()> RetryCauses(const struct Endpoints& endpoints);

// Opens the stores a migration was set up with, with credentials from the environment.
Endpoints OpenEndpoints(const catalog::Config& config);

// Writes, reads back and deletes a small probe item; exit 2 with the reason if any step fails.
void ProbeWritable(storage::Store& store);

std::string HumanBytes(int64_t bytes);
std::string HumanDuration(double seconds);
std::string HumanTime(int64_t unix_ns);  // "2026-11-24 18:00:00 UTC"

// One line of progress on stderr, redrawn in place, shown only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();
  void Update(const std::string& text);
  void Clear();
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool shown_ = false;
};

// Set by SIGINT/SIGTERM while a long command runs; a second signal ends the process at once.
const std::atomic<bool>& InterruptFlag();
void InstallInterruptHandler();

}  // namespace ferry::cli
