// The drift check of a sync pass: the target's listing against the catalog, for blobs someone
// else changed, deleted or put there. On a catalog that shares a scan's listing (PostgreSQL),
// the listing is split into parts that the processes helping the sync check as well.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "catalog/catalog.h"
#include "migration/listing_plan.h"
#include "migration/verify.h"
#include "storage/store.h"

namespace ferry::migration {

struct DriftReport {
  int64_t changed = 0;     // blobs ferry wrote and someone else changed or deleted
  int64_t unexpected = 0;  // blobs ferry never wrote
  // A check shared among processes: the parts of the listing, and those this process checked.
  int64_t parts = 0, parts_checked = 0;
};

struct DriftOptions {
  // Items whose blob someone else changed are queued to be written again, not conflicts.
  bool overwrite = false;
  bool dry_run = false;  // nothing is recorded
  std::function<void(const Finding&)> on_finding;
  int list_concurrency = 0;  // as storage::ListOptions::concurrency
  // Share the check with the processes that help the sync, where it can be (DriftIsShared),
  // and whether its listing is split into parts for them (PlanSharedListing).
  bool shared = false;
  Split split = Split::kAuto;
  // A shared check: how long a claim on a part lasts without a batch recorded.
  std::chrono::seconds lease{60};
  const std::atomic<bool>* stop = nullptr;
  // Called while the check waits for the parts other processes hold: how many are left.
  std::function<void(int64_t left)> waiting;
};

// The drift check of sync run `run`: items whose blob someone else changed or deleted become
// conflicts (both sides' size and time in the reason), or with `overwrite` are queued to be
// written again; blobs ferry never wrote are reported through `on_finding`, logged and left
// alone. Where the check is shared (DriftIsShared), the target's listing is planned as
// storage::PlanListing plans it (a root it would list flat is read whole, its folders the
// prefixes), its prefixes become parts of the catalog's drift check
// (catalog::Catalog::OpenDriftCheck) that this process and those helping it (HelpCheckDrift)
// claim and check, this process checks the rest (the levels' own entries against the items
// outside every part), waits for the parts others hold (taking over any whose lease ran out)
// and counts what every part found. A listing the plan does not split into two parts or more, or
// splits into parts of fewer than 20,000 items on average (PlanSharedListing: each process
// checks one part at a time, and a lone one would pay for the split; below 16 parts' worth of
// items, more folders than that stop the plan), or whose root holds more blobs than it keeps
// (50,000), is checked here, whole. The plan is made first: a blob put at one of its levels later
// in the pass is left to the next pass. Stopped: Code::kCancelled.
Result<DriftReport> CheckDrift(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                               const DriftOptions& options);

// Whether the drift check is shared with the processes that help a sync: asked for (`shared`),
// on a catalog that shares a scan's listing, with a target that is an object store listed by
// prefix, neither a dry run nor `overwrite`.
bool DriftIsShared(catalog::Catalog& catalog, storage::Store& target, const DriftOptions& options);

// For a process helping the sync of run `run`: checks parts of its open drift check until none
// is left to claim. The report counts what this process found, and the parts it checked.
// Stopped: Code::kCancelled, the part it held given back.
Result<DriftReport> HelpCheckDrift(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                                   const DriftOptions& options);

}  // namespace ferry::migration
