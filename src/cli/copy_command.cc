// ferry copy DIR: copy every pending and failed item.
#include <fmt/format.h>

#include <iostream>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/live.h"
#include "cli/transfer_flags.h"
#include "migration/copy.h"
#include "migration/safety.h"

namespace ferry::cli {

namespace {

struct CopyCommandOptions {
  std::string dir;
  transfer::EngineFlags transfer;
  bool dry_run = false, overwrite = false, reopen = false, json = false;
  std::string lease = "2m";
  LiveFlags live;
};

// What copy --json prints: the counts are of files, with folders and links apart, as `status`
// and `report` count them.
nlohmann::json CopyJson(const migration::CopyReport& r) {
  return {{"run", r.run},
          {"copied", r.copied},
          {"adopted", r.adopted},
          {"failed", r.failed},
          {"conflicts", r.conflicts},
          {"vanished", r.vanished},
          {"folders", r.folders},
          {"links", r.links},
          {"bytes", r.bytes},
          {"bytes_sent", r.bytes_sent},
          {"seconds", r.seconds},
          {"bytes_per_second", r.seconds > 0 ? double(r.bytes_sent) / r.seconds : 0.0},
          {"retries", r.retries},
          {"stopped", r.stopped},
          {"unreachable", r.unreachable}};
}

// A copy on a catalog that shares work (PostgreSQL) is one worker of many, which hold the
// migration together. The first scan is not shared: the worker that can take the migration
// alone makes it, and the others wait for it. Exit 2 on failure.
std::unique_ptr<catalog::Catalog> OpenWorker(const std::string& dir, bool dry_run) {
  const auto open = [&] {
    auto catalog = catalog::Catalog::OpenAsWorker(dir, [&] {
      std::cerr << fmt::format(
          "ferry: another ferry process holds {} alone (a scan, sync or cutover); this worker "
          "starts when it finishes\n",
          dir);
    });
    if (!catalog.ok()) Fail(catalog.status());
    return std::move(catalog).value();
  };
  std::mt19937 jitter(std::random_device{}());
  while (true) {
    std::unique_ptr<catalog::Catalog> catalog = open();
    if (dry_run || !catalog->SharesWork() || migration::HasBeenScanned(*catalog)) return catalog;
    catalog.reset();
    if (auto alone = catalog::Catalog::Open(dir); alone.ok()) {
      // Nobody else works on it: scan it (unless someone just did), then share it again.
      if (!migration::HasBeenScanned(**alone)) {
        std::cout << "the source has not been scanned yet: scanning first (other workers "
                     "wait)\n";
        Endpoints endpoints = OpenEndpoints(**alone);
        migration::ScanReport scanned = RunScan(**alone, endpoints);
        PrintScanReport(scanned, std::cout);
        std::cout << "\n";
      }
    } else {
      // Another worker holds it (alone, to scan it: the next open waits for that; or shared,
      // wanting to scan too: one of us gets it after a pause of its own length).
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + jitter() % 800));
    }
  }
}

// Lists what a copy would transfer, from the catalog (or, never scanned, from a dry scan).
int DryRunCopy(catalog::Catalog& catalog, Endpoints& endpoints, const CopyCommandOptions& o) {
  int64_t files = 0, bytes = 0;
  auto would = [&](const catalog::Item& item) {
    if (item.kind == storage::Kind::kFolder) return;
    if (item.kind == storage::Kind::kFile) ++files;
    bytes += int64_t(item.size);
    std::cout << fmt::format("  would {} {} ({})\n",
                             item.target_etag.empty() ? "copy   " : "replace", item.path,
                             HumanBytes(int64_t(item.size)));
  };
  if (!migration::HasBeenScanned(catalog)) {
    std::cout << "the source has not been scanned yet; a copy would scan it first and then:\n";
    const catalog::Config& config = catalog.config();
    Result<migration::Filter> filter = migration::Filter::Parse(config.include, config.exclude);
    if (!filter.ok()) Fail(filter.status());
    migration::ScanOptions scan;
    scan.filter = *filter;
    scan.symlinks = config.symlinks;
    scan.list_concurrency = Network().scan_concurrency;
    scan.split = Network().split_listing;
    scan.dry_run = true;
    scan.on_change = [&](std::string_view change, const catalog::Item& item) {
      if (change == "new") would(item);
    };
    auto report = migration::Scan(catalog, *endpoints.source, *endpoints.target, scan);
    if (!report.ok()) Fail(report.status());
  } else {
    std::vector<catalog::ItemState> states{catalog::ItemState::kPending,
                                           catalog::ItemState::kFailed};
    if (o.overwrite) states.push_back(catalog::ItemState::kConflict);
    auto cursor = catalog.Items(states);
    if (!cursor.ok()) Fail(cursor.status());
    catalog::Item item;
    while (true) {
      Result<bool> more = cursor->Next(item);
      if (!more.ok()) Fail(more.status());
      if (!*more) break;
      would(item);
    }
  }
  std::cout << fmt::format("a copy would transfer {} files ({}); nothing was changed\n", files,
                           HumanBytes(bytes));
  return kExitDone;
}

int RunCopy(const CopyCommandOptions& o) {
  std::unique_ptr<transfer::Engine> engine = MakeEngine(o.transfer);
  const auto lease =
      std::chrono::duration_cast<std::chrono::seconds>(ParseDuration("--lease", o.lease));
  if (lease < std::chrono::seconds(5)) {
    throw ExitError(kExitUsage, fmt::format("--lease '{}': give at least 5s", o.lease));
  }
  // Writing over others' blobs is not shared: a worker cut off past its lease could write over
  // what another recorded. With --overwrite, copy holds the migration alone.
  auto catalog = o.overwrite ? OpenMigration(o.dir) : OpenWorker(o.dir, o.dry_run);
  CheckOpen(*catalog, o.reopen, o.dry_run, o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog, engine.get());
  if (o.dry_run) return DryRunCopy(*catalog, endpoints, o);
  LiveMetrics live(o.live);
  // With --json, stdout holds the one document; what people read goes to stderr.
  std::ostream& out = o.json ? std::cerr : std::cout;
  if (!migration::HasBeenScanned(*catalog)) {  // held alone: OpenWorker scans for workers
    live.Stage("scan");
    out << "the source has not been scanned yet: scanning first\n";
    migration::ScanReport scanned = RunScan(*catalog, endpoints);
    PrintScanReport(scanned, out);
    out << "\n";
  } else if (Status same = migration::CheckSourceIdentity(*catalog, *endpoints.source, false, 0);
             !same.ok()) {
    Fail(same);
  }

  InstallInterruptHandler();
  migration::CopyOptions options = MigrationCopyOptions(catalog->config(), *engine);
  options.overwrite = o.overwrite;
  options.lease = lease;
  const bool worker = catalog->SharesWork();
  ProgressLine line;
  live.Stage("copy");
  migration::CopyProgress last;
  options.progress = [&](const migration::CopyProgress& p) {
    live.Progress(p, engine->Stats(), endpoints.target->RetriesByCause());
    last = p;
    double rate = p.seconds > 0 ? double(p.bytes_done) / p.seconds : 0;
    if (worker) {  // the totals are the fleet's: this worker's share is not known
      line.Update(fmt::format("copy (this worker): {} files, {}, {}/s", p.items_done,
                              HumanBytes(p.bytes_done), HumanBytes(int64_t(rate))));
      return;
    }
    std::string eta = rate > 0 && p.bytes_total > p.bytes_done
                          ? HumanDuration(double(p.bytes_total - p.bytes_done) / rate)
                          : "-";
    line.Update(fmt::format("copy: {}/{} files, {}/{}, {}/s, ETA {}", p.items_done, p.items_total,
                            HumanBytes(p.bytes_done), HumanBytes(p.bytes_total),
                            HumanBytes(int64_t(rate)), eta));
  };
  options.retry_causes = RetryCauses(endpoints);
  Result<migration::CopyReport> report =
      migration::Copy(*catalog, *endpoints.source, *endpoints.target, options);
  line.Clear();
  if (!report.ok()) Fail(report.status());
  live.Progress(last, engine->Stats(), endpoints.target->RetriesByCause(), /*final=*/true);

  const migration::CopyReport& r = *report;
  if (o.json) std::cout << JsonText(CopyJson(r), 2) << "\n";
  if (worker) out << "this worker (its share of the fleet's copy): ";
  out << fmt::format(
      "copied {} files ({}) in {}; {} already there, {} failed, {} conflicts, {} vanished; {} "
      "folders and {} links recorded\n{}\n",
      r.copied, HumanBytes(r.bytes_sent), HumanDuration(r.seconds), r.adopted, r.failed,
      r.conflicts, r.vanished, r.folders, r.links, EngineSummary(r, r.seconds));
  for (const auto& [cause, n] : r.retries_by_cause) {
    out << fmt::format("  {} retries: {}\n", n, cause);
  }
  if (r.blocks_reused) out << fmt::format("resumed {} staged blocks\n", r.blocks_reused);
  if (!r.unreachable.empty()) {
    std::cerr << fmt::format(
        "ferry: stopped: the target failed item after item ({}); the items not copied stay "
        "pending or failed: fix the target and run 'ferry copy {}' again\n",
        r.unreachable, o.dir);
    return kExitItemsFailed;
  }
  if (r.stopped) {
    out << fmt::format("stopped early: run 'ferry copy {}' to go on\n", o.dir);
    return InterruptFlag().load() ? StoppedExitCode() : kExitItemsFailed;
  }
  if (r.failed + r.conflicts > 0) {
    out << fmt::format("see 'ferry errors {0}'; 'ferry copy {0}' retries failed items\n", o.dir);
    return kExitItemsFailed;
  }
  return kExitDone;
}

}  // namespace

CommandRunner AddCopyCommand(CLI::App& app) {
  auto o = std::make_shared<CopyCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "copy",
      "Copy every pending and failed item to the target (scans first if needed); safe to "
      "stop and run again");
  cmd->add_option("DIR", o->dir, "The migration folder (made by ferry init)")->required();
  AddTransferOptions(cmd, o->transfer);
  cmd->add_flag("--dry-run", o->dry_run, "List what would be copied; change nothing");
  cmd->add_flag("--json", o->json,
                "Print one JSON document on stdout at the end (counts of files, with folders "
                "and links apart); the rest goes to stderr")
      ->excludes("--dry-run");
  AddLiveOptions(cmd, o->live);
  cmd->get_option("--progress")->excludes("--json")->excludes("--dry-run");
  cmd->add_flag("--overwrite", o->overwrite,
                "Also write over blobs that someone else put in the way (conflicts)");
  cmd->add_flag("--reopen", o->reopen, "Work on a migration that was cut over");
  cmd->add_option("--lease", o->lease,
                  "With a PostgreSQL catalog: how long this worker's claim on items lasts "
                  "without renewal; a worker that dies leaves them to the others after it")
      ->default_str("2m");
  cmd->footer(
      "Many workers: with a PostgreSQL catalog (postgresql://...?migration=NAME), run copy on\n"
      "as many machines as you like at once. Each claims items a batch at a time, so none is\n"
      "copied twice; the throttles (--max-bandwidth, --max-ops, --schedule) are shared among the\n"
      "live workers; 'ferry status' lists them. A scan, sync or cutover waits for no worker:\n"
      "it is refused while they run, and workers started during one wait for it. With\n"
      "--overwrite, copy holds the migration alone.\n\n"
      "Exit codes: 0 everything copied; 1 some items failed or met a conflict (ferry errors\n"
      "lists them; run copy again to retry); 2 configuration problem; 3 the source looks\n"
      "unmounted; 130/143 stopped by SIGINT/SIGTERM (run copy again to go on).\n");
  return [o] { return RunCopy(*o); };
}

}  // namespace ferry::cli
