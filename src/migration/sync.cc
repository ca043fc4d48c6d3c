#include "migration/sync.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;

namespace {

bool Stopped(const SyncOptions& o) { return o.copy.stop != nullptr && o.copy.stop->load(); }

// Whether this pass may delete the blob of an item deleted at the source: one of ferry's own,
// and this pass's complete listing shows the item gone (its scan marked or confirmed it), not
// only an earlier one.
bool Deletable(const Item& item, int64_t run) {
  return item.state == ItemState::kSourceDeleted && !item.target_etag.empty() && !item.kept_blob &&
         item.last_run == run;
}

// The blobs a mirror pass would delete and the items that have a blob. A dry run, whose scan
// confirms nothing, counts every blob of an item deleted at the source.
Status CountDeletions(catalog::Catalog& catalog, const SyncReport& report, bool dry_run,
                      int64_t& to_delete, int64_t& with_blob) {
  FERRY_RETURN_IF_ERROR(catalog.ForEachItem({ItemState::kSourceDeleted}, [&](Item& item) {
    bool counted =
        dry_run ? !item.target_etag.empty() && !item.kept_blob : Deletable(item, report.run);
    if (counted) ++to_delete;
    return Status::Ok();
  }));
  with_blob = to_delete;
  for (ItemState state : {ItemState::kCopied, ItemState::kKept}) {
    Result<int64_t> n = catalog.CountItems(state);
    if (!n.ok()) return n.status();
    with_blob += *n;
  }
  return Status::Ok();
}

// Deletes one blob of an item deleted at the source, only if unchanged since ferry wrote it
// (If-Match), unless `overwrite`; records the outcome.
Status DeleteOne(catalog::Catalog& catalog, storage::Store& target, const SyncOptions& o,
                 Item& item, SyncReport& report) {
  storage::Condition condition =
      o.overwrite ? storage::Condition::None() : storage::Condition::IfMatch(item.target_etag);
  Status deleted = target.Delete(item.path, condition);
  if (deleted.code() == Code::kPreconditionFailed) {
    // No blob to match: already deleted, by a run that crashed before recording it.
    Result<storage::Entry> there = target.Stat(item.path);
    if (!there.ok() && there.status().code() == Code::kNotFound) deleted = there.status();
  }
  std::string event;
  if (deleted.ok() || deleted.code() == Code::kNotFound) {
    item.state = ItemState::kDeleted;
    item.target_etag.clear();
    item.reason = "deleted at the source; blob deleted (mirror)";
    event = "deleted";
    ++report.deleted;
    report.deleted_bytes += int64_t(item.size);
  } else if (deleted.code() == Code::kPreconditionFailed) {
    item.state = ItemState::kConflict;
    item.cause = "conflict: the target was changed by someone else";
    item.reason =
        "deleted at the source, but its blob changed in the target since ferry wrote "
        "it; not deleted";
    event = "conflict";
    ++report.delete_conflicts;
    if (o.on_finding) o.on_finding({Finding::Kind::kChanged, item.path, item.reason});
  } else {
    return deleted;
  }
  item.last_run = report.run;
  FERRY_RETURN_IF_ERROR(catalog.UpdateItem(item));
  return catalog.AppendEvent(report.run, item.path, event, "{}");
}

// Mirror mode: deletes the blobs of items deleted at the source, within the deletion budget
// (else none), until a stop.
Status DeleteMirrored(catalog::Catalog& catalog, storage::Store& target, const SyncOptions& o,
                      SyncReport& report) {
  int64_t to_delete = 0, with_blob = 0;
  FERRY_RETURN_IF_ERROR(CountDeletions(catalog, report, o.dry_run, to_delete, with_blob));
  if (o.dry_run) {  // this pass's deletions are not recorded yet
    to_delete += report.scan.delta_deleted;
    with_blob += report.scan.delta_deleted;
  }
  if (auto refusal = DeletionRefusal(to_delete, with_blob, o.max_delete)) {
    report.deletion_refused = *refusal;
    return Status::Ok();
  }
  Result<catalog::ItemCursor> cursor = catalog.Items({ItemState::kSourceDeleted});
  if (!cursor.ok()) return cursor.status();
  if (!o.dry_run) FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  Item item;
  Status status;
  while (status.ok() && !Stopped(o)) {
    Result<bool> more = cursor->Next(item);
    if (!more.ok()) {
      status = more.status();
      break;
    }
    if (!*more) break;
    if (o.dry_run) {
      if (item.target_etag.empty() || item.kept_blob) continue;
      if (o.on_would_delete) o.on_would_delete(item);
      ++report.deleted;
      report.deleted_bytes += int64_t(item.size);
      continue;
    }
    if (!Deletable(item, report.run)) continue;
    status = DeleteOne(catalog, target, o, item, report);
  }
  if (!o.dry_run) {
    Status committed = catalog.CommitTransaction();
    if (status.ok()) status = committed;
  }
  return status;
}

// The pass's record: what it moved and left, and its delta, for status to show convergence.
catalog::Run RunRecord(const SyncReport& report, const SyncOptions& options, const Status& status) {
  const ScanReport& s = report.scan;
  catalog::Run record;
  record.id = report.run;
  record.files = report.copy.copied + report.copy.adopted + report.helpers.files;
  record.bytes = report.copy.bytes + report.helpers.bytes;
  record.failed = report.copy.failed + report.copy.conflicts + report.delete_conflicts +
                  report.helpers.failed + (options.overwrite ? 0 : report.drift.changed);
  record.outcome = status.code() == Code::kCancelled  ? "stopped"
                   : status.code() == Code::kRefused  ? "refused"
                   : !status.ok()                     ? "failed"
                   : !report.deletion_refused.empty() ? "deletions refused"
                   : record.failed                    ? "failed items"
                   : report.open.blocking()           ? "open problems"
                                                      : "done";
  record.summary_json =
      JsonText(nlohmann::json{{"delta", DeltaJson(s)},
                              {"mode", catalog::Name(options.mode)},
                              {"copied", report.copy.copied},
                              {"replaced", report.copy.replaced},
                              {"failed", report.copy.failed},
                              {"conflicts", report.copy.conflicts + report.delete_conflicts},
                              {"drift_changed", report.drift.changed},
                              {"drift_unexpected", report.drift.unexpected},
                              {"blobs_deleted", report.deleted},
                              {"helpers",
                               {{"processes", report.helpers.processes},
                                {"files", report.helpers.files},
                                {"bytes", report.helpers.bytes},
                                {"failed", report.helpers.failed},
                                {"died", report.helpers.died}}},
                              {"deletion_refused", report.deletion_refused},
                              {"unreadable", s.unreadable},
                              {"retries", report.copy.retries},
                              {"retries_by_cause", report.copy.retries_by_cause},
                              {"samples", report.copy.samples},
                              {"throttled_seconds", report.copy.engine.throttled_seconds},
                              {"streams", EngineJson(report.copy.engine)},
                              {"seconds", report.seconds}});
  return record;
}

// Scan, then the drift check: what changed at the source and in the target.
Status ScanAndCheckDrift(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                         const SyncOptions& options, SyncReport& report) {
  Result<ScanReport> scanned = Scan(catalog, source, target, options.scan);
  if (!scanned.ok()) return scanned.status();
  report.scan = *scanned;
  DriftOptions drift_options{.overwrite = options.overwrite,
                             .dry_run = options.dry_run,
                             .on_finding = options.on_finding,
                             .list_concurrency = options.scan.list_concurrency,
                             .shared = options.share_copy,
                             .split = options.scan.split,
                             .stop = options.copy.stop,
                             .waiting = options.waiting_for_drift};
  Result<DriftReport> drift = CheckDrift(catalog, target, report.run, drift_options);
  if (!drift.ok()) return drift.status();
  report.drift = *drift;
  return Status::Ok();
}

// Whether this pass shares its copy with helpers: only with something to copy (helpers that
// waited for it learn the sync went on without them).
Result<bool> SharesCopy(catalog::Catalog& catalog, const SyncOptions& options) {
  if (!options.share_copy || options.overwrite || !catalog.SharesListing()) return false;
  for (ItemState state : {ItemState::kPending, ItemState::kFailed}) {
    Result<int64_t> n = catalog.CountItems(state);
    if (!n.ok()) return n.status();
    if (*n > 0) return true;
  }
  return false;
}

// Waits until the helpers of the copy led in run `copy_run` for sync run `sync_run` have
// recorded their last items (the leader has left: they claim no more), and counts what their
// copy runs did, and the helpers that died (their runs never ended: what they did is not
// counted). Stopped, it waits no more: until they are done, no process may hold the migration
// alone.
Status AwaitHelpers(catalog::Catalog& catalog, int64_t sync_run, int64_t copy_run,
                    const SyncOptions& options, HelpersReport& helpers) {
  using Clock = std::chrono::steady_clock;
  // A helper that left ends its run at once; one that died before it does is not waited for
  // longer than this after it left.
  const auto ending_grace = std::chrono::seconds(10);
  std::map<int64_t, Clock::time_point> left_since;  // when each helper was first seen to leave
  while (true) {
    Result<std::vector<catalog::WorkerInfo>> workers = catalog.Workers();
    if (!workers.ok()) return workers.status();
    Result<std::vector<catalog::Run>> runs = catalog.Runs();
    if (!runs.ok()) return runs.status();
    const Clock::time_point now = Clock::now();
    std::set<int64_t> registered, working, left;
    for (const catalog::WorkerInfo& w : *workers) {
      if (w.run <= copy_run) continue;
      registered.insert(w.run);
      if (w.live && !w.left) working.insert(w.run);
      if (w.left) {
        left.insert(w.run);
        left_since.emplace(w.run, now);
      }
    }
    bool ending = false;
    helpers = HelpersReport();
    for (const catalog::Run& r : *runs) {
      if (r.id <= copy_run || catalog::StageNamed(r.stage) != catalog::Stage::kCopy) continue;
      if (r.outcome == "running") {
        // While this sync holds the migration alone, only its helpers copy. A helper's run still
        // going died with its process when that registered as a worker (before, it copied
        // nothing) and neither works nor left, or when it left longer than the grace ago.
        const bool in_grace = left.contains(r.id) && now - left_since[r.id] <= ending_grace;
        const bool died =
            left.contains(r.id) ? !in_grace : registered.contains(r.id) && !working.contains(r.id);
        if (died) ++helpers.died;
        ending = ending || in_grace;
        continue;
      }
      if (SyncOfShare(r) != sync_run) continue;
      ++helpers.processes;
      helpers.files += r.files;
      helpers.bytes += r.bytes;
      helpers.failed += r.failed;
    }
    if (working.empty() && !ending) return Status::Ok();
    if (Stopped(options)) return Status::Ok();
    if (!working.empty() && options.waiting_for_helpers) {
      options.waiting_for_helpers(int(working.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Status CopyPass(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                SyncOptions& options, SyncReport& report) {
  options.copy.run = report.run;
  options.copy.overwrite = options.overwrite;
  Result<bool> shared = SharesCopy(catalog, options);
  if (!shared.ok()) return shared.status();
  if (*shared) {
    // A copy run of its own, as each helper has: items a run tried are not claimed again in it,
    // and this sync's scan marked every item it found new or changed with its run.
    FERRY_RETURN_IF_ERROR(catalog.LeadCopy(report.run));
    options.copy.run = 0;
    options.copy.for_sync = report.run;
  }
  Result<CopyReport> copied = Copy(catalog, source, target, options.copy);
  if (!copied.ok()) return copied.status();
  if (*shared) {
    FERRY_RETURN_IF_ERROR(AwaitHelpers(catalog, report.run, copied->run, options, report.helpers));
  }
  report.copy = *copied;
  if (!copied->unreachable.empty()) {
    return Status(Code::kTransient, "stopped: the target failed item after item (" +
                                        copied->unreachable +
                                        "); fix the target and run the sync again");
  }
  return Status::Ok();
}

// Mirror mode's deletions, last, only after a pass that went through: never after a stop, and
// only while the source is still the one the scan listed (a share unmounted during the pass
// makes what it had not yet read look deleted).
Status MirrorPass(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                  const SyncOptions& options, SyncReport& report) {
  const Status stopped(Code::kCancelled, "the sync was stopped");
  if (Stopped(options) || report.copy.stopped) return stopped;
  if (options.mode != catalog::DeleteMode::kMirror) return Status::Ok();
  FERRY_RETURN_IF_ERROR(CheckSourceIdentity(catalog, source, false, report.run, /*dry_run=*/true));
  FERRY_RETURN_IF_ERROR(DeleteMirrored(catalog, target, options, report));
  return Stopped(options) ? stopped : Status::Ok();
}

}  // namespace

Result<SyncReport> Sync(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                        SyncOptions options) {
  auto start = std::chrono::steady_clock::now();
  SyncReport report;
  if (!options.dry_run) {
    Result<int64_t> run = catalog.BeginRun(catalog::Stage::kSync);
    if (!run.ok()) return run.status();
    report.run = *run;
  }
  options.scan.sync = true;
  options.scan.dry_run = options.dry_run;
  options.scan.run = report.run;
  options.scan.stop = options.copy.stop;
  Status status = ScanAndCheckDrift(catalog, source, target, options, report);
  if (status.ok() && Stopped(options)) status = Status(Code::kCancelled, "the sync was stopped");
  if (status.ok() && !options.dry_run) status = CopyPass(catalog, source, target, options, report);
  if (status.ok()) status = MirrorPass(catalog, source, target, options, report);
  if (status.ok()) {
    Result<OpenProblems> open = CountOpenProblems(catalog);
    if (open.ok()) report.open = *open;
    status = open.status();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options.dry_run) FERRY_RETURN_IF_ERROR(catalog.EndRun(RunRecord(report, options, status)));
  if (!status.ok()) return status;
  return report;
}

}  // namespace ferry::migration
