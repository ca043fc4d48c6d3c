// ferry status DIR [--json]: where the migration stands.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/history.h"
#include "migration/cutover.h"
#include "migration/safety.h"

namespace ferry::cli {

namespace {

struct StatusOptions {
  std::string dir;
  bool json = false;
};

constexpr catalog::ItemState kStatesShown[] = {
    catalog::ItemState::kPending,       catalog::ItemState::kCopied,  catalog::ItemState::kFailed,
    catalog::ItemState::kConflict,      catalog::ItemState::kSkipped, catalog::ItemState::kVanished,
    catalog::ItemState::kSourceDeleted, catalog::ItemState::kDeleted, catalog::ItemState::kKept};

// The workers of a migration whose catalog shares work: live, gone (finished or stopped) or
// silent (died, or cut off: its items go to the others when its lease runs out).
nlohmann::json WorkersJson(catalog::Catalog& catalog) {
  auto workers = catalog.Workers();
  if (!workers.ok()) Fail(workers.status());
  nlohmann::json list = nlohmann::json::array();
  for (const catalog::WorkerInfo& w : *workers) {
    double seconds = double(w.heartbeat_ns - w.started_ns) / 1e9;
    list.push_back({{"name", w.name},
                    {"run", w.run},
                    {"state", w.live   ? "live"
                              : w.left ? "gone"
                                       : "silent"},
                    {"items", w.items},
                    {"bytes", w.bytes},
                    {"bytes_per_second", seconds > 0 ? double(w.bytes) / seconds : 0.0},
                    {"started", HumanTime(w.started_ns)},
                    {"heartbeat", HumanTime(w.heartbeat_ns)}});
  }
  return list;
}

// Everything status shows, as its --json prints it.
nlohmann::json StatusDoc(catalog::Catalog& catalog, const std::string& dir) {
  auto totals = catalog.Totals();
  if (!totals.ok()) Fail(totals.status());
  auto runs = catalog.Runs();
  if (!runs.ok()) Fail(runs.status());
  nlohmann::json states = nlohmann::json::object();
  catalog::StateTotals all{catalog::ItemState::kPending};
  for (auto state : kStatesShown) {
    catalog::StateTotals in{state};
    for (const auto& t : *totals) {
      if (t.state == state) in = t;
    }
    states[std::string(catalog::StateName(state))] = TotalsJson(in);
    all.items += in.items;
    all.bytes += in.bytes;
    all.files += in.files;
    all.folders += in.folders;
    all.links += in.links;
    all.specials += in.specials;
  }
  nlohmann::json run_list = nlohmann::json::array();
  for (const auto& r : *runs) run_list.push_back(RunJson(r));
  Result<migration::OpenProblems> open = migration::CountOpenProblems(catalog);
  if (!open.ok()) Fail(open.status());
  std::optional<nlohmann::json> cutover = migration::CutoverRecord(catalog);
  const catalog::Config& c = catalog.config();
  return {{"migration", dir},
          {"closed", migration::IsClosed(catalog)},
          {"cutover", cutover ? *cutover : nlohmann::json(nullptr)},
          {"sync_deltas", SyncPasses(*runs)},
          {"source", c.source},
          {"target", c.target},
          {"items", all.items},
          {"files", all.files},
          {"folders", all.folders},
          {"links", all.links},
          {"bytes", all.bytes},
          {"states", states},
          {"open_problems",
           {{"conflict", open->conflicts},
            {"failed", open->failed},
            {"pending", open->pending},
            {"vanished", open->vanished},
            {"skipped", open->skipped},
            {"blocking", open->blocking()}}},
          {"runs", run_list},
          {"cutover_hooks", LastCutoverHooks(catalog, *runs)},
          {"workers", WorkersJson(catalog)}};
}

void PrintWorkers(const nlohmann::json& doc, std::ostream& out) {
  if (doc["workers"].empty()) return;
  out << fmt::format("\n{:<28} {:>4}  {:<8} {:>9} {:>11} {:>11}  {}\n", "worker", "run", "state",
                     "items", "bytes", "rate", "last heard");
  for (const auto& w : doc["workers"]) {
    double rate = w["bytes_per_second"];
    out << fmt::format(
        "{:<28} {:>4}  {:<8} {:>9} {:>11} {:>11}  {}\n", w["name"].get<std::string>(),
        w["run"].get<int64_t>(), w["state"].get<std::string>(), w["items"].get<int64_t>(),
        HumanBytes(w["bytes"].get<int64_t>()), rate > 0 ? HumanBytes(int64_t(rate)) + "/s" : "-",
        w["heartbeat"].get<std::string>());
  }
}

void PrintStates(const nlohmann::json& doc, std::ostream& out) {
  const auto row = [&out](std::string_view name, const nlohmann::json& v) {
    out << fmt::format("{:<14} {:>10} {:>12} {:>9} {:>7}\n", name, v["files"].get<int64_t>(),
                       HumanBytes(v["bytes"].get<int64_t>()), v["folders"].get<int64_t>(),
                       v["links"].get<int64_t>());
  };
  out << fmt::format("{:<14} {:>10} {:>12} {:>9} {:>7}\n", "state", "files", "bytes", "folders",
                     "links");
  for (auto state : kStatesShown) {
    std::string name(catalog::StateName(state));
    row(name, doc["states"][name]);
  }
  row("total", doc);
}

void PrintStatusProblems(const nlohmann::json& doc, std::ostream& out) {
  const auto& open = doc["open_problems"];
  if (open["blocking"].get<int64_t>() > 0) {
    out << fmt::format(
        "\nopen problems: {} conflicts, {} failed, {} pending, {} vanished while copied (ferry "
        "sync {} lists them; they stay open until resolved)\n",
        open["conflict"].get<int64_t>(), open["failed"].get<int64_t>(),
        open["pending"].get<int64_t>(), open["vanished"].get<int64_t>(),
        doc["migration"].get<std::string>());
  }
  if (int64_t skipped = open["skipped"].get<int64_t>(); skipped > 0) {
    out << fmt::format(
        "{} skipped, not migrated (ferry errors lists them; cutover needs --accept-skipped)\n",
        Count(skipped, "item"));
  }
}

void PrintRuns(const nlohmann::json& doc, std::ostream& out) {
  if (doc["runs"].empty()) return;
  out << fmt::format("\n{:>4}  {:<8} {:<24} {:>9} {:>9} {:>11} {:>11}  {}\n", "run", "stage",
                     "started", "duration", "files", "bytes", "rate", "outcome");
  for (const auto& r : doc["runs"]) {
    double seconds = r["seconds"];
    double rate = r["bytes_per_second"];
    out << fmt::format("{:>4}  {:<8} {:<24} {:>9} {:>9} {:>11} {:>11}  {}\n",
                       r["run"].get<int64_t>(), r["stage"].get<std::string>(),
                       r["started"].get<std::string>(), seconds > 0 ? HumanDuration(seconds) : "-",
                       r["files"].get<int64_t>(), HumanBytes(r["bytes"]),
                       rate > 0 ? HumanBytes(int64_t(rate)) + "/s" : "-",
                       r["outcome"].get<std::string>());
  }
}

void PrintSyncPasses(const nlohmann::json& doc, std::ostream& out) {
  if (doc["sync_deltas"].empty()) return;
  out << "\nsync passes (delta per pass):\n";
  for (const auto& d : doc["sync_deltas"]) {
    out << fmt::format("  run {:>3}  {}  new {} ({}), changed {} ({}), deleted {} ({})\n",
                       d["run"].get<int64_t>(), d["started"].get<std::string>(),
                       d["new"].get<int64_t>(), HumanBytes(d["new_bytes"].get<int64_t>()),
                       d["changed"].get<int64_t>(), HumanBytes(d["changed_bytes"].get<int64_t>()),
                       d["deleted"].get<int64_t>(), HumanBytes(d["deleted_bytes"].get<int64_t>()));
  }
}

void PrintCutover(const nlohmann::json& doc, std::ostream& out) {
  if (doc["cutover"].is_null()) return;
  const auto& cut = doc["cutover"];
  out << fmt::format("\ncut over {}: {} ({}), verification {}{}\n",
                     HumanTime(cut.value("time_ns", int64_t(0))),
                     Count(cut.value("files", cut.value("items", int64_t(0))), "file"),
                     HumanBytes(cut.value("bytes", int64_t(0))),
                     Count(cut["verify"].value("mismatches", int64_t(0)), "mismatch", "mismatches"),
                     doc["closed"].get<bool>() ? "; the migration is closed" : "; reopened since");
  if (int64_t since = cut.value("in_sync_since_ns", int64_t(0)); since > 0) {
    out << fmt::format("  the target holds the source as it was from {} on\n", HumanTime(since));
  }
}

void PrintCutoverHooks(const nlohmann::json& doc, std::ostream& out) {
  const nlohmann::json& last = doc["cutover_hooks"];
  if (last.is_null()) return;
  out << fmt::format("\nhooks of the last cutover (run {}):\n", last["run"].get<int64_t>());
  for (const auto& hook : last["hooks"]) {
    out << fmt::format("  {:<13} {:<22} {}\n", hook["hook"].get<std::string>(),
                       hook["outcome"].get<std::string>(), hook["command"].get<std::string>());
  }
}

int RunStatus(const StatusOptions& o) {
  auto catalog = OpenMigration(o.dir, /*read_only=*/true);
  nlohmann::json doc = StatusDoc(*catalog, o.dir);
  std::ostream& out = o.json ? std::cerr : std::cout;
  out << fmt::format("migration {}\n  source {}\n  target {}\n\n", o.dir,
                     doc["source"].get<std::string>(), doc["target"].get<std::string>());
  PrintStates(doc, out);
  PrintStatusProblems(doc, out);
  PrintRuns(doc, out);
  PrintWorkers(doc, out);
  PrintSyncPasses(doc, out);
  PrintCutover(doc, out);
  PrintCutoverHooks(doc, out);
  if (o.json) std::cout << JsonText(doc, 2) << "\n";
  return kExitDone;
}

struct ErrorsOptions {
  std::string dir;
  bool json = false;
  int examples = 3;
};

int RunErrors(const ErrorsOptions& o) {
  auto catalog = OpenMigration(o.dir, /*read_only=*/true);
  auto groups = catalog->ErrorGroups(o.examples);
  if (!groups.ok()) Fail(groups.status());
  std::ostream& out = o.json ? std::cerr : std::cout;
  nlohmann::json doc = nlohmann::json::array();
  if (groups->empty()) out << "no failed, conflicting or skipped items\n";
  for (const auto& g : *groups) {
    nlohmann::json examples = nlohmann::json::array();
    out << fmt::format("{} {} ({}): {}\n", g.items, catalog::StateName(g.state),
                       HumanBytes(g.bytes), g.cause.empty() ? "(no cause recorded)" : g.cause);
    for (const auto& [path, reason] : g.examples) {
      out << fmt::format("    {}  {}\n", path, reason);
      examples.push_back({{"path", path}, {"reason", reason}});
    }
    if (g.items > int64_t(g.examples.size())) {
      out << fmt::format("    ... and {} more\n", g.items - int64_t(g.examples.size()));
    }
    doc.push_back({{"state", catalog::StateName(g.state)},
                   {"cause", g.cause},
                   {"items", g.items},
                   {"bytes", g.bytes},
                   {"examples", examples}});
  }
  if (o.json) std::cout << JsonText(nlohmann::json{{"groups", doc}}, 2) << "\n";
  return kExitDone;
}

}  // namespace

CommandRunner AddStatusCommand(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Items and bytes by state, and every run so far with its throughput");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  return [o] { return RunStatus(*o); };
}

CommandRunner AddErrorsCommand(CLI::App& app) {
  auto o = std::make_shared<ErrorsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "errors", "Failed, conflicting and skipped items grouped by cause, with examples");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_option("--examples", o->examples, "Example paths per cause")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  return [o] { return RunErrors(*o); };
}

}  // namespace ferry::cli
