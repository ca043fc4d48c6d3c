// After the cutover: ferry watch-source DIR (is someone still writing to the retired source?)
// and ferry decommission-check DIR --min-days N (may it go?).
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "migration/hooks.h"
#include "migration/watch.h"

namespace ferry::cli {

namespace {

struct WatchOptions {
  std::string dir, interval = "1h", on_change;
  bool once = false;
};

// One pass: the catalog is held only while it runs, so other commands (a decommission check, a
// report) are not kept waiting between passes. Returns the differences seen.
int64_t WatchPass(const WatchOptions& o) {
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  Result<migration::WatchReport> report = migration::WatchSource(
      *catalog, *endpoints.source, *endpoints.target, SourceScanOptions(*catalog));
  if (!report.ok() && report.status().code() == Code::kInvalidInput) {
    throw ExitError(kExitUsage, report.status().message());
  }
  if (!report.ok()) Fail(report.status());
  const migration::WatchReport& r = *report;
  std::cout << fmt::format(
      "{}: the retired source {} ({} newly logged, run {})\n", HumanTime(NowUnixNs()),
      r.changes.empty() ? "has not changed since the cutover"
                        : fmt::format("changed since the cutover: {}",
                                      Count(int64_t(r.changes.size()), "change")),
      r.newly_seen, r.run);
  size_t shown = 0;
  for (const auto& c : r.changes) {
    if (++shown > 20) {
      std::cout << fmt::format("  ... and {} more ('ferry log {}' lists them)\n",
                               r.changes.size() - 20, o.dir);
      break;
    }
    std::cout << fmt::format("  {:<8} {}\n", c.change, c.path);
  }
  std::cout << std::flush;
  if (r.newly_seen > 0 && !o.on_change.empty()) {
    Result<migration::HookResult> hook =
        migration::RunHook("on-change", o.on_change,
                           {{"FERRY_MIGRATION", o.dir},
                            {"FERRY_SOURCE", catalog->config().source},
                            {"FERRY_TARGET", catalog->config().target},
                            {"FERRY_RUN", std::to_string(r.run)},
                            {"FERRY_CHANGES", std::to_string(r.changes.size())}},
                           std::chrono::minutes(5));
    if (!hook.ok()) Fail(hook.status());
    Status logged = catalog->AppendEvent(r.run, "", "hook", JsonText(hook->Json()));
    if (!logged.ok()) Fail(logged);
    std::cout << fmt::format("on-change hook: {}\n", hook->Outcome());
  }
  return r.unchanged() ? 0 : std::max<int64_t>(1, int64_t(r.changes.size()));
}

int RunWatch(const WatchOptions& o) {
  auto interval = ParseDuration("--interval", o.interval);
  if (interval < std::chrono::seconds(1)) {
    throw ExitError(kExitUsage, "--interval: give at least 1s");
  }
  InstallInterruptHandler();
  while (true) {
    int64_t changes = WatchPass(o);
    if (o.once) return changes > 0 ? kExitRefused : kExitDone;
    auto next = std::chrono::steady_clock::now() + interval;
    while (std::chrono::steady_clock::now() < next) {
      if (InterruptFlag().load()) return StoppedExitCode();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

struct DecommissionOptions {
  std::string dir;
  double min_days = 30;
  bool json = false, accept_skipped = false;
};

int RunDecommissionCheck(const DecommissionOptions& o) {
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  InstallInterruptHandler();
  Result<migration::DecommissionReport> report = migration::CheckDecommission(
      *catalog, *endpoints.source, *endpoints.target, SourceScanOptions(*catalog), o.min_days,
      o.accept_skipped, NowUnixNs());
  if (!report.ok()) Fail(report.status());
  const migration::DecommissionReport& r = *report;
  if (o.json) {
    std::cout << JsonText(nlohmann::json{{"run", r.run},
                                         {"passed", r.passed},
                                         {"unmet", r.unmet},
                                         {"min_days", o.min_days},
                                         {"source_changes", int64_t(r.watch.changes.size())}},
                          2)
              << "\n";
  } else if (r.passed) {
    std::cout << fmt::format(
        "decommission check passed (run {}): the cutover is at least {} days old, a deep "
        "verification since found nothing, the source has not changed, the log is intact and "
        "no item is open; the source may be retired\n",
        r.run, o.min_days);
  } else {
    std::cout << fmt::format("decommission check not passed (run {}): keep the source\n", r.run);
    for (const auto& why : r.unmet) std::cout << "  - " << why << "\n";
  }
  return r.passed ? kExitDone : kExitRefused;
}

}  // namespace

CommandRunner AddWatchSourceCommand(CLI::App& app) {
  auto o = std::make_shared<WatchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "watch-source",
      "After the cutover: rescan the retired source now and then, and log every change "
      "(someone still writes to the old location)");
  cmd->add_option("DIR", o->dir, "The migration folder (cut over)")->required();
  cmd->add_option("--interval", o->interval, "Time between passes (e.g. 15m, 1h)")
      ->capture_default_str();
  cmd->add_flag("--once", o->once, "One pass; exit 3 if the source changed since the cutover");
  cmd->add_option("--on-change", o->on_change,
                  "A shell command run after a pass that logged new changes (FERRY_CHANGES, "
                  "FERRY_MIGRATION, FERRY_SOURCE, FERRY_TARGET, FERRY_RUN)");
  cmd->footer(
      "Each pass compares the source with the catalog as the cutover left it, changes no item,\n"
      "and logs each difference once ('source-changed' events; 'ferry log DIR' shows them).\n"
      "The migration is held only during a pass. Exit codes: 0 unchanged (--once); 3 changed\n"
      "(--once), or the source is not the one the migration began with; 2 not cut over or bad\n"
      "usage; 130/143 stopped.\n");
  return [o] { return RunWatch(*o); };
}

CommandRunner AddDecommissionCheckCommand(CLI::App& app) {
  auto o = std::make_shared<DecommissionOptions>();
  CLI::App* cmd = app.add_subcommand(
      "decommission-check",
      "May the retired source go? Passes only when every condition holds; the verdict is "
      "logged");
  cmd->add_option("DIR", o->dir, "The migration folder (cut over)")->required();
  cmd->add_option("--min-days", o->min_days, "Days the cutover must be old at least")
      ->check(CLI::Range(0.0, 3650.0))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the verdict as JSON");
  cmd->add_flag("--accept-skipped", o->accept_skipped,
                "Pass although some items were skipped (they exist only at the source: save "
                "them first); the decision is logged");
  cmd->footer(
      "Conditions: the cutover is at least --min-days old; a complete 'ferry verify --deep'\n"
      "since the cutover found nothing; the source has not changed since the cutover (compared\n"
      "now, every folder read); the log's hash chain is intact; no item is open; no item was\n"
      "skipped (unless --accept-skipped). Exit codes: 0 passed; 3 not passed (every unmet\n"
      "condition is listed); 2 bad usage.\n");
  return [o] { return RunDecommissionCheck(*o); };
}

}  // namespace ferry::cli
