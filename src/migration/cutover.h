// The final cutover: the source must be quiet, then a last sync, a verify and the drift check
// must all be clean before the migration is recorded as cut over and closed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "migration/hooks.h"
#include "migration/safety.h"
#include "migration/sync.h"
#include "migration/verify.h"

namespace ferry::migration {

struct CutoverOptions {
  std::chrono::milliseconds quiet_window{60'000};
  int64_t max_changes = 0;  // changes tolerated during the quiet window
  // Final sync passes at most: after each, the source is listed again, and a change since the
  // listing before it means another pass (or, after the last, a refusal).
  int max_final_passes = 3;
  // Items skipped at the source (names the target cannot store, links, special files) are
  // accepted as left behind; without it they refuse the cutover. Recorded in the log.
  bool accept_skipped = false;
  SyncOptions sync;  // the final passes; sync.copy.stop stops the cutover too
  bool dry_run = false;
  // The operator's commands (empty: none), never run by a dry run. pre_freeze runs before the
  // quiet window (make the share read-only, stop the application): a failure refuses the
  // cutover. post_cutover runs once the migration is closed (point the application at the
  // target). on_abort runs when a cutover that reached the freeze does not close — refused,
  // stopped or failed, a failed pre-freeze included — to undo the freeze; FERRY_REASON says
  // why. Each gets `env` (FERRY_MIGRATION, FERRY_SOURCE, FERRY_TARGET) with FERRY_RUN and
  // FERRY_HOOK, and `timeout`; each outcome and output goes into the log ("hook" events).
  struct Hooks {
    std::string pre_freeze, post_cutover, on_abort;
    std::chrono::milliseconds timeout{300'000};
    std::map<std::string, std::string> env;
  } hooks;
  std::function<void(const std::string& step)> on_step;  // progress messages
};

struct CutoverReport {
  bool done = false;                  // recorded as cut over
  std::string refused;                // why not (empty when done or a clean dry run)
  std::vector<std::string> changing;  // paths that changed in the window or a final pass
  int64_t changes = 0;
  std::vector<catalog::Item> open_items;  // the open problems that refused it (the first 100)
  SyncReport sync;                        // the last final pass
  int final_passes = 0;
  VerifyReport verify;
  int64_t items = 0, bytes = 0;      // copied items (every kind) and bytes at cutover
  int64_t files = 0;                 // of the items, files
  int64_t skipped = 0;               // skipped items, accepted as left behind
  std::vector<HookResult> hooks;     // the hooks run, in order
  bool post_cutover_failed = false;  // cut over, but the post-cutover hook did not succeed
  bool abort_failed = false;         // not cut over, and the abort hook did not succeed
  // From when the target is known to hold the source: the end of the listing that the last
  // final pass's scan was proven against (the source did not change after it).
  int64_t in_sync_since_ns = 0;
};

// Runs the cutover: after the pre-freeze hook, the source must be the one the migration began with
// and quiet over the window; then final sync passes until a listing after one shows no change since
// the listing before it; then no open problem may remain (conflicts, failures, pending items,
// skipped items unless accepted), and verify must be clean. Only then is the migration recorded as
// cut over and closed. A refusal is a report with `refused` set (the CLI exits 3), not an error. A
// stop at any point before the close returns Code::kCancelled and closes nothing. Every attempt is
// recorded as a "cutover" run (done, refused, stopped or failed).
Result<CutoverReport> Cutover(catalog::Catalog& catalog, storage::Store& source,
                              storage::Store& target, const CutoverOptions& options);

// The cutover record, if the migration was cut over, and whether it is closed.
std::optional<nlohmann::json> CutoverRecord(catalog::Catalog& catalog);
bool IsClosed(catalog::Catalog& catalog);
Status Reopen(catalog::Catalog& catalog);

}  // namespace ferry::migration
