// An incremental sync pass: rescan, check the target for drift, copy what is new or changed,
// and handle deletions per mode.
#pragma once

#include <functional>

#include "catalog/catalog.h"
#include "migration/copy.h"
#include "migration/drift.h"
#include "migration/safety.h"
#include "migration/scan.h"
#include "migration/verify.h"

namespace ferry::migration {

struct SyncOptions {
  ScanOptions scan;  // filter and link policy; checksum; on_change (used as given)
  CopyOptions copy;  // concurrency, upload options, progress, stop (which stops every step)
  catalog::DeleteMode mode = catalog::DeleteMode::kAdditive;
  bool overwrite = false;
  bool dry_run = false;
  DeleteBudget max_delete;  // how many blobs the mirror may delete in this pass
  std::function<void(const Finding&)> on_finding;  // drift and deletion conflicts
  // Dry run: called for every blob a mirror pass would delete.
  std::function<void(const catalog::Item&)> on_would_delete;
  // Share the drift check and the copy with the processes that help this sync, on a catalog that
  // shares a scan's listing (PostgreSQL): they check parts of the target's listing
  // (DriftIsShared), and claim items as workers do. Not with `overwrite`.
  bool share_copy = false;
  // Called while the pass waits for helpers to record their last items: how many still work.
  std::function<void(int)> waiting_for_helpers;
  // Called while the drift check, shared with helpers, waits for the parts they hold: how many
  // are left (DriftOptions::waiting).
  std::function<void(int64_t)> waiting_for_drift;
};

// What the processes that helped a sync's copy did (their copy runs).
struct HelpersReport {
  int processes = 0;
  int64_t files = 0, bytes = 0, failed = 0;
  // Helpers that died before they ended their copy run: what they recorded is in the catalog
  // and the log, but not in these counts.
  int died = 0;
};

struct SyncReport {
  int64_t run = 0;
  ScanReport scan;
  DriftReport drift;
  CopyReport copy;                         // this process's share when the copy was shared
  HelpersReport helpers;                   // the other processes' share
  int64_t deleted = 0, deleted_bytes = 0;  // blobs deleted (mirror)
  int64_t delete_conflicts = 0;
  // Why the mirror deleted nothing in this pass (over the deletion budget), or empty.
  std::string deletion_refused;
  OpenProblems open;  // after the pass (before it, for a dry run)
  double seconds = 0;
};

// One sync pass, recorded as a "sync" run whose summary holds the pass's delta (new, changed and
// deleted items and bytes), so status can show whether the deltas converge. A pass with nothing
// changed makes no request per item to the target: only the listing of the drift check.
// Deletions (mirror) happen last, only for items a complete listing no longer shows, and only
// within `max_delete` (else none, with `deletion_refused` set). A stop at any step ends the pass
// there, recorded as "stopped", with Code::kCancelled, and deletes nothing. A source that is
// not the one the migration began with is refused (Code::kRefused) before anything changes.
// With `share_copy`, the copy is a "copy" run of this process's own, and one for each helper,
// all of which end before the pass goes on to its deletions.
Result<SyncReport> Sync(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                        SyncOptions options);

}  // namespace ferry::migration
