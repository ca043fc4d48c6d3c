// The final cutover: the source must be quiet, then a last sync, a verify and the drift check
// must all be clean before the migration is recorded as cut over and closed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "migration/sync.h"
#include "migration/verify.h"

namespace ferry::migration {

// Lists the paths whose size, mtime or kind differ between two listings of `source` taken
// `window` apart (added and removed paths included). Streams both listings (the first through a
// temporary file in `scratch_dir`), so memory does not grow with the tree. `stop` ends the wait.
Result<std::vector<std::string>> ChangesOverWindow(storage::Store& source, const Filter& filter,
                                                   std::chrono::milliseconds window,
                                                   const std::string& scratch_dir,
                                                   size_t max_listed, const std::atomic<bool>* stop,
                                                   int64_t* total_changes);

struct CutoverOptions {
  std::chrono::milliseconds quiet_window{60'000};
  int64_t max_changes = 0;
  SyncOptions sync;
  bool dry_run = false;
  std::function<void(const std::string& step)> on_step;  // progress messages
};

struct CutoverReport {
  bool done = false;                  // recorded as cut over
  std::string refused;                // why not (empty when done or a clean dry run)
  std::vector<std::string> changing;  // paths that changed during the quiet window (first 100)
  int64_t changes = 0;
  SyncReport sync;
  VerifyReport verify;
  int64_t items = 0, bytes = 0;  // copied items and bytes at cutover
};

// Runs the cutover. A refusal is a report with `refused` set (the CLI exits 3), not an error.
Result<CutoverReport> Cutover(catalog::Catalog& catalog, storage::Store& source,
                              storage::Store& target, const CutoverOptions& options);

// The cutover record, if the migration was cut over (a JSON object), and whether it is closed.
std::optional<std::string> CutoverRecord(catalog::Catalog& catalog);
bool IsClosed(catalog::Catalog& catalog);
Status Reopen(catalog::Catalog& catalog);

}  // namespace ferry::migration
