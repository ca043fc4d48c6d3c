#include "migration/watch.h"

#include <fmt/format.h>

#include <chrono>

#include "base/text.h"
#include "migration/cutover.h"
#include "migration/safety.h"

namespace ferry::migration {

namespace {

// The differences earlier passes logged: path -> "change size mtime" (a note this file owns).
constexpr const char* kSeenMeta = "watch-seen";

std::string Signature(const SourceChange& c) {
  return fmt::format("{} {} {}", c.change, c.size, c.mtime_ns);
}

Result<WatchReport> Watch(catalog::Catalog& catalog, storage::Store& source,
                          const storage::Store& target, const ScanOptions& base, int64_t run) {
  auto start = std::chrono::steady_clock::now();
  WatchReport report;
  report.run = run;
  ScanOptions scan = base;
  scan.dry_run = true;
  scan.sync = true;
  scan.on_change = [&](std::string_view change, const catalog::Item& item) {
    if (change != "new" && change != "changed" && change != "deleted") return;
    report.changes.push_back({std::string(change), item.path, item.size, item.mtime_ns});
  };
  Result<ScanReport> scanned = Scan(catalog, source, target, scan);
  if (!scanned.ok()) return scanned.status();
  report.unreadable = scanned->unreadable;
  report.kept_unknown = scanned->kept_unknown;

  nlohmann::json seen = nlohmann::json::object();
  if (Result<std::string> text = catalog.GetMeta(kSeenMeta); text.ok()) {
    seen = nlohmann::json::parse(*text, nullptr, false);
    if (!seen.is_object()) seen = nlohmann::json::object();
  }
  nlohmann::json now = nlohmann::json::object();
  FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  Status logged = Status::Ok();
  for (const SourceChange& c : report.changes) {
    std::string signature = Signature(c);
    now[c.path] = signature;
    if (seen.contains(c.path) && seen[c.path] == signature) continue;
    ++report.newly_seen;
    logged = catalog.AppendEvent(
        run, c.path, "source-changed",
        JsonText(nlohmann::json{{"change", c.change}, {"size", c.size}, {"mtime_ns", c.mtime_ns}}));
    if (!logged.ok()) break;
  }
  if (logged.ok()) logged = catalog.SetMeta(kSeenMeta, JsonText(now));
  if (!logged.ok()) {
    (void)catalog.RollbackTransaction();
    return logged;
  }
  if (Status committed = catalog.CommitTransaction(); !committed.ok()) {
    (void)catalog.RollbackTransaction();
    return committed;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

// Ends `run` with the outcome of `status` and `summary`; returns `status`.
Status EndRun(catalog::Catalog& catalog, int64_t run, const Status& status, std::string outcome,
              int64_t files, const nlohmann::json& summary) {
  catalog::Run record;
  record.id = run;
  record.outcome = !status.ok() && status.code() == Code::kRefused ? "refused"
                   : !status.ok()                                  ? "failed"
                                                                   : std::move(outcome);
  record.files = files;
  record.summary_json = JsonText(summary);
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  return status;
}

nlohmann::json WatchSummary(const WatchReport& w) {
  return {
      {"changes", int64_t(w.changes.size())}, {"newly_seen", w.newly_seen}, {"seconds", w.seconds}};
}

}  // namespace

Result<WatchReport> WatchSource(catalog::Catalog& catalog, storage::Store& source,
                                const storage::Store& target, const ScanOptions& scan) {
  if (!IsClosed(catalog)) {
    return Status(Code::kInvalidInput,
                  "the migration is not cut over: watch-source watches a retired source ('ferry "
                  "sync' keeps an open migration's target current)");
  }
  Result<int64_t> run = catalog.BeginRun(catalog::Stage::kWatchSource);
  if (!run.ok()) return run.status();
  Result<WatchReport> report = Watch(catalog, source, target, scan, *run);
  if (!report.ok()) {
    return EndRun(catalog, *run, report.status(), "failed", 0,
                  {{"error", report.status().message()}});
  }
  FERRY_RETURN_IF_ERROR(EndRun(catalog, *run, Status::Ok(),
                               !report->changes.empty() ? "changed"
                               : report->unchanged()    ? "unchanged"
                                                        : "unreadable folders",
                               int64_t(report->changes.size()), WatchSummary(*report)));
  return report;
}

Result<DecommissionReport> CheckDecommission(catalog::Catalog& catalog, storage::Store& source,
                                             const storage::Store& target, const ScanOptions& scan,
                                             double min_days, bool accept_skipped, int64_t now_ns) {
  DecommissionReport report;
  Result<int64_t> run = catalog.BeginRun(catalog::Stage::kDecommissionCheck);
  if (!run.ok()) return run.status();
  report.run = *run;
  std::vector<std::string>& unmet = report.unmet;

  std::optional<nlohmann::json> cutover = CutoverRecord(catalog);
  int64_t cut_ns = cutover ? cutover->value("time_ns", int64_t(0)) : 0;
  if (!cutover || !IsClosed(catalog)) {
    unmet.push_back(cutover ? "the migration was reopened after its cutover: cut over again"
                            : "the migration has not been cut over");
  } else {
    double days = double(now_ns - cut_ns) / 86'400e9;
    if (days < min_days) {
      unmet.push_back(
          fmt::format("the cutover is {:.1f} days old; --min-days asks for {}", days, min_days));
    }
  }

  // A complete deep verification after the cutover that found nothing.
  Result<std::vector<catalog::Run>> runs = catalog.Runs();
  if (!runs.ok()) return runs.status();
  const catalog::Run* deep = nullptr;
  for (const auto& r : *runs) {
    if (cut_ns > 0 && r.started_ns > cut_ns &&
        catalog::StageNamed(r.stage) == catalog::Stage::kVerifyDeep) {
      deep = &r;
    }
  }
  if (deep == nullptr) {
    unmet.push_back("no 'ferry verify --deep' since the cutover: run one");
  } else {
    nlohmann::json s = nlohmann::json::parse(deep->summary_json, nullptr, false);
    if (!s.is_object()) s = nlohmann::json::object();
    if (deep->outcome != "done" || s.value("mismatches", int64_t(0)) > 0) {
      unmet.push_back(fmt::format(
          "the last deep verification since the cutover (run {}) found problems ({}, {}): fix "
          "them and verify again",
          deep->id, deep->outcome,
          Count(s.value("mismatches", int64_t(0)), "mismatch", "mismatches")));
    } else if (!s.contains("sampled") || s["sampled"] != false) {
      unmet.push_back(fmt::format(
          "the last deep verification since the cutover (run {}) read a sample only (or is "
          "from a ferry that did not say): run 'ferry verify --deep' without --sample",
          deep->id));
    }
  }

  if (Result<catalog::ChainCheck> chain = catalog.CheckChain(); !chain.ok()) {
    return chain.status();
  } else if (!chain->intact) {
    unmet.push_back(fmt::format("the log's hash chain breaks at event {}", chain->first_bad_id));
  }
  Result<OpenProblems> open = CountOpenProblems(catalog);
  if (!open.ok()) return open.status();
  if (open->blocking() > 0) {
    unmet.push_back(fmt::format("{} still open (ferry errors lists them)",
                                Count(open->blocking(), "item is", "items are")));
  }
  if (open->skipped > 0 && !accept_skipped) {
    unmet.push_back(fmt::format(
        "{} only at the source (ferry errors lists them): save them elsewhere, then pass "
        "--accept-skipped",
        Count(open->skipped, "skipped item exists", "skipped items exist")));
  }

  // The source as it is now, against the catalog at the cutover.
  if (cutover) {
    Result<WatchReport> watched = Watch(catalog, source, target, scan, report.run);
    if (!watched.ok() && watched.status().code() != Code::kRefused) {
      return EndRun(catalog, report.run, watched.status(), "failed", 0,
                    {{"error", watched.status().message()}});
    }
    if (!watched.ok()) {
      unmet.push_back("the source cannot be compared: " + watched.status().message());
    } else {
      report.watch = *watched;
      if (!watched->changes.empty()) {
        unmet.push_back(fmt::format(
            "the source changed since the cutover ({}, e.g. {}): someone still writes to it",
            Count(int64_t(watched->changes.size()), "change"), watched->changes.front().path));
      }
      if (watched->unreadable > 0 || watched->kept_unknown > 0) {
        unmet.push_back(
            fmt::format("{} of the source could not be read, so changes there would go unseen: fix "
                        "access and check again",
                        Count(watched->unreadable, "folder")));
      }
    }
  }

  report.passed = unmet.empty();
  nlohmann::json verdict{{"passed", report.passed},
                         {"unmet", unmet},
                         {"min_days", min_days},
                         {"accept_skipped", accept_skipped},
                         {"source_changes", int64_t(report.watch.changes.size())}};
  FERRY_RETURN_IF_ERROR(
      catalog.AppendEvent(report.run, "", "decommission-check", JsonText(verdict)));
  FERRY_RETURN_IF_ERROR(
      EndRun(catalog, report.run, Status::Ok(), report.passed ? "passed" : "not yet", 0, verdict));
  return report;
}

}  // namespace ferry::migration
