#include "migration/cutover.h"

#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/text.h"
#include "migration/snapshot.h"

namespace ferry::migration {

namespace {

using catalog::ItemState;

// The catalog notes this stage owns (read and written only here).
constexpr const char* kCutoverMeta = "cutover";
constexpr const char* kClosedMeta = "closed";

// Snapshot files in the migration folder, removed when the cutover ends.
class Snapshots {
 public:
  explicit Snapshots(const std::string& dir) : dir_(dir) {}
  ~Snapshots() {
    for (int i = 0; i < next_; ++i) ::unlink(Name(i).c_str());
  }
  std::string Next() { return Name(next_++); }

 private:
  std::string Name(int i) const { return fmt::format("{}/cutover-snapshot-{}.tmp", dir_, i); }
  std::string dir_;
  int next_ = 0;
};

class CutoverRun {
 public:
  CutoverRun(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
             const CutoverOptions& options, CutoverReport& report)
      : catalog_(catalog),
        source_(source),
        target_(target),
        options_(options),
        report_(report),
        snapshots_(catalog.ScratchDir()) {}

  int Concurrency() const { return options_.sync.scan.list_concurrency; }

  // Each step returns an error, or OK with report_.refused set to stop there.
  Status Execute() {
    FERRY_RETURN_IF_ERROR(CheckSource());
    if (!report_.refused.empty()) return Status::Ok();
    FERRY_RETURN_IF_ERROR(Freeze());
    if (!report_.refused.empty()) return Status::Ok();
    FERRY_RETURN_IF_ERROR(QuietWindow());
    if (!report_.refused.empty()) return Status::Ok();
    FERRY_RETURN_IF_ERROR(FinalPasses());
    if (!report_.refused.empty()) return Status::Ok();
    FERRY_RETURN_IF_ERROR(CheckOpenProblems());
    if (!report_.refused.empty() || options_.dry_run) return Status::Ok();
    FERRY_RETURN_IF_ERROR(VerifyTarget());
    if (!report_.refused.empty()) return Status::Ok();
    FERRY_RETURN_IF_ERROR(StopPoint());
    return Close();
  }

 private:
  void Step(const std::string& text) {
    if (options_.on_step) options_.on_step(text);
  }

  Status StopPoint() const {
    const std::atomic<bool>* stop = options_.sync.copy.stop;
    if (stop && stop->load()) return Status(Code::kCancelled, "the cutover was stopped");
    return Status::Ok();
  }

  Status CheckSource() {
    if (IsClosed(catalog_)) {
      report_.refused = "the migration was already cut over (ferry copy/sync --reopen reopens it)";
      return Status::Ok();
    }
    Status same = CheckSourceIdentity(catalog_, source_, options_.sync.scan.accept_source_change,
                                      report_run_, options_.dry_run);
    if (same.code() == Code::kRefused) {
      report_.refused = same.message();
      return Status::Ok();
    }
    return same;
  }

  // From here, a cutover that does not close runs the abort hook.
  Status Freeze() {
    if (options_.dry_run) return Status::Ok();
    frozen_ = true;
    if (options_.hooks.pre_freeze.empty()) return Status::Ok();
    Step("running the pre-freeze hook");
    Result<HookResult> hook = RunLogged("pre-freeze", options_.hooks.pre_freeze, {});
    if (!hook.ok()) return hook.status();
    // Stopped by the operator: a stop, not a refusal (exit 130/143; the abort hook still runs).
    if (hook->stopped)
      return Status(Code::kCancelled, "the cutover was stopped in its pre-freeze hook");
    if (!hook->ok()) {
      report_.refused = fmt::format(
          "the pre-freeze hook failed ({}): the cutover did not begin{}", hook->Outcome(),
          options_.hooks.on_abort.empty() ? "" : "; the abort hook runs to undo what it did");
    }
    return Status::Ok();
  }

 public:
  // Runs one hook with the migration's variables and FERRY_RUN, and logs its outcome.
  Result<HookResult> RunLogged(const std::string& name, const std::string& command,
                               std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> env = options_.hooks.env;
    env.merge(extra);
    env["FERRY_RUN"] = std::to_string(report_run_);
    // The abort hook is not stopped by Ctrl-C: it is what undoes the freeze.
    const std::atomic<bool>* stop = name == "on-abort" ? nullptr : options_.sync.copy.stop;
    Result<HookResult> hook = RunHook(name, command, env, options_.hooks.timeout, stop);
    if (!hook.ok()) {
      // Logged as a hook that failed, so status and the report see it too.
      Step(fmt::format("the {} hook could not run: {}", name, hook.status().message()));
      HookResult failed;
      failed.hook = name;
      failed.command = RedactCredentials(command);
      failed.output = hook.status().message();
      report_.hooks.push_back(failed);
      (void)catalog_.AppendEvent(report_run_, "", "hook", JsonText(failed.Json()));
      return hook.status();
    }
    report_.hooks.push_back(*hook);
    Step(fmt::format("{} hook: {} ({:.1f}s)", name, hook->Outcome(), hook->seconds));
    // The hook ran: its outcome stands even if the log cannot take it now.
    Status logged = catalog_.AppendEvent(report_run_, "", "hook", JsonText(hook->Json()));
    if (!logged.ok()) Step("the hook's outcome could not be logged: " + logged.message());
    return hook;
  }
  bool frozen() const { return frozen_; }

 private:
  Status QuietWindow() {
    Step(fmt::format("checking that the source is quiet for {} s",
                     double(options_.quiet_window.count()) / 1000.0));
    const Filter& filter = options_.sync.scan.filter;
    std::string first = snapshots_.Next();
    Result<SnapshotDiff> start = ListSnapshot(source_, filter, first, "", 100, Concurrency());
    if (!start.ok()) return Refusal(start.status());
    auto until = std::chrono::steady_clock::now() + options_.quiet_window;
    while (std::chrono::steady_clock::now() < until) {
      FERRY_RETURN_IF_ERROR(StopPoint());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FERRY_RETURN_IF_ERROR(StopPoint());
    last_snapshot_ = snapshots_.Next();
    Result<SnapshotDiff> end =
        ListSnapshot(source_, filter, last_snapshot_, first, 100, Concurrency());
    if (!end.ok()) return Refusal(end.status());
    last_listed_ns_ = end->listed_ns;
    report_.changing = end->paths;
    report_.changes = end->changes;
    if (end->changes > options_.max_changes) {
      report_.refused = fmt::format(
          "the source is still changing: {} changes in the quiet window (at most {} allowed); "
          "stop the writers and try again",
          end->changes, options_.max_changes);
    }
    return Status::Ok();
  }

  // Final syncs until the source is listed unchanged since the listing before the last one.
  Status FinalPasses() {
    for (int pass = 1;; ++pass) {
      report_.final_passes = pass;
      Step(options_.dry_run ? "final sync (dry run)"
           : pass == 1      ? "final sync"
                            : fmt::format("final sync, pass {}: the source changed during the "
                                               "last one",
                                          pass));
      SyncOptions sync = options_.sync;
      sync.dry_run = options_.dry_run;
      Result<SyncReport> synced = Sync(catalog_, source_, target_, sync);
      if (!synced.ok()) return Refusal(synced.status());
      report_.sync = *synced;
      FERRY_RETURN_IF_ERROR(CheckPass());
      if (!report_.refused.empty() || options_.dry_run) return Status::Ok();

      Step("checking that nothing changed during the final sync");
      std::string next = snapshots_.Next();
      Result<SnapshotDiff> diff = ListSnapshot(source_, options_.sync.scan.filter, next,
                                               last_snapshot_, 100, Concurrency());
      if (!diff.ok()) return Refusal(diff.status());
      if (diff->changes == 0) {
        report_.in_sync_since_ns = last_listed_ns_;
        return Status::Ok();
      }
      report_.changing = diff->paths;
      report_.changes = diff->changes;
      if (pass >= options_.max_final_passes) {
        report_.refused = fmt::format(
            "the source changed during the final sync ({} changes in {} passes, the last "
            "listed below): stop the writers and run cutover again",
            diff->changes, pass);
        return Status::Ok();
      }
      last_snapshot_ = next;
      last_listed_ns_ = diff->listed_ns;
    }
  }

  // What one final pass left that forbids closing.
  Status CheckPass() {
    const SyncReport& s = report_.sync;
    if (!s.deletion_refused.empty()) {
      report_.refused = s.deletion_refused;
    } else if (s.scan.unreadable > 0) {
      report_.refused = fmt::format(
          "{} folders of the source could not be read, so the target cannot be proven to hold "
          "it: see the sync's output, fix access and run cutover again",
          s.scan.unreadable);
    } else if (int64_t drift = s.drift.changed + s.drift.unexpected; drift > 0) {
      report_.refused = fmt::format(
          "the final sync found {} blobs changed by others and {} unexpected blobs: see ferry "
          "errors, resolve them and run cutover again",
          s.drift.changed, s.drift.unexpected);
    }
    return Status::Ok();
  }

  Status CheckOpenProblems() {
    Result<OpenProblems> open = CountOpenProblems(catalog_);
    if (!open.ok()) return open.status();
    // A dry run has copied nothing: only what a real final pass would not mend counts.
    int64_t blocking =
        options_.dry_run ? (options_.sync.overwrite ? 0 : open->conflicts) : open->blocking();
    int64_t skipped = options_.accept_skipped ? 0 : open->skipped;
    report_.skipped = open->skipped;
    if (blocking + skipped == 0) return Status::Ok();
    Result<std::vector<catalog::Item>> items = OpenProblemItems(catalog_, 100, skipped > 0);
    if (!items.ok()) return items.status();
    for (const auto& item : *items) {
      bool listed = item.state == ItemState::kSkipped ? skipped > 0
                    : options_.dry_run                ? item.state == ItemState::kConflict
                                                      : IsBlockingProblem(item);
      if (listed) report_.open_items.push_back(item);
    }
    std::string what =
        fmt::format("{} conflicts, {} failed, {} pending and {} vanished while copied",
                    open->conflicts, open->failed, open->pending, open->vanished);
    if (blocking > 0) {
      report_.refused = fmt::format(
          "open problems remain ({}): resolve them (ferry errors; sync --overwrite or ferry "
          "resolve --keep-target for conflicts) and run cutover again",
          what);
    } else {
      report_.refused = fmt::format(
          "{} skipped and not in the target (listed below): pass --accept-skipped to cut "
          "over without {}",
          Count(skipped, "item was", "items were"), skipped == 1 ? "it" : "them");
    }
    return Status::Ok();
  }

  Status VerifyTarget() {
    Step("verifying the target");
    VerifyOptions verify;
    verify.on_finding = options_.sync.on_finding;
    Result<VerifyReport> verified = Verify(catalog_, source_, target_, verify);
    if (!verified.ok()) return verified.status();
    report_.verify = *verified;
    if (report_.verify.mismatches > 0) {
      report_.refused = fmt::format(
          "verification found {} mismatches in the target: see ferry verify, fix them and run "
          "cutover again",
          report_.verify.mismatches);
    }
    return Status::Ok();
  }

  // The record, the closing and the event land together or not at all: a crash in between
  // must not leave a closed migration without its cutover record (or the reverse).
  Status Close() {
    Result<std::vector<catalog::StateTotals>> totals = catalog_.Totals();
    if (!totals.ok()) return totals.status();
    for (const auto& t : *totals) {
      if (t.state == ItemState::kCopied) {
        report_.items = t.items;
        report_.files = t.files;
        report_.bytes = t.bytes;
      }
    }
    nlohmann::json record = Record();
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    Status closed = WriteClose(record);
    if (!closed.ok()) {
      (void)catalog_.RollbackTransaction();  // neither closed nor recorded: the run says failed
      return closed;
    }
    report_.done = true;
    return Status::Ok();
  }

  Status WriteClose(const nlohmann::json& record) {
    if (report_.skipped > 0) {
      FERRY_RETURN_IF_ERROR(catalog_.AppendEvent(
          report_run_, "", "skipped-accepted",
          JsonText(nlohmann::json{{"items", report_.skipped}, {"by", Operator()}})));
    }
    FERRY_RETURN_IF_ERROR(catalog_.SetMeta(kCutoverMeta, JsonText(record)));
    FERRY_RETURN_IF_ERROR(catalog_.SetMeta(kClosedMeta, "1"));
    FERRY_RETURN_IF_ERROR(catalog_.AppendEvent(report_run_, "", "cutover", JsonText(record)));
    catalog::Run done;
    done.id = report_run_;
    done.outcome = "done";
    done.files = report_.files;
    done.bytes = report_.bytes;
    done.summary_json = JsonText(record);
    FERRY_RETURN_IF_ERROR(catalog_.EndRun(done));
    return catalog_.CommitTransaction();
  }

  nlohmann::json Record() const {
    return {{"time_ns", NowUnixNs()},
            {"run", report_run_},
            {"items", report_.items},
            {"files", report_.files},
            {"bytes", report_.bytes},
            {"in_sync_since_ns", report_.in_sync_since_ns},
            {"final_passes", report_.final_passes},
            {"skipped_accepted", report_.skipped},
            {"verify",
             {{"run", report_.verify.run},
              {"checked", report_.verify.checked},
              {"mismatches", report_.verify.mismatches}}},
            {"source", catalog_.config().source},
            {"target", catalog_.config().target}};
  }

  // A refusal of a step below (the source changed identity, a listing with holes) becomes the
  // cutover's refusal; any other error stays an error.
  Status Refusal(const Status& status) {
    if (status.code() != Code::kRefused) return status;
    report_.refused = status.message();
    return Status::Ok();
  }

 public:
  int64_t report_run_ = 0;

 private:
  catalog::Catalog& catalog_;
  storage::Store& source_;
  storage::Store& target_;
  const CutoverOptions& options_;
  CutoverReport& report_;
  Snapshots snapshots_;
  std::string last_snapshot_;  // the listing the next final pass is proven against
  int64_t last_listed_ns_ = 0;
  bool frozen_ = false;  // the pre-freeze point was passed
};

}  // namespace

std::optional<nlohmann::json> CutoverRecord(catalog::Catalog& catalog) {
  Result<std::string> record = catalog.GetMeta(kCutoverMeta);
  if (!record.ok()) return std::nullopt;
  auto json = nlohmann::json::parse(*record, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return std::nullopt;
  return json;
}

bool IsClosed(catalog::Catalog& catalog) {
  Result<std::string> closed = catalog.GetMeta(kClosedMeta);
  return closed.ok() && *closed == "1";
}

Status Reopen(catalog::Catalog& catalog) {
  FERRY_RETURN_IF_ERROR(catalog.SetMeta(kClosedMeta, "0"));
  return catalog.AppendEvent(0, "", "reopened", "{}");
}

Result<CutoverReport> Cutover(catalog::Catalog& catalog, storage::Store& source,
                              storage::Store& target, const CutoverOptions& options) {
  CutoverReport report;
  CutoverRun cutover(catalog, source, target, options, report);
  if (!options.dry_run) {
    Result<int64_t> run = catalog.BeginRun(catalog::Stage::kCutover);
    if (!run.ok()) return run.status();
    cutover.report_run_ = *run;
  }
  Status status = cutover.Execute();
  if (report.done && !options.hooks.post_cutover.empty()) {
    // The migration is closed whatever the hook does: its failure is the report's, not an
    // error that would hide the close.
    if (options.on_step) options.on_step("running the post-cutover hook");
    Result<HookResult> hook = cutover.RunLogged("post-cutover", options.hooks.post_cutover, {});
    report.post_cutover_failed = !hook.ok() || !hook->ok();
  }
  if (options.dry_run || report.done) {
    if (!status.ok()) return status;
    return report;
  }
  if (cutover.frozen() && !options.hooks.on_abort.empty()) {
    if (options.on_step) options.on_step("running the abort hook");
    std::string reason = !status.ok() ? status.message() : report.refused;
    Result<HookResult> hook =
        cutover.RunLogged("on-abort", options.hooks.on_abort, {{"FERRY_REASON", reason}});
    report.abort_failed = !hook.ok() || !hook->ok();
    if (report.abort_failed && options.on_step) {
      options.on_step("the abort hook failed: the freeze may still be in place; undo it by hand");
    }
  }
  nlohmann::json hooks = nlohmann::json::array();
  for (const HookResult& hook : report.hooks) hooks.push_back(hook.Json());
  catalog::Run record;
  record.id = cutover.report_run_;
  record.outcome = status.code() == Code::kCancelled ? "stopped"
                   : !status.ok()                    ? "failed"
                                                     : "refused";
  record.summary_json = JsonText(
      nlohmann::json{{"refused", report.refused}, {"changes", report.changes}, {"hooks", hooks}});
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  if (!status.ok()) return status;
  return report;
}

}  // namespace ferry::migration
