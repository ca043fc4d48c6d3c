// ferry sync DIR: an incremental pass. ferry verify DIR: validation. ferry cutover DIR.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <iostream>

#include "cli/commands.h"
#include "cli/live.h"
#include "cli/transfer_flags.h"
#include "migration/cutover.h"
#include "migration/plan.h"
#include "migration/sync.h"
#include "migration/verify.h"

namespace ferry::cli {

namespace {

struct SyncCommandOptions {
  std::string dir;
  std::string mode;  // "" = the migration's
  std::string max_delete = "10%";
  bool checksum = false, overwrite = false, dry_run = false, reopen = false;
  bool accept_source_change = false;
  transfer::EngineFlags transfer;
  LiveFlags live;  // sync only (not cutover's final sync)
};

// Lists the open problems (the first ten) after a one-line count; true if any blocks.
bool PrintOpenProblems(catalog::Catalog& catalog, const migration::OpenProblems& open,
                       const std::string& dir, std::ostream& out) {
  if (open.blocking() == 0) return false;
  out << fmt::format(
      "open problems: {} conflicts, {} failed, {} pending, {} vanished while copied; they stay "
      "open until resolved:\n",
      open.conflicts, open.failed, open.pending, open.vanished);
  Result<std::vector<catalog::Item>> items = migration::OpenProblemItems(catalog, 10, false);
  if (items.ok()) {
    for (const auto& item : *items) {
      out << fmt::format("  {}: {} ({})\n", catalog::StateName(item.state), item.path,
                         item.reason.empty() ? "not copied yet" : item.reason);
    }
  }
  out << fmt::format(
      "'ferry copy {0}' copies pending items and retries failures ('ferry errors {0}' groups "
      "them by cause); 'ferry sync {0} --overwrite' or 'ferry resolve {0} PATH --keep-target' "
      "settles a conflict\n",
      dir);
  return true;
}

void PrintFinding(const migration::Finding& f) {
  std::cout << fmt::format("  {}: {} ({})\n", migration::FindingName(f.kind), f.path, f.detail);
}

// Options shared by sync and cutover's final sync.
migration::SyncOptions MakeSyncOptions(catalog::Catalog& catalog, const SyncCommandOptions& o,
                                       transfer::Engine& engine, ProgressLine& line) {
  const catalog::Config& config = catalog.config();
  Result<migration::Filter> filter = migration::Filter::Parse(config.include, config.exclude);
  if (!filter.ok()) Fail(filter.status());
  migration::SyncOptions s;
  s.scan.filter = *filter;
  s.scan.symlinks = config.symlinks;
  s.scan.list_concurrency = Network().scan_concurrency;
  s.scan.split = Network().split_listing;
  s.scan.checksum = o.checksum;
  s.scan.accept_source_change = o.accept_source_change;
  Result<migration::DeleteBudget> budget = migration::DeleteBudget::Parse(o.max_delete);
  if (!budget.ok()) Fail(budget.status());
  s.max_delete = *budget;
  s.mode = o.mode.empty() ? config.mode : *catalog::DeleteModeNamed(o.mode);
  s.overwrite = o.overwrite;
  s.dry_run = o.dry_run;
  s.copy = MigrationCopyOptions(config, engine);
  s.copy.progress = [&line](const migration::CopyProgress& p) {
    line.Update(fmt::format("sync: {}/{} files, {}/{}", p.items_done, p.items_total,
                            HumanBytes(p.bytes_done), HumanBytes(p.bytes_total)));
  };
  s.on_finding = PrintFinding;
  if (o.dry_run) {
    s.scan.on_change = [mirror = s.mode == catalog::DeleteMode::kMirror](
                           std::string_view change, const catalog::Item& item) {
      if (change == "new")
        std::cout << fmt::format("  would copy    {} ({})\n", item.path,
                                 HumanBytes(int64_t(item.size)));
      if (change == "changed")
        std::cout << fmt::format("  would update  {} ({})\n", item.path,
                                 HumanBytes(int64_t(item.size)));
      if (change == "deleted") {
        if (mirror) {
          std::cout << fmt::format("  would delete  {} (deleted at the source)\n", item.path);
        } else {
          std::cout << fmt::format("  deleted at the source: {} (its blob stays)\n", item.path);
        }
      }
    };
    s.on_would_delete = [](const catalog::Item& item) {
      std::cout << fmt::format("  would delete blob {}\n", item.path);
    };
  }
  return s;
}

void PrintDelta(const migration::SyncReport& r, bool dry_run) {
  const migration::ScanReport& s = r.scan;
  std::cout << fmt::format("{}delta: {} new ({}), {} changed ({}), {} deleted at the source ({})\n",
                           dry_run ? "would transfer: " : "", s.delta_new,
                           HumanBytes(s.delta_new_bytes), s.delta_changed,
                           HumanBytes(s.delta_changed_bytes), s.delta_deleted,
                           HumanBytes(s.delta_deleted_bytes));
  if (!dry_run) {
    std::cout << fmt::format(
        "copied {} files ({} replaced, {} of them metadata only), {} failed, {} conflicts; {} "
        "blobs deleted; drift: {} changed by others, {} unexpected blobs; {}\n{}\n",
        r.copy.copied, r.copy.replaced, r.copy.metadata_only, r.copy.failed,
        r.copy.conflicts + r.delete_conflicts, r.deleted, r.drift.changed, r.drift.unexpected,
        HumanDuration(r.seconds), EngineSummary(r.copy, r.seconds));
    if (r.drift.parts > 0) {
      std::cout << fmt::format(
          "the drift check listed the target in {}: {} checked here{}\n",
          Count(r.drift.parts, "part"), r.drift.parts_checked,
          r.drift.parts_checked < r.drift.parts
              ? ", the rest by the processes helping (what they found is printed there, and "
                "counted above)"
              : "");
    }
    if (r.helpers.processes > 0) {
      std::cout << fmt::format("with {} helping: they copied {} more files ({}), {} failed\n",
                               Count(r.helpers.processes, "other process", "other processes"),
                               r.helpers.files, HumanBytes(r.helpers.bytes), r.helpers.failed);
    }
    if (r.helpers.died > 0) {
      const bool one = r.helpers.died == 1;
      std::cout << fmt::format(
          "{} stopped answering before {} ended (died or cut off): what {} copied is in the "
          "catalog and the log (under {} copy {}), not in these counts\n",
          Count(r.helpers.died, "helper"), one ? "it" : "they", one ? "it" : "they",
          one ? "its" : "their", one ? "run" : "runs");
    }
  } else if (r.deleted) {
    std::cout << fmt::format("would delete {} blobs ({})\n", r.deleted,
                             HumanBytes(r.deleted_bytes));
  }
}

// How run `run` of a sync ended ("interrupted" while still marked running: its process is
// gone), and whether that is an end it went through.
std::pair<std::string, bool> SyncOutcome(catalog::Catalog& catalog, int64_t run) {
  std::string outcome = "interrupted";
  for (const catalog::Run& r : Checked(catalog.Runs())) {
    if (r.id == run && r.outcome != "running") outcome = r.outcome;
  }
  return {outcome, catalog::WentThrough(outcome)};
}

// The exit of a helper whose sync ended before this process joined a copy: 0 when it went
// through (nothing to copy, or a copy over before this process could join it), 2 when it was
// stopped, failed or its process died.
int SyncEndedWithoutCopy(catalog::Catalog& catalog, int64_t run) {
  auto [outcome, through] = SyncOutcome(catalog, run);
  if (!through) {
    throw ExitError(kExitUsage, fmt::format("the sync of run {} ended ({}) before it copied: run "
                                            "the sync again",
                                            run, outcome));
  }
  std::cout << fmt::format("the sync of run {} ended ({}) without a copy this process could join\n",
                           run, outcome);
  return kExitDone;
}

// Copies items of the sync of `copy.sync_run` with it, until it has none left to give out.
int CopyForSync(catalog::Catalog& catalog, Endpoints& endpoints, transfer::Engine& engine,
                const catalog::SharedCopy& copy) {
  // Copied from here, the source must be the migration's (now, not only when it was listed): an
  // unmounted share holds nothing.
  Status same = migration::CheckSourceIdentity(catalog, *endpoints.source,
                                               /*accept_change=*/false, copy.sync_run,
                                               /*dry_run=*/true);
  if (!same.ok()) Fail(same);
  if (Status joined = catalog.HelpCopy(copy); !joined.ok()) Fail(joined);
  migration::CopyOptions options = MigrationCopyOptions(catalog.config(), engine);
  options.retry_causes = RetryCauses(endpoints);
  options.for_sync = copy.sync_run;
  ProgressLine line;
  options.progress = [&](const migration::CopyProgress& p) {
    double rate = p.seconds > 0 ? double(p.bytes_done) / p.seconds : 0;
    line.Update(fmt::format("copy (helping the sync of run {}): {} files, {}, {}/s", copy.sync_run,
                            p.items_done, HumanBytes(p.bytes_done), HumanBytes(int64_t(rate))));
  };
  std::cout << fmt::format("copying with the sync of run {}\n", copy.sync_run);
  Result<migration::CopyReport> report =
      migration::Copy(catalog, *endpoints.source, *endpoints.target, options);
  line.Clear();
  if (!report.ok()) Fail(report.status());
  const migration::CopyReport& r = *report;
  std::cout << fmt::format(
      "this process's share of the sync of run {}: copied {} files ({}) in {}; {} already "
      "there, {} failed, {} conflicts, {} vanished; that process records the pass\n{}\n",
      copy.sync_run, r.copied, HumanBytes(r.bytes_sent), HumanDuration(r.seconds), r.adopted,
      r.failed, r.conflicts, r.vanished, EngineSummary(r, r.seconds));
  if (r.stopped) return InterruptFlag().load() ? StoppedExitCode() : kExitItemsFailed;
  // Its sync waits for it: one that no longer holds the migration went on without it, and if
  // the sync's own copy did not go through (stopped, failed, its process gone), the helpers
  // stopped with it.
  if (!Checked(catalog.RunHoldsMigration(copy.sync_run))) {
    auto [outcome, through] = SyncOutcome(catalog, copy.copy_run);
    if (!through) {
      throw ExitError(kExitUsage,
                      fmt::format("the sync of run {} ended before its copy was done (its copy "
                                  "run {}: {}): run the sync again",
                                  copy.sync_run, copy.copy_run, outcome));
    }
  }
  return r.failed + r.conflicts > 0 || !r.unreachable.empty() ? kExitItemsFailed : kExitDone;
}

// Checks parts of the drift check of the sync of run `run` with it, until none is left to claim.
void CheckDriftForSync(catalog::Catalog& catalog, Endpoints& endpoints, int64_t run) {
  migration::DriftOptions options;
  options.list_concurrency = Network().scan_concurrency;
  options.stop = &InterruptFlag();
  options.on_finding = PrintFinding;
  std::cout << fmt::format("checking the target for drift with the sync of run {}\n", run);
  Result<migration::DriftReport> report =
      migration::HelpCheckDrift(catalog, *endpoints.target, run, options);
  if (!report.ok()) {
    if (report.status().code() == Code::kCancelled) {
      // The part it held is given back, its batch unrecorded: the others check it.
      throw ExitError(StoppedExitCode(),
                      "stopped; any part of the drift check it held goes to the other processes");
    }
    Fail(report.status());
  }
  std::cout << fmt::format(
      "this process checked {} of the target's listing for the sync of run {}: {} changed by "
      "others, {} unexpected blobs; that process counts them in the pass\n",
      Count(report->parts_checked, "part"), run, report->changed, report->unexpected);
}

// When another process's sync holds the migration (a catalog that shares a scan's listing):
// helps it list its source, check the target for drift, then copy, and returns the exit code;
// nullopt when there is no such sync to help within 10 s. A sync found between the stages it
// shares (or sharing none: a listing not worth splitting, nothing to copy) is followed until it
// shares one or ends.
std::optional<int> HelpSync(const SyncCommandOptions& o, transfer::Engine& engine,
                            const Status& refused) {
  std::unique_ptr<catalog::Catalog> catalog = OpenToHelp(o.dir, refused);
  if (!catalog) return std::nullopt;
  int64_t listing = 0, drift = 0, running = 0;
  catalog::SharedCopy copy;
  const bool found = AwaitToHelp(
      [&] {
        listing = Checked(catalog->OpenListingRun());
        if (listing == 0) drift = Checked(catalog->OpenDriftCheckRun());
        if (listing == 0 && drift == 0) copy = Checked(catalog->OpenSharedCopy());
        if (listing == 0 && drift == 0 && copy.copy_run == 0) {
          running = Checked(catalog->RunningSync());
        }
        return listing != 0 || drift != 0 || copy.copy_run != 0 || running != 0;
      },
      std::chrono::seconds(10),
      fmt::format("{}; waiting up to 10 s for it to share its listing, its drift check or its "
                  "copy",
                  refused.message()));
  if (!found) return std::nullopt;
  if (o.overwrite || o.checksum || !o.mode.empty() || o.accept_source_change) {
    std::cerr << "ferry: --overwrite, --checksum, --mode and --accept-source-change are the "
                 "choices of the sync that holds the migration; this process helps it as it "
                 "runs\n";
  }
  Endpoints endpoints = OpenEndpoints(*catalog, &engine);
  const int64_t sync_run = listing != 0         ? listing
                           : drift != 0         ? drift
                           : copy.copy_run != 0 ? copy.sync_run
                                                : running;
  // Between the listing and the copy, the sync checks the target for drift: its listing and
  // its drift check are each helped once.
  bool listed = false, checked_drift = false;
  while (copy.sync_run != sync_run) {
    if (listing == sync_run && !listed) {
      const int code = ListForScan(*catalog, endpoints, o.dir, listing, /*json=*/false);
      if (code != kExitDone) return code;
      listed = true;
    } else if (drift == sync_run && !checked_drift) {
      CheckDriftForSync(*catalog, endpoints, sync_run);
      checked_drift = true;
    }
    bool over = false;
    AwaitToHelp(
        [&] {
          listing = listed ? 0 : Checked(catalog->OpenListingRun());
          if (listing == sync_run) return true;
          drift = checked_drift ? 0 : Checked(catalog->OpenDriftCheckRun());
          if (drift == sync_run) return true;
          copy = Checked(catalog->OpenSharedCopy());
          if (copy.sync_run == sync_run) return true;
          over = !Checked(catalog->RunHoldsMigration(sync_run));
          return over;
        },
        std::nullopt,
        fmt::format("waiting for the sync of run {} to share its listing, its drift check or "
                    "its copy",
                    sync_run));
    if (over) return SyncEndedWithoutCopy(*catalog, sync_run);
  }
  return CopyForSync(*catalog, endpoints, engine, copy);
}

int RunSync(const SyncCommandOptions& o) {
  std::unique_ptr<transfer::Engine> engine = MakeEngine(o.transfer);
  auto opened = catalog::Catalog::Open(o.dir);
  if (!opened.ok() && !o.dry_run) {
    // Another machine's sync of the migration: help it list its source and copy.
    std::optional<int> helped = HelpSync(o, *engine, opened.status());
    if (helped) return *helped;
    // Nothing to help: what held the migration may have ended meanwhile, leaving it free.
    opened = catalog::Catalog::Open(o.dir);
  }
  if (!opened.ok()) Fail(opened.status());
  std::unique_ptr<catalog::Catalog> catalog = std::move(opened).value();
  CheckOpen(*catalog, o.reopen, o.dry_run, o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog, engine.get());
  InstallInterruptHandler();
  ProgressLine line;
  migration::SyncOptions options = MakeSyncOptions(*catalog, o, *engine, line);
  options.copy.retry_causes = RetryCauses(endpoints);
  options.share_copy = true;
  options.waiting_for_helpers = [&line](int helpers) {
    line.Update(fmt::format("waiting for {} to record their last items", Count(helpers, "helper")));
  };
  options.waiting_for_drift = [&line](int64_t parts) {
    line.Update(
        fmt::format("drift check: waiting for {} of the target's listing that other "
                    "processes check",
                    Count(parts, "part")));
  };
  LiveMetrics live(o.live);
  live.Stage("sync");
  migration::CopyProgress last;
  options.copy.progress = [&, text = options.copy.progress](const migration::CopyProgress& p) {
    text(p);
    last = p;
    live.Progress(p, engine->Stats(), endpoints.target->RetriesByCause());
  };
  if (o.dry_run && migration::IsClosed(*catalog)) {
    std::cout << "the migration is cut over; checking whether the retired source changed since:\n";
  }
  Result<migration::SyncReport> report =
      migration::Sync(*catalog, *endpoints.source, *endpoints.target, options);
  line.Clear();
  if (!report.ok()) Fail(report.status());
  live.Progress(last, engine->Stats(), endpoints.target->RetriesByCause(), /*final=*/true);
  const auto& r = *report;
  PrintDelta(r, o.dry_run);
  if (!r.deletion_refused.empty()) {
    std::cout << (o.dry_run ? "would refuse the deletions: " : "deletions refused: ")
              << r.deletion_refused << "\n";
    return kExitRefused;
  }
  if (o.dry_run) {
    const auto& s = r.scan;
    if (migration::IsClosed(*catalog)) {
      int64_t changes = s.delta_new + s.delta_changed + s.delta_deleted;
      std::cout << (changes
                        ? fmt::format("the retired source changed since the cutover ({}): "
                                      "someone still writes to it\n",
                                      Count(changes, "item"))
                        : std::string("the retired source has not changed since the cutover\n"));
    }
    return kExitDone;
  }
  int exit = kExitDone;
  if (r.scan.unreadable > 0) {
    std::cout << fmt::format(
        "{} folders or files could not be read; what they hold stays as it was in the catalog "
        "({} items), nothing under them was taken for deleted:\n",
        r.scan.unreadable, r.scan.kept_unknown);
    for (const auto& e : r.scan.errors) std::cout << "  " << e << "\n";
    exit = kExitItemsFailed;
  }
  if (PrintOpenProblems(*catalog, r.open, o.dir, std::cout)) exit = kExitItemsFailed;
  return exit;
}

void AddSyncLikeOptions(CLI::App* cmd, SyncCommandOptions& o) {
  cmd->add_option("DIR", o.dir, "The migration folder")->required();
  cmd->add_flag("--checksum", o.checksum,
                "Also re-read copied files whose size and mtime did not change, and compare MD5s");
  cmd->add_option("--mode", o.mode,
                  "Deletions at the source: additive keeps their blobs, mirror deletes them "
                  "(default: the migration's)")
      ->check(CLI::IsMember({"additive", "mirror"}));
  cmd->add_flag("--overwrite", o.overwrite,
                "Write over blobs that someone else changed, created or deleted (conflicts)");
  cmd->add_option("--max-delete", o.max_delete,
                  "Mirror: the most blobs one pass may delete, a count (500) or a share of the "
                  "items in the target (10%); a pass that would delete more deletes nothing and "
                  "exits 3")
      ->envname("FERRY_MAX_DELETE")
      ->capture_default_str();
  cmd->add_flag("--accept-source-change", o.accept_source_change,
                "The source was moved, restored or remounted elsewhere on purpose: accept its "
                "new identity (recorded in the log) instead of refusing it as unmounted");
  AddTransferOptions(cmd, o.transfer);
}

struct VerifyCommandOptions {
  std::string dir, sample;
  bool deep = false, json = false;
  uint64_t seed = 0;
};

int RunVerify(const VerifyCommandOptions& o) {
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  migration::VerifyOptions options;
  options.deep = o.deep;
  options.seed = o.seed ? o.seed : uint64_t(::time(nullptr));
  if (!o.sample.empty()) {
    if (!o.deep) throw ExitError(kExitUsage, "--sample applies to --deep verification");
    Sample sample = ParseSample(o.sample);
    options.sample_count = sample.count;
    options.sample_percent = sample.percent;
  }
  std::ostream& out = o.json ? std::cerr : std::cout;
  nlohmann::json findings = nlohmann::json::array();
  options.on_finding = [&](const migration::Finding& f) {
    out << fmt::format("  {}: {} ({})\n", migration::FindingName(f.kind), f.path, f.detail);
    findings.push_back(
        {{"problem", migration::FindingName(f.kind)}, {"path", f.path}, {"detail", f.detail}});
  };
  Result<migration::VerifyReport> report =
      migration::Verify(*catalog, *endpoints.source, *endpoints.target, options);
  if (!report.ok()) Fail(report.status());
  const auto& r = *report;
  out << fmt::format(
      "verified {} files{}: {} ok, {} mismatches ({} unexpected blobs)",
      r.checked - r.checked_folders,
      r.checked_folders ? fmt::format(" and {} empty folders", r.checked_folders) : "", r.ok,
      r.mismatches, r.unexpected);
  if (o.deep) out << fmt::format("; deep: {} files re-read (seed {})", r.deep_checked, r.seed);
  out << fmt::format(" in {}\n", HumanDuration(r.seconds));
  if (o.json) {
    std::cout << JsonText(nlohmann::json{{"run", r.run},
                                         {"checked", r.checked},
                                         {"checked_folders", r.checked_folders},
                                         {"ok", r.ok},
                                         {"mismatches", r.mismatches},
                                         {"unexpected", r.unexpected},
                                         {"deep", o.deep},
                                         {"deep_checked", r.deep_checked},
                                         {"seed", r.seed},
                                         {"findings", findings},
                                         {"open_problems", r.open.blocking()}},
                          2)
              << "\n";
  }
  bool open = PrintOpenProblems(*catalog, r.open, o.dir, out);
  return r.mismatches || open ? kExitRefused : kExitDone;
}

struct CutoverCommandOptions {
  SyncCommandOptions sync;
  std::string quiet_window = "60s";
  int64_t max_changes = 0;
  int max_final_passes = 3;
  bool yes = false, accept_skipped = false;
  std::string pre_freeze, post_cutover, on_abort, hook_timeout = "5m";
  bool plan = false, json = false;
};

// cutover --plan: the prediction from the history; nothing is changed or contacted.
int PlanCutover(const CutoverCommandOptions& o, double quiet_window_seconds) {
  auto catalog = OpenMigration(o.sync.dir, /*read_only=*/true);
  Result<migration::PlanInput> input = migration::PlanInputFrom(*catalog, NowUnixNs());
  if (!input.ok()) Fail(input.status());
  input->quiet_window_seconds = quiet_window_seconds;
  const migration::CutoverPlan p = migration::PlanCutover(*input);
  if (o.json) {
    std::cout << JsonText(migration::PlanJson(p), 2) << "\n";
    return kExitDone;
  }
  std::cout << fmt::format("cutover plan for {} (from {}; nothing was changed)\n", o.sync.dir,
                           Count(p.sync_passes, "sync pass", "sync passes"));
  std::cout << fmt::format("  the source changes by about {:.{}f} files ({}) an hour\n",
                           p.files_changed_per_hour, p.files_changed_per_hour < 100 ? 1 : 0,
                           HumanBytes(int64_t(p.bytes_changed_per_hour)));
  std::cout << fmt::format(
      "  measured: transfer {}/s; a pass's listing and comparing {}; verification {}\n",
      HumanBytes(int64_t(p.bytes_per_second)), HumanDuration(p.scan_seconds),
      HumanDuration(p.verify_seconds));
  std::cout << fmt::format(
      "  since the last pass ({:.1f} h ago): about {} ({}) changed\n", p.hours_since_last_pass,
      Count(int64_t(std::llround(p.pending_files)), "file"), HumanBytes(int64_t(p.pending_bytes)));
  std::cout << fmt::format("  final sync if cut over now: about {}\n",
                           HumanDuration(p.final_sync_seconds));
  std::cout << fmt::format(
      "  read-only window to announce: {} (quiet window {}, final sync and verification, "
      "with half again as margin)\n",
      HumanDuration(p.window_seconds), HumanDuration(quiet_window_seconds));
  if (p.sync_first) {
    std::cout << fmt::format(
        "  run 'ferry sync {}' first: the final sync would then take about {} instead\n",
        o.sync.dir, HumanDuration(p.final_sync_after_pass_seconds));
  } else {
    std::cout << "  another sync first would not shorten the window\n";
  }
  if (p.quiet_start_hour >= 0) {
    std::cout << fmt::format(
        "  quietest hours (UTC): {} to {} ({} of {} file modifications seen in the last 8 "
        "weeks)\n",
        migration::WeekHourName(p.quiet_start_hour),
        migration::WeekHourName(p.quiet_start_hour + 4), p.quiet_changes, p.changes_seen);
  }
  for (const auto& note : p.notes) std::cout << "  note: " << note << "\n";
  return kExitDone;
}

// One line per hook run, and the output of one that failed.
void PrintHooks(const std::vector<migration::HookResult>& hooks) {
  for (const auto& hook : hooks) {
    if (hook.ok() || hook.output.empty()) continue;
    std::cout << fmt::format("output of the {} hook:\n", hook.hook);
    std::string output = hook.output.size() > 2000
                             ? "...\n" + hook.output.substr(hook.output.size() - 2000)
                             : hook.output;
    for (size_t at = 0; at < output.size();) {
      size_t end = output.find('\n', at);
      if (end == std::string::npos) end = output.size();
      std::cout << "  | " << output.substr(at, end - at) << "\n";
      at = end + 1;
    }
  }
}

int RunCutover(const CutoverCommandOptions& o) {
  auto window = ParseDuration("--quiet-window", o.quiet_window);
  if (o.json && !o.plan) throw ExitError(kExitUsage, "--json goes with --plan");
  if (o.plan) {
    return PlanCutover(o, std::chrono::duration<double>(window).count());
  }
  std::unique_ptr<transfer::Engine> engine = MakeEngine(o.sync.transfer);
  auto catalog = OpenMigration(o.sync.dir);
  Endpoints endpoints = OpenEndpoints(*catalog, engine.get());
  if (!o.yes && !o.sync.dry_run) {
    if (::isatty(0) != 1) {
      throw ExitError(kExitUsage,
                      "cutover closes the migration: confirm with --yes (or run it "
                      "on a terminal), or try --dry-run first");
    }
    std::cout << fmt::format("Cut over {} to {}? This closes the migration. [y/N] ",
                             catalog->config().source, catalog->config().target)
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::cout << "not cut over\n";
      return kExitRefused;
    }
  }
  InstallInterruptHandler();
  ProgressLine line;
  migration::CutoverOptions options;
  options.quiet_window = window;
  options.max_changes = o.max_changes;
  options.max_final_passes = o.max_final_passes;
  options.accept_skipped = o.accept_skipped;
  options.dry_run = o.sync.dry_run;
  options.hooks.pre_freeze = o.pre_freeze;
  options.hooks.post_cutover = o.post_cutover;
  options.hooks.on_abort = o.on_abort;
  options.hooks.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      ParseDuration("--hook-timeout", o.hook_timeout));
  options.hooks.env = {{"FERRY_MIGRATION", o.sync.dir},
                       {"FERRY_SOURCE", catalog->config().source},
                       {"FERRY_TARGET", catalog->config().target}};
  if (o.sync.dry_run && !(o.pre_freeze + o.post_cutover + o.on_abort).empty()) {
    std::cout << "a dry run runs no hook\n";
  }
  options.sync = MakeSyncOptions(*catalog, o.sync, *engine, line);
  options.on_step = [&](const std::string& step) {
    line.Clear();
    std::cout << step << std::endl;  // as it happens, also when piped to a log
  };
  Result<migration::CutoverReport> report =
      migration::Cutover(*catalog, *endpoints.source, *endpoints.target, options);
  line.Clear();
  if (!report.ok()) Fail(report.status());
  const auto& r = *report;
  PrintHooks(r.hooks);
  for (const auto& path : r.changing) std::cout << "  changing: " << path << "\n";
  for (const auto& item : r.open_items) {
    std::cout << fmt::format("  {}: {} ({})\n", catalog::StateName(item.state), item.path,
                             item.reason.empty() ? "not copied yet" : item.reason);
  }
  if (!r.refused.empty()) {
    std::cout << (o.sync.dry_run ? "would refuse: " : "cutover refused: ") << r.refused << "\n";
    if (r.abort_failed) {
      std::cerr << "ferry: the abort hook failed: the freeze may still be in place; undo it by "
                   "hand\n";
    }
    return kExitRefused;
  }
  if (o.sync.dry_run) {
    PrintDelta(r.sync, true);
    std::cout << "the cutover would go ahead (then verify the target and close the migration)\n";
    return kExitDone;
  }
  PrintDelta(r.sync, false);
  std::cout << fmt::format(
      "\ncutover recorded: {} ({}) verified in the target.\nSwitch readers and writers "
      "from\n  {}\nto\n  {}\nThe migration is closed: copy and sync now need --reopen. 'ferry sync "
      "{} --dry-run' tells whether anyone still writes to the old source.\n",
      Count(r.files, "file"), HumanBytes(r.bytes), catalog->config().source,
      catalog->config().target, o.sync.dir);
  if (r.post_cutover_failed) {
    std::cerr << fmt::format(
        "ferry: the post-cutover hook failed: the migration is cut over and closed, but the "
        "switch it makes did not complete; finish it by hand ('ferry log {}' holds its "
        "output)\n",
        o.sync.dir);
    return kExitItemsFailed;
  }
  return kExitDone;
}

}  // namespace

// Refuses copy and sync on a closed (cut over) migration, unless reopened.
void CheckOpen(catalog::Catalog& catalog, bool reopen, bool dry_run, const std::string& dir) {
  if (!migration::IsClosed(catalog)) return;
  if (dry_run) return;
  if (!reopen) {
    throw ExitError(kExitUsage, fmt::format("the migration in {} was cut over and is closed; "
                                            "pass --reopen to work on it again",
                                            dir));
  }
  if (Status st = migration::Reopen(catalog); !st.ok()) Fail(st);
  std::cout << "migration reopened\n";
}

CommandRunner AddSyncCommand(CLI::App& app) {
  auto o = std::make_shared<SyncCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sync",
      "Incremental pass: rescan, copy what is new or changed, handle deletions, detect "
      "blobs changed by others");
  AddSyncLikeOptions(cmd, *o);
  cmd->add_flag("--dry-run", o->dry_run,
                "Say what would be copied, updated and deleted; change nothing. After a cutover: "
                "whether the retired source changed");
  cmd->add_flag("--reopen", o->reopen, "Work on a migration that was cut over");
  AddLiveOptions(cmd, o->live);
  cmd->footer(
      "Guards: a source that is not the file system the migration began with (an unmounted\n"
      "share, an empty mount point) is refused before anything changes; an item is taken for\n"
      "deleted only when a complete listing of its folder no longer shows it (a folder that\n"
      "cannot be read keeps its items, and the pass exits 1); mirror deletes at most\n"
      "--max-delete blobs a pass, else none. Conflicts, failures and pending items stay open\n"
      "in every later pass until resolved.\n\n"
      "Many machines: with a PostgreSQL catalog, a sync started while another holds the\n"
      "migration helps it list the source and then copy (claiming items as copy workers do);\n"
      "the sync that holds it leads, waits for its helpers' last items, and alone deletes.\n\n"
      "Exit codes: 0 done; 1 open problems or unreadable folders (listed); 2 bad usage;\n"
      "3 refused (source unmounted, deletion budget); 130/143 stopped by SIGINT/SIGTERM, no\n"
      "deletion after the stop.\n");
  return [o] { return RunSync(*o); };
}

CommandRunner AddVerifyCommand(CLI::App& app) {
  auto o = std::make_shared<VerifyCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("verify",
                         "Compare the target with the catalog (and with --deep, the bytes with the "
                         "source); exit 3 on any mismatch");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_flag("--deep", o->deep, "Re-read target and source bytes and compare their MD5s");
  cmd->add_option("--sample", o->sample, "With --deep: only N files, or P% of them");
  cmd->add_option("--seed", o->seed, "Seed of the sample (printed; reuse it to repeat a check)");
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  cmd->footer(
      "On Azure, the quick check compares each blob's ETag, size, Content-MD5 and POSIX\n"
      "metadata with the catalog. A folder target keeps no Content-MD5: there it compares\n"
      "existence, size, modification time and permissions, and --deep re-reads the bytes.\n"
      "Open problems (conflicts, failures, pending items) also make verify exit 3.\n"
      "Exit codes: 0 verified; 3 mismatches or open problems; 2 bad usage.\n");
  return [o] { return RunVerify(*o); };
}

CommandRunner AddCutoverCommand(CLI::App& app) {
  auto o = std::make_shared<CutoverCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "cutover",
      "Final step: check the source is quiet, run the final sync, verify, record the "
      "cutover and close the migration");
  AddSyncLikeOptions(cmd, o->sync);
  cmd->add_option("--quiet-window", o->quiet_window,
                  "How long the source must stay unchanged (e.g. 60s, 5m)")
      ->capture_default_str();
  cmd->add_option("--max-changes", o->max_changes, "Changes tolerated during the quiet window")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40, "a count of 0 or more"))
      ->capture_default_str();
  cmd->add_option("--max-final-passes", o->max_final_passes,
                  "Final sync passes at most: a change at the source during one means another "
                  "pass; after the last, the cutover refuses and lists the changes")
      ->check(CLI::Range(1, 100, "a count from 1 to 100"))
      ->capture_default_str();
  cmd->add_flag("--accept-skipped", o->accept_skipped,
                "Cut over although some items were skipped (names the target cannot store, "
                "links, special files): they are listed, and the decision is logged");
  cmd->add_flag("--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--dry-run", o->sync.dry_run,
                "Check quiet and say what the final sync would do or refuse; change nothing");
  cmd->add_flag("--plan", o->plan,
                "Change nothing: from the sync history, predict the final sync's time and the "
                "read-only window to announce, say whether another sync first would shorten "
                "it, and when the source changes least")
      ->excludes("--dry-run");
  cmd->add_flag("--json", o->json, "With --plan: print the plan as JSON");
  cmd->add_option("--pre-freeze", o->pre_freeze,
                  "A shell command run first (make the share read-only, stop the application); "
                  "if it fails, the cutover does not begin");
  cmd->add_option("--post-cutover", o->post_cutover,
                  "A shell command run once the migration is closed (point the application at "
                  "the target, change DNS or mounts); if it fails, cutover exits 1");
  cmd->add_option("--on-abort", o->on_abort,
                  "A shell command run when the cutover does not close after the freeze "
                  "(refused, stopped, failed, or the pre-freeze hook failed): undo the freeze; "
                  "FERRY_REASON says why");
  cmd->add_option("--hook-timeout", o->hook_timeout,
                  "How long each hook may run before it is stopped (and counts as failed)")
      ->capture_default_str();
  cmd->footer(
      "The cutover closes the migration only after proving the target holds the source: the\n"
      "source is the file system the migration began with and stays quiet over the window\n"
      "(size, mtime, change time, inode and mode of every item); after each final sync the\n"
      "source is listed again, and any change since the listing before it means another pass;\n"
      "no conflict, failure or pending item may remain, skipped items need --accept-skipped,\n"
      "and verify must be clean. Ctrl-C (or SIGTERM) at any point closes nothing.\n\n"
      "Hooks run with /bin/sh -c, stdin from /dev/null, and the variables FERRY_HOOK,\n"
      "FERRY_MIGRATION, FERRY_SOURCE, FERRY_TARGET and FERRY_RUN (FERRY_REASON for\n"
      "--on-abort); their exit code and output go into the log ('ferry log DIR'), and\n"
      "'ferry status' shows the last cutover's. A dry run runs none.\n\n"
      "Exit codes: 0 cut over; 1 cut over, but the post-cutover hook failed; 3 refused (the\n"
      "reason says what to fix); 2 bad usage; 130/143 stopped by SIGINT/SIGTERM.\n");
  return [o] { return RunCutover(*o); };
}

}  // namespace ferry::cli
