#include "migration/drift.h"

#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/text.h"
#include "migration/listing_plan.h"
#include "migration/target_merge.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;
using storage::Entry;

namespace {

constexpr int64_t kBatchFindings = 500;  // a part's findings recorded in one transaction

bool Stopped(const DriftOptions& o) { return o.stop != nullptr && o.stop->load(); }

// host:pid, as the events of a shared check name the process that checked.
std::string ProcessName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}", host, getpid());
}

// What the merge of items and blobs finds: conflicts (or items queued to be written again), and
// blobs ferry never wrote. Recorded as found, or (`batched`) kept until Record, so that a batch's
// transaction lasts only as long as its writes, and printed once recorded.
class DriftRecorder {
 public:
  DriftRecorder(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                const DriftOptions& options, std::string checker, bool batched)
      : catalog_(catalog),
        target_(target),
        run_(run),
        options_(options),
        checker_(std::move(checker)),
        batched_(batched) {}

  // Found since the last Take.
  DriftReport Take() { return std::exchange(found_, DriftReport()); }
  // Findings kept for the next Record.
  size_t Kept() const { return kept_.size(); }

  Status Both(Item& item, const Entry& listed) {
    if (!ExpectsBlob(item)) return Unowned(&item) ? Unexpected(listed) : Status::Ok();
    if (listed.etag == item.target_etag) return Status::Ok();
    // ETags tell drift; the listing leaves metadata out (on Azurite that halves its cost), and
    // the rare blob whose metadata matters is read on its own.
    Result<Entry> stat = target_.Stat(item.path);
    if (!stat.ok() && stat.status().code() != Code::kNotFound) return stat.status();
    const Entry& blob = stat.ok() ? *stat : listed;
    // The version waiting to be copied may already be there, written by a run that crashed
    // before recording it: the copy compares the bytes (MD5) and adopts it, or calls it a
    // conflict.
    if (AwaitsWrite(item) && LooksWrittenByFerry(item, blob, catalog_.config().id)) {
      return Status::Ok();
    }
    return Drifted(item, {Finding::Kind::kChanged, item.path, DescribeDrift(item, blob)});
  }

  Status ItemOnly(Item& item) {
    if (!ExpectsBlob(item) || item.state == ItemState::kSourceDeleted) return Status::Ok();
    return Drifted(item, {Finding::Kind::kMissing, item.path,
                          fmt::format("ferry wrote size {}, modified {}, ETag {}; the target "
                                      "holds no blob",
                                      item.size, IsoTime(item.mtime_ns), item.target_etag)});
  }

  Status Unexpected(const Entry& blob) {
    ++found_.unexpected;
    return Found({{Finding::Kind::kUnexpected, blob.path,
                   fmt::format("a blob ferry did not write (size {}, written {})", blob.size,
                               IsoTime(blob.mtime_ns))},
                  std::nullopt,
                  "unexpected-blob",
                  Detail({{"size", blob.size}, {"etag", blob.etag}})});
  }

  // The merge's callbacks, bound to this recorder.
  Status Merge(catalog::ItemCursor& items, storage::Lister& blobs, const std::string& skip_to,
               const TargetMerge::AfterEach& after_each) {
    return TargetMerge::Run(
        catalog_, items, blobs, skip_to,
        [this](Item& item, const Entry& blob) { return Both(item, blob); },
        [this](Item& item) { return ItemOnly(item); },
        [this](const Entry& blob) { return Unexpected(blob); }, after_each);
  }

  // Batched: writes the kept findings in the open transaction.
  Status Record() {
    for (const KeptFinding& k : kept_) FERRY_RETURN_IF_ERROR(Write(k));
    return Status::Ok();
  }
  // Batched: prints the kept findings (once recorded), and forgets them.
  void Recorded() {
    for (const KeptFinding& k : kept_) Print(k);
    kept_.clear();
  }
  // Batched: forgets the kept findings (their batch was not recorded).
  void Drop() { kept_.clear(); }

 private:
  // A finding, the item it changes (none for a blob ferry never wrote), and its event.
  struct KeptFinding {
    Finding finding;
    std::optional<Item> item;
    std::string event, detail;
  };

  Status Drifted(Item& item, const Finding& finding) {
    ++found_.changed;
    if (options_.overwrite) {
      if (item.state == ItemState::kCopied || item.state == ItemState::kKept) {
        item.state = ItemState::kPending;
      }
    } else {
      item.state = ItemState::kConflict;
      item.cause = "conflict: the target was changed by someone else";
      item.reason = fmt::format("{}: {}", FindingName(finding.kind), finding.detail);
    }
    return Found({finding, item, "conflict", Detail({{"target", finding.detail}})});
  }

  Status Found(KeptFinding k) {
    if (batched_) {
      kept_.push_back(std::move(k));
      return Status::Ok();
    }
    Print(k);
    return options_.dry_run ? Status::Ok() : Write(k);
  }

  Status Write(const KeptFinding& k) {
    if (k.item) FERRY_RETURN_IF_ERROR(catalog_.UpdateItem(*k.item));
    return catalog_.AppendEvent(run_, k.finding.path, k.event, k.detail);
  }

  void Print(const KeptFinding& k) const {
    if (options_.on_finding) options_.on_finding(k.finding);
  }

  // An event's detail, naming the process that checked when the check is shared.
  std::string Detail(nlohmann::json detail) const {
    if (!checker_.empty()) detail["checker"] = checker_;
    return JsonText(detail);
  }

  catalog::Catalog& catalog_;
  storage::Store& target_;
  const int64_t run_;
  const DriftOptions& options_;
  const std::string checker_;
  const bool batched_;
  DriftReport found_;
  std::vector<KeptFinding> kept_;
};

// The whole check in this process, from one listing of the target (in one transaction, unless
// a dry run).
Result<DriftReport> CheckHere(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                              const DriftOptions& options) {
  DriftRecorder recorder(catalog, target, run, options, "", /*batched=*/false);
  Result<catalog::ItemCursor> items = catalog.Items();
  if (!items.ok()) return items.status();
  Result<std::unique_ptr<storage::Lister>> listed = target.List(
      "", storage::ListOptions{.metadata = false, .concurrency = options.list_concurrency});
  if (!listed.ok()) return listed.status();
  std::unique_ptr<storage::Lister> blobs = storage::InByteOrder(std::move(*listed), "the target");
  if (!options.dry_run) FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  Status st = recorder.Merge(*items, *blobs, "", nullptr);
  if (!options.dry_run) {
    Status committed = catalog.CommitTransaction();  // what was found stays, whatever came
    if (st.ok()) st = committed;
  }
  if (!st.ok()) return st;
  return recorder.Take();
}

// Checks one claimed part, a batch at a time: each batch's findings are written in a
// transaction of their own with the part's progress, committed only while this process still
// holds the part, and added to `found`. False when the part is no longer this process's
// (another took it over after its lease ran out, or the sync ended).
Result<bool> CheckPart(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                       const DriftOptions& options, const catalog::DriftPart& part,
                       const std::string& checker, DriftReport& found) {
  using Clock = std::chrono::steady_clock;
  Result<catalog::ItemCursor> items = catalog.ItemsBetween(part.prefix, PrefixEnd(part.prefix));
  if (!items.ok()) return items.status();
  Result<std::unique_ptr<storage::Lister>> listed =
      target.List(part.prefix,
                  storage::ListOptions{.metadata = false, .concurrency = options.list_concurrency});
  if (!listed.ok()) return listed.status();
  std::unique_ptr<storage::Lister> blobs = storage::InByteOrder(
      std::move(*listed), fmt::format("the target's listing of '{}'", part.prefix));
  DriftRecorder recorder(catalog, target, run, options, checker, /*batched=*/true);
  Clock::time_point recorded = Clock::now();
  bool lost = false;
  // Records the batch found so far with the part's progress; `lost` when the part is not ours.
  auto record = [&](const std::string& checked_to, bool done) -> Status {
    const DriftReport batch = recorder.Take();
    FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
    Status written = recorder.Record();
    Result<bool> held = written.ok()
                            ? catalog.HoldDriftPart(run, part.prefix, checked_to, batch.changed,
                                                    batch.unexpected, done, options.lease)
                            : Result<bool>(written);
    if (held.ok() && *held) written = catalog.CommitTransaction();  // rolls back if it fails
    if (!held.ok() || !*held) {
      (void)catalog.RollbackTransaction();
      recorder.Drop();
      lost = held.ok();
      return held.ok() ? Status(Code::kCancelled, "taken over") : held.status();
    }
    if (!written.ok()) return written;
    recorder.Recorded();
    found.changed += batch.changed;
    found.unexpected += batch.unexpected;
    recorded = Clock::now();
    return Status::Ok();
  };
  Status st = recorder.Merge(*items, *blobs, part.checked_to, [&](const std::string& path) {
    if (Stopped(options)) return Status(Code::kCancelled, "the sync was stopped");
    if (recorder.Kept() < kBatchFindings && Clock::now() - recorded < options.lease / 4) {
      return Status::Ok();
    }
    return record(path, false);
  });
  if (st.ok()) st = record(part.prefix, true);
  if (lost) return false;
  if (!st.ok()) {
    // Given back at once for whoever checks next: nothing of the batch is recorded.
    (void)catalog.ReleaseDriftPart(run, part.prefix);
    return st;
  }
  return true;
}

// Claims and checks parts of the drift check of `run` until none is left to claim; with `wait`,
// until every part is recorded, taking over those whose lease runs out. What this process
// recorded, and the parts it checked.
Result<DriftReport> CheckParts(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                               const DriftOptions& options, bool wait) {
  const std::string checker = ProcessName();
  DriftReport here;
  while (true) {
    if (Stopped(options)) return Status(Code::kCancelled, "the sync was stopped");
    Result<std::optional<catalog::DriftPart>> part = catalog.ClaimDriftPart(run, options.lease);
    if (!part.ok()) return part.status();
    if (*part) {
      Result<bool> done = CheckPart(catalog, target, run, options, **part, checker, here);
      if (!done.ok()) return done.status();
      if (*done) ++here.parts_checked;
      continue;
    }
    if (!wait) return here;
    Result<catalog::DriftTotals> totals = catalog.DriftCheckTotals(run);
    if (!totals.ok()) return totals.status();
    if (totals->left == 0) return here;
    if (options.waiting) options.waiting(totals->left);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// The entries of a plan's levels, in order.
class EntriesLister : public storage::Lister {
 public:
  explicit EntriesLister(std::vector<Entry> entries) : entries_(std::move(entries)) {}
  Result<bool> Next(Entry& entry) override {
    if (next_ == entries_.size()) return false;
    entry = std::move(entries_[next_++]);
    return true;
  }

 private:
  std::vector<Entry> entries_;
  size_t next_ = 0;
};

// The items outside every one of `prefixes` (in byte order): those between them, in order.
class ItemsBetweenPrefixes : public catalog::ItemCursor::Source {
 public:
  ItemsBetweenPrefixes(catalog::Catalog& catalog, const std::vector<std::string>& prefixes)
      : catalog_(catalog) {
    std::string from;
    for (const std::string& prefix : prefixes) {
      gaps_.emplace_back(from, prefix);
      from = PrefixEnd(prefix);
    }
    gaps_.emplace_back(from, "");
  }

  Result<bool> Next(Item& item) override {
    while (true) {
      if (cursor_) {
        Result<bool> more = cursor_->Next(item);
        if (!more.ok() || *more) return more;
        cursor_.reset();
      }
      if (next_ == gaps_.size()) return false;
      const auto& [from, before] = gaps_[next_++];
      if (!before.empty() && from >= before) continue;
      Result<catalog::ItemCursor> cursor = catalog_.ItemsBetween(from, before);
      if (!cursor.ok()) return cursor.status();
      cursor_.emplace(std::move(cursor).value());
    }
  }

 private:
  catalog::Catalog& catalog_;
  std::vector<std::pair<std::string, std::string>> gaps_;
  size_t next_ = 0;
  std::optional<catalog::ItemCursor> cursor_;
};

}  // namespace

bool DriftIsShared(catalog::Catalog& catalog, storage::Store& target, const DriftOptions& options) {
  // A helper cannot tell an --overwrite pass from another: such a pass (rare, and meant) checks
  // alone.
  return options.shared && catalog.SharesListing() && !options.dry_run && !options.overwrite &&
         !target.IsFolderTree() && !target.ListsAfter();
}

Result<DriftReport> CheckDrift(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                               const DriftOptions& options) {
  if (!DriftIsShared(catalog, target, options)) return CheckHere(catalog, target, run, options);
  Result<std::optional<SharedPlan>> planned =
      PlanSharedListing(target, /*metadata=*/false, catalog, /*parts_at_once=*/1, options.split);
  if (!planned.ok()) return planned.status();
  if (!*planned) return CheckHere(catalog, target, run, options);
  SharedPlan& plan = **planned;

  FERRY_RETURN_IF_ERROR(catalog.OpenDriftCheck(run, plan.prefixes));
  // The levels' own entries against the items outside every part, here; then the parts, with
  // whoever helps.
  DriftRecorder recorder(catalog, target, run, options, ProcessName(), /*batched=*/false);
  catalog::ItemCursor outside(std::make_unique<ItemsBetweenPrefixes>(catalog, plan.prefixes));
  std::unique_ptr<storage::Lister> levels =
      storage::InByteOrder(std::make_unique<EntriesLister>(std::move(plan.entries)), "the target");
  FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  Status st = recorder.Merge(outside, *levels, "", nullptr);
  Status committed = catalog.CommitTransaction();  // what was found stays, whatever came
  if (st.ok()) st = committed;
  if (!st.ok()) return st;
  DriftReport report = recorder.Take();
  Result<DriftReport> here = CheckParts(catalog, target, run, options, /*wait=*/true);
  if (!here.ok()) return here.status();
  Result<catalog::DriftTotals> totals = catalog.DriftCheckTotals(run);
  if (!totals.ok()) return totals.status();
  report.changed += totals->changed;
  report.unexpected += totals->unexpected;
  report.parts = totals->parts;
  report.parts_checked = here->parts_checked;
  FERRY_RETURN_IF_ERROR(catalog.CloseDriftCheck(run));
  return report;
}

Result<DriftReport> HelpCheckDrift(catalog::Catalog& catalog, storage::Store& target, int64_t run,
                                   const DriftOptions& options) {
  return CheckParts(catalog, target, run, options, /*wait=*/false);
}

}  // namespace ferry::migration
