// ferry report DIR --html FILE | --json: the migration's record, for people and for machines.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "base/text.h"
#include "cli/charts.h"
#include "cli/commands.h"
#include "cli/history.h"
#include "migration/copy.h"
#include "migration/cutover.h"
#include "migration/plan.h"
#include "migration/safety.h"
#include "migration/scan.h"

namespace ferry::cli {

namespace {

struct ReportOptions {
  std::string dir, html;
  bool json = false;
};

nlohmann::json ParseOr(const std::string& text, nlohmann::json fallback) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

// The bytes and files copied or synced by the end of each day (UTC) that a run ended on: the
// migration's progress over its whole life.
nlohmann::json ProgressByDay(const std::vector<catalog::Run>& runs) {
  nlohmann::json days = nlohmann::json::array();
  int64_t bytes = 0, files = 0;
  for (const auto& r : runs) {
    std::optional<catalog::Stage> stage = catalog::StageNamed(r.stage);
    if (stage != catalog::Stage::kCopy && stage != catalog::Stage::kSync) continue;
    if (migration::SyncOfShare(r) != 0) continue;  // in its sync's record
    bytes += r.bytes;
    files += r.files;
    std::string day = IsoTime(r.ended_ns ? r.ended_ns : r.started_ns).substr(0, 10);
    if (days.empty() || days.back()["day"] != day) days.push_back({{"day", day}});
    days.back()["bytes"] = bytes;
    days.back()["files"] = files;
  }
  return days;
}

// The runs, the stages they belong to, each sync pass's delta and the last verification.
void AddRunFacts(catalog::Catalog& catalog, nlohmann::json& facts) {
  auto runs = catalog.Runs();
  if (!runs.ok()) Fail(runs.status());
  nlohmann::json run_list = nlohmann::json::array();
  std::map<std::string, nlohmann::json> stages;
  nlohmann::json verification = nullptr;
  for (const auto& r : *runs) {
    nlohmann::json summary = ParseOr(r.summary_json, nlohmann::json::object());
    nlohmann::json run = RunJson(r);
    if (summary.contains("samples")) run["samples"] = summary["samples"];
    if (summary.contains("retries_by_cause")) run["retries_by_cause"] = summary["retries_by_cause"];
    run_list.push_back(run);
    auto& stage = stages[r.stage];
    if (stage.is_null())
      stage = {{"stage", r.stage}, {"first", HumanTime(r.started_ns)}, {"runs", 0}};
    stage["last"] = HumanTime(r.started_ns);
    stage["runs"] = stage["runs"].get<int>() + 1;
    std::optional<catalog::Stage> named = catalog::StageNamed(r.stage);
    if (named == catalog::Stage::kVerify || named == catalog::Stage::kVerifyDeep) {
      verification = summary;
      verification["run"] = r.id;
      verification["when"] = HumanTime(r.started_ns);
      verification["outcome"] = r.outcome;
      // A deep verification recorded before verify said whether it sampled may have.
      verification["sampled"] = summary.value("sampled", named == catalog::Stage::kVerifyDeep);
    }
  }
  nlohmann::json stage_list = nlohmann::json::array();
  for (catalog::Stage stage : catalog::kStages) {  // in the playbook's order
    std::string name(catalog::Name(stage));
    if (stages.contains(name)) stage_list.push_back(stages[name]);
  }
  facts["stages"] = stage_list;
  facts["runs"] = run_list;
  facts["sync_deltas"] = SyncPasses(*runs);
  facts["verification"] = verification;
  facts["progress_by_day"] = ProgressByDay(*runs);
}

// Failed, conflicting and skipped items by cause, with examples.
nlohmann::json ErrorFacts(catalog::Catalog& catalog) {
  auto groups = catalog.ErrorGroups(3);
  if (!groups.ok()) Fail(groups.status());
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& g : *groups) {
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& [path, reason] : g.examples)
      examples.push_back({{"path", path}, {"reason", reason}});
    errors.push_back({{"state", catalog::StateName(g.state)},
                      {"cause", g.cause},
                      {"items", g.items},
                      {"bytes", g.bytes},
                      {"examples", examples}});
  }
  return errors;
}

// The event log's size and whether its hash chain is intact.
nlohmann::json LogFacts(catalog::Catalog& catalog) {
  auto chain = catalog.CheckChain();
  if (!chain.ok()) Fail(chain.status());
  return {{"events", chain->events},
          {"intact", chain->intact},
          {"head_hash", chain->head_hash},
          {"first_bad_event", chain->first_bad_id}};
}

// The cutover plan (before the cutover), the watch passes over the retired source and the last
// decommission check (after it).
void AfterCutoverFacts(catalog::Catalog& catalog, const std::vector<catalog::Run>& runs,
                       nlohmann::json& facts) {
  nlohmann::json watches = nlohmann::json::array();
  nlohmann::json decommission = nullptr, audit = nullptr;
  for (const auto& r : runs) {
    std::optional<catalog::Stage> stage = catalog::StageNamed(r.stage);
    nlohmann::json summary = ParseOr(r.summary_json, nlohmann::json::object());
    if (stage == catalog::Stage::kWatchSource) {
      watches.push_back({{"run", r.id},
                         {"when", HumanTime(r.started_ns)},
                         {"outcome", r.outcome},
                         {"changes", summary.value("changes", int64_t(0))},
                         {"newly_seen", summary.value("newly_seen", int64_t(0))}});
    } else if (stage == catalog::Stage::kAuditTarget) {
      audit = summary;
      audit["run"] = r.id;
      audit["when"] = HumanTime(r.started_ns);
    } else if (stage == catalog::Stage::kDecommissionCheck) {
      decommission = summary;
      decommission["run"] = r.id;
      decommission["when"] = HumanTime(r.started_ns);
    }
  }
  facts["watch_history"] = watches;
  facts["decommission"] = decommission;
  facts["audit"] = audit;
  facts["plan"] = nullptr;
  if (!migration::IsClosed(catalog)) {
    // The plan is a prediction: one that cannot be made leaves the rest of the report whole.
    Result<migration::PlanInput> input = migration::PlanInputFrom(catalog, NowUnixNs());
    if (input.ok()) facts["plan"] = migration::PlanJson(migration::PlanCutover(*input));
  }
}

// Where the migration stands, in one of four words a manager can act on, and why:
// "needs attention" (something failed, conflicts, a verification found mismatches, the log is
// broken), "cut over", "ready for cutover" (everything copied and verified since the last copy
// or sync), or "in progress".
nlohmann::json Verdict(catalog::Catalog& catalog, const nlohmann::json& facts) {
  Result<migration::OpenProblems> open = migration::CountOpenProblems(catalog);
  if (!open.ok()) Fail(open.status());
  std::vector<std::string> attention, progress, notes;
  if (open->failed) attention.push_back(Count(open->failed, "item") + " failed (ferry errors)");
  if (open->conflicts) {
    attention.push_back(Count(open->conflicts, "conflict") +
                        ": blobs someone else put in the way (ferry errors, ferry resolve)");
  }
  if (open->vanished) {
    attention.push_back(Count(open->vanished, "item") +
                        " vanished while being copied (ferry sync)");
  }
  if (!facts["log"]["intact"].get<bool>()) {
    attention.push_back(fmt::format("the log's hash chain breaks at event {}",
                                    facts["log"]["first_bad_event"].get<int64_t>()));
  }
  // The last verification counts only if it ended cleanly, read everything it meant to, and
  // nothing that could change the target ran after it (a run cut short might have).
  Result<std::vector<catalog::Run>> runs = catalog.Runs();
  if (!runs.ok()) Fail(runs.status());
  int64_t last_change = 0;
  for (const auto& r : *runs) {
    std::optional<catalog::Stage> stage = catalog::StageNamed(r.stage);
    if (stage != catalog::Stage::kCopy && stage != catalog::Stage::kSync &&
        stage != catalog::Stage::kResolve) {
      continue;
    }
    nlohmann::json summary = ParseOr(r.summary_json, nlohmann::json::object());
    int64_t moved = r.files + r.failed + summary.value("folders", int64_t(0)) +
                    summary.value("links", int64_t(0)) + summary.value("blobs_deleted", int64_t(0));
    if (summary.contains("delta") && summary["delta"].is_object()) {
      const nlohmann::json& d = summary["delta"];
      moved += d.value("new", int64_t(0)) + d.value("changed", int64_t(0)) +
               d.value("deleted", int64_t(0));
    }
    if (r.ended_ns == 0 || moved > 0 || stage == catalog::Stage::kResolve) last_change = r.id;
  }
  const nlohmann::json& v = facts["verification"];
  const bool current = !v.is_null() && v["run"].get<int64_t>() > last_change;
  const int64_t mismatches = current ? v.value("mismatches", int64_t(0)) : 0;
  const bool verified_since = current && v.value("outcome", "") == "done" && mismatches == 0 &&
                              v.value("sampled", false) != true;
  if (mismatches > 0) {
    attention.push_back(fmt::format("the last verification ({}) found {}",
                                    v["when"].get<std::string>(),
                                    Count(mismatches, "mismatch", "mismatches")));
  }
  if (migration::IsClosed(catalog)) {
    const nlohmann::json& watches = facts["watch_history"];
    if (!watches.empty() && watches.back().value("changes", int64_t(0)) > 0) {
      attention.push_back(
          "the retired source changed since the cutover: someone still writes to it "
          "(ferry watch-source)");
    }
    if (const nlohmann::json& hooks = facts["cutover_hooks"]; !hooks.is_null()) {
      for (const auto& hook : hooks["hooks"]) {
        if (hook.value("hook", "") == "post-cutover" && !hook.value("ok", false)) {
          attention.push_back("the post-cutover hook failed: finish the switch by hand");
        }
      }
    }
  }
  if (open->skipped) {
    notes.push_back(Count(open->skipped, "item") +
                    " skipped, not migrated (links, names the target cannot store): the cutover "
                    "needs --accept-skipped");
  }
  std::string state;
  if (!attention.empty()) {
    state = "needs attention";
  } else if (migration::IsClosed(catalog)) {
    state = "cut over";
    const nlohmann::json& c = facts["cutover"];
    if (!c.is_null()) {
      progress.push_back(fmt::format("cut over {}: {} ({}) verified in the target",
                                     HumanTime(c.value("time_ns", int64_t(0))),
                                     Count(c.value("files", c.value("items", int64_t(0))), "file"),
                                     HumanBytes(c.value("bytes", int64_t(0)))));
    }
  } else if (!migration::HasBeenScanned(catalog)) {
    state = "in progress";
    progress.push_back("the source has not been scanned yet (ferry scan)");
  } else if (open->pending) {
    state = "in progress";
    progress.push_back(Count(open->pending, "item") + " still to copy (ferry copy)");
  } else if (!verified_since) {
    state = "in progress";
    progress.push_back(
        "everything is copied, but no complete, clean verification since the last change "
        "(ferry verify)");
  } else {
    state = "ready for cutover";
    progress.push_back(fmt::format("everything copied, and verified {} with no mismatch",
                                   v["when"].get<std::string>()));
  }
  std::vector<std::string> why = attention.empty() ? progress : attention;
  why.insert(why.end(), notes.begin(), notes.end());
  return {{"state", state}, {"why", why}};
}

// Every fact the report shows, from the catalog alone (no endpoint is contacted).
nlohmann::json Facts(catalog::Catalog& catalog, const std::string& dir) {
  nlohmann::json facts;
  const catalog::Config& c = catalog.config();
  Result<int64_t> created = catalog.CreatedNs();
  facts["migration"] = {{"folder", dir},
                        {"source", c.source},
                        {"target", c.target},
                        {"mode", catalog::Name(c.mode)},
                        {"created", created.ok() ? HumanTime(*created) : ""}};
  auto totals = catalog.Totals();
  if (!totals.ok()) Fail(totals.status());
  nlohmann::json states = nlohmann::json::object();
  for (const auto& t : *totals) {
    states[std::string(catalog::StateName(t.state))] = TotalsJson(t);
  }
  facts["totals"] = states;
  AddRunFacts(catalog, facts);
  std::optional<nlohmann::json> cutover = migration::CutoverRecord(catalog);
  facts["cutover"] = cutover ? *cutover : nlohmann::json(nullptr);
  facts["errors"] = ErrorFacts(catalog);
  facts["log"] = LogFacts(catalog);
  auto runs = catalog.Runs();
  if (!runs.ok()) Fail(runs.status());
  facts["cutover_hooks"] = LastCutoverHooks(catalog, *runs);
  AfterCutoverFacts(catalog, *runs, facts);
  facts["verdict"] = Verdict(catalog, facts);
  return facts;
}

std::string Table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<table><tr>";
  for (const auto& h : head) out += "<th>" + EscapeXml(h) + "</th>";
  out += "</tr>";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) out += "<td>" + EscapeXml(cell) + "</td>";
    out += "</tr>";
  }
  return out + "</table>";
}

// Where from, where to, since when.
std::string HeaderSection(const nlohmann::json& f) {
  std::string body;
  const auto& m = f["migration"];
  body += fmt::format(
      "<h1>Migration report</h1><p class=\"sub\">{} &rarr; {}<br>folder {}, "
      "created {}, mode {}</p>",
      EscapeXml(m["source"].get<std::string>()), EscapeXml(m["target"].get<std::string>()),
      EscapeXml(m["folder"].get<std::string>()), EscapeXml(m["created"].get<std::string>()),
      EscapeXml(m["mode"].get<std::string>()));

  return body;
}

// The verdict at the top: one word a manager can act on, in its colour, and the reasons.
std::string VerdictSection(const nlohmann::json& f) {
  const nlohmann::json& v = f["verdict"];
  std::string state = v["state"];
  std::string css = state == "needs attention"     ? "attention"
                    : state == "in progress"       ? "progress"
                    : state == "ready for cutover" ? "ready"
                                                   : "done";
  std::string title = state;
  title[0] = char(std::toupper(static_cast<unsigned char>(title[0])));
  std::string body = fmt::format(
      "<section id=\"verdict\" class=\"verdict {}\" data-verdict=\"{}\"><p "
      "class=\"word\">{}</p><ul>",
      css, EscapeXml(state), EscapeXml(title));
  for (const auto& why : v["why"]) body += "<li>" + EscapeXml(why.get<std::string>()) + "</li>";
  return body + "</ul></section>";
}

// The stages run so far, and the items by state.
std::string StagesSection(const nlohmann::json& f) {
  std::string body;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : f["stages"]) {
    rows.push_back({s["stage"], s["first"], s["last"], std::to_string(s["runs"].get<int>())});
  }
  body += "<h2>Stages</h2>" + Table({"stage", "first run", "last run", "runs"}, rows);

  rows.clear();
  for (auto& [state, t] : f["totals"].items()) {
    rows.push_back(
        {state, std::to_string(t["files"].get<int64_t>()), HumanBytes(t["bytes"].get<int64_t>()),
         std::to_string(t["folders"].get<int64_t>()), std::to_string(t["links"].get<int64_t>())});
  }
  body += "<h2>Items by state</h2>" + Table({"state", "files", "bytes", "folders", "links"}, rows);

  return body;
}

// A throughput chart per copy or sync run, and the table of runs.
std::string ThroughputSection(const nlohmann::json& f) {
  std::string body;
  body += "<h2>Throughput</h2>";
  if (!f["progress_by_day"].empty()) {
    std::vector<std::string> days;
    double most = 0;
    for (const auto& d : f["progress_by_day"]) most = std::max(most, d["bytes"].get<double>());
    const bool gib = most >= double(1ull << 30);
    Series copied{gib ? "GiB copied" : "MiB copied", {}, "#2e75b6"};
    for (const auto& d : f["progress_by_day"]) {
      days.push_back(d["day"]);
      copied.values.push_back(d["bytes"].get<double>() / double(gib ? 1ull << 30 : 1ull << 20));
    }
    body += StackedBarChart("progress-by-day", "bytes copied so far, by the end of each day (UTC)",
                            days, {copied}, gib ? "GiB" : "MiB");
  }
  int charts = 0;
  for (const auto& r : f["runs"]) {
    if (!r.contains("samples") || r["samples"].size() < 2) continue;
    std::vector<double> x, rate, items;
    const auto& samples = r["samples"];
    for (size_t i = 1; i < samples.size(); ++i) {
      double dt = samples[i][0].get<double>() - samples[i - 1][0].get<double>();
      if (dt <= 0) continue;
      x.push_back(samples[i][0]);
      rate.push_back((samples[i][1].get<double>() - samples[i - 1][1].get<double>()) / dt /
                     1048576);
      items.push_back((samples[i][2].get<double>() - samples[i - 1][2].get<double>()) / dt);
    }
    if (x.empty()) continue;
    body += LineChart(fmt::format("throughput-run-{}", r["run"].get<int64_t>()),
                      fmt::format("run {} ({}), {}", r["run"].get<int64_t>(),
                                  r["stage"].get<std::string>(), r["started"].get<std::string>()),
                      x, {{"MiB/s", rate, "#2e75b6"}}, "s", "MiB/s");
    ++charts;
  }
  if (charts == 0) body += "<p>No copy or sync run long enough to chart yet.</p>";

  std::vector<std::vector<std::string>> rows;
  for (const auto& r : f["runs"]) {
    double seconds = r["seconds"];
    rows.push_back({std::to_string(r["run"].get<int64_t>()), r["stage"], r["started"],
                    seconds > 0 ? HumanDuration(seconds) : "-",
                    std::to_string(r["files"].get<int64_t>()), HumanBytes(r["bytes"]),
                    r["outcome"]});
  }
  body += Table({"run", "stage", "started", "duration", "files", "bytes", "outcome"}, rows);

  return body;
}

// What each sync pass had to transfer: it should converge to nothing.
std::string SyncSection(const nlohmann::json& f) {
  std::string body;
  body += "<h2>Sync passes</h2>";
  if (f["sync_deltas"].empty()) {
    body += "<p>No sync pass yet.</p>";
  } else {
    std::vector<std::string> labels;
    Series added{"new", {}, "#2e75b6"}, changed{"changed", {}, "#f0a30a"},
        deleted{"deleted", {}, "#7f7f7f"};
    for (const auto& d : f["sync_deltas"]) {
      labels.push_back(fmt::format("run {}", d["run"].get<int64_t>()));
      added.values.push_back(d["new"]);
      changed.values.push_back(d["changed"]);
      deleted.values.push_back(d["deleted"]);
    }
    body += StackedBarChart("sync-deltas", "items to transfer per sync pass (converging to 0?)",
                            labels, {added, changed, deleted}, "items");
  }

  return body;
}

// Failed, conflicting and skipped items by cause, with examples.
std::string ErrorsSection(const nlohmann::json& f) {
  std::string body;
  body += "<h2>Errors by cause</h2>";
  if (f["errors"].empty()) {
    body += "<p>No failed, conflicting or skipped items.</p>";
  } else {
    // Failures and conflicts in red: they need someone; skipped items (left behind by rule,
    // accepted at cutover) in grey.
    std::vector<std::string> labels, colors;
    std::vector<double> values;
    std::string rows;
    for (const auto& e : f["errors"]) {
      std::string state = e["state"];
      labels.push_back(fmt::format("{}: {}", state, e["cause"].get<std::string>()));
      values.push_back(e["items"]);
      colors.push_back(state == "skipped" ? "#9e9e9e" : "#c0504d");
      for (const auto& ex : e["examples"]) {
        rows += fmt::format("<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            state == "skipped" ? "skipped" : "failure", EscapeXml(state),
                            EscapeXml(e["cause"].get<std::string>()),
                            EscapeXml(ex["path"].get<std::string>()),
                            EscapeXml(ex["reason"].get<std::string>()));
      }
    }
    body +=
        HorizontalBarChart("errors-by-cause", "items by cause", labels, values, "items", colors);
    body += "<table><tr><th>state</th><th>cause</th><th>example</th><th>reason</th></tr>" + rows +
            "</table>";
  }

  return body;
}

// The cutover and the last verification.
std::string CutoverSection(const nlohmann::json& f) {
  std::string body;
  body += "<h2>Cutover and verification</h2>";
  if (f["cutover"].is_null()) {
    body += "<p>Not cut over yet.</p>";
  } else {
    const auto& c = f["cutover"];
    body +=
        fmt::format("<p>Cut over {}: {} ({}) verified, {}.</p>",
                    EscapeXml(HumanTime(c.value("time_ns", int64_t(0)))),
                    Count(c.value("files", c.value("items", int64_t(0))), "file"),
                    HumanBytes(c.value("bytes", int64_t(0))),
                    Count(c["verify"].value("mismatches", int64_t(0)), "mismatch", "mismatches"));
  }
  if (const nlohmann::json& last = f["cutover_hooks"]; !last.is_null()) {
    std::string rows;
    for (const auto& hook : last["hooks"]) {
      rows += fmt::format("<tr{}><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                          hook["ok"].get<bool>() ? "" : " class=\"failure\"",
                          EscapeXml(hook["hook"].get<std::string>()),
                          EscapeXml(hook["command"].get<std::string>()),
                          EscapeXml(hook["outcome"].get<std::string>()),
                          EscapeXml(hook["output"].get<std::string>()));
    }
    body += fmt::format(
        "<h3>Hooks of the last cutover (run {})</h3><table id=\"cutover-hooks\"><tr><th>hook</th>"
        "<th>command</th><th>outcome</th><th>output</th></tr>{}</table>",
        last["run"].get<int64_t>(), rows);
  }
  if (f["verification"].is_null()) {
    body += "<p>No verification yet.</p>";
  } else {
    const auto& v = f["verification"];
    int64_t mismatches = v.value("mismatches", int64_t(0));
    body += fmt::format("<p{}>Last verification (run {}, {}): {} checked, {}, {} re-read; {}.</p>",
                        mismatches ? " class=\"failure\"" : "", v["run"].get<int64_t>(),
                        EscapeXml(v["when"].get<std::string>()),
                        Count(v.value("checked", int64_t(0)), "item"),
                        Count(mismatches, "mismatch", "mismatches"),
                        Count(v.value("deep_checked", int64_t(0)), "file"),
                        EscapeXml(v["outcome"].get<std::string>()));
  }

  return body;
}

// Before the switch, the plan; after it, the watch over the retired source and the last
// decommission check.
std::string AfterSection(const nlohmann::json& f) {
  std::string body;
  if (const nlohmann::json& p = f["plan"]; !p.is_null()) {
    body += "<h2>Cutover plan</h2>";
    body += fmt::format(
        "<p id=\"plan\">If cut over now: final sync about {}; read-only window to announce {} "
        "(with the default 1-minute quiet window); {}.</p>",
        HumanDuration(p["final_sync_seconds"].get<double>()),
        HumanDuration(p["window_seconds"].get<double>()),
        p["sync_first"].get<bool>() ? "another sync first would shorten it"
                                    : "another sync first would not shorten it");
    if (const nlohmann::json& q = p["quiet_hours_utc"]; !q.is_null()) {
      body += fmt::format("<p>Quietest hours of the week (UTC): {} to {}.</p>",
                          q["from"].get<std::string>(), q["to"].get<std::string>());
    }
    for (const auto& note : p["notes"]) {
      body += "<p class=\"sub\">" + EscapeXml(note.get<std::string>()) + "</p>";
    }
  }
  if (const nlohmann::json& a = f["audit"]; !a.is_null() && a.contains("findings")) {
    body +=
        fmt::format("<h2>Audit of the target</h2><p>Run {}, {}: {}, {} of them high.</p>",
                    a["run"].get<int64_t>(), EscapeXml(a["when"].get<std::string>()),
                    Count(int64_t(a["findings"].size()), "finding"), a.value("high", int64_t(0)));
    std::string rows;
    for (const auto& finding : a["findings"]) {
      const std::string severity = finding.value("severity", "");
      rows +=
          fmt::format("<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                      severity == "high" ? " class=\"failure\"" : "",
                      EscapeXml(finding.value("area", "")), EscapeXml(severity),
                      EscapeXml(finding.value("finding", "")), EscapeXml(finding.value("fix", "")));
    }
    body +=
        "<table id=\"audit\"><tr><th>area</th><th>severity</th><th>finding</th><th>fix</th>"
        "</tr>" +
        rows + "</table>";
  }
  if (!f["watch_history"].empty() || !f["decommission"].is_null()) {
    body += "<h2>After the cutover</h2>";
    std::string rows;
    for (const auto& w : f["watch_history"]) {
      rows += fmt::format("<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                          w["changes"].get<int64_t>() > 0 ? " class=\"failure\"" : "",
                          w["run"].get<int64_t>(), EscapeXml(w["when"].get<std::string>()),
                          w["changes"].get<int64_t>(), w["newly_seen"].get<int64_t>());
    }
    if (!rows.empty()) {
      body +=
          "<table id=\"watch-history\"><tr><th>run</th><th>watched</th><th>changes since "
          "the cutover</th><th>newly logged</th></tr>" +
          rows + "</table>";
    }
    if (const nlohmann::json& d = f["decommission"]; !d.is_null()) {
      const bool passed = d.value("passed", false);
      body += fmt::format("<p id=\"decommission\"{}>Decommission check (run {}, {}): {}.</p>",
                          passed ? "" : " class=\"failure\"", d["run"].get<int64_t>(),
                          EscapeXml(d["when"].get<std::string>()),
                          passed ? "passed, the source may be retired" : "not passed");
      if (d.contains("unmet")) {
        body += "<ul>";
        for (const auto& why : d["unmet"])
          body += "<li>" + EscapeXml(why.get<std::string>()) + "</li>";
        body += "</ul>";
      }
    }
  }
  return body;
}

// The event log and the state of its hash chain.
std::string LogSection(const nlohmann::json& f) {
  std::string body;
  const auto& log = f["log"];
  body += fmt::format(
      "<h2>Migration log</h2><p>{} events; {}. Head hash:</p><pre>{}</pre>",
      log["events"].get<int64_t>(),
      log["intact"].get<bool>()
          ? "the hash chain is intact"
          : fmt::format("the chain breaks at event {}", log["first_bad_event"].get<int64_t>()),
      EscapeXml(log["head_hash"].get<std::string>()));

  return body;
}

// The whole page: every section, in a self-contained document (no scripts, no fetches).
std::string Html(const nlohmann::json& f) {
  std::string body = HeaderSection(f) + VerdictSection(f) + StagesSection(f) +
                     ThroughputSection(f) + SyncSection(f) + ErrorsSection(f) + CutoverSection(f) +
                     AfterSection(f) + LogSection(f);
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>ferry migration report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #555; margin-top: .3em; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; margin: .6em 0; }}
th, td {{ border: 1px solid #ddd; padding: .25em .6em; text-align: left; }}
th {{ background: #f4f4f4; }}
svg.chart {{ display: block; margin: .8em 0; background: #fff; }}
svg .title {{ font-size: 13px; font-weight: 600; }} svg .tick {{ font-size: 11px; fill: #444; }}
svg .unit {{ font-size: 11px; fill: #666; }} svg .grid {{ stroke: #e5e5e5; }}
pre {{ background: #f6f6f6; padding: .5em; overflow-x: auto; }}
.verdict {{ border-left: 8px solid; padding: .4em 1em; margin: 1em 0; }}
.verdict .word {{ font-size: 1.6em; font-weight: 700; margin: .2em 0; }}
.verdict ul {{ margin: .2em 0 .4em; }}
.verdict.attention {{ border-color: #c0504d; background: #fbeaea; }}
.verdict.progress {{ border-color: #f0a30a; background: #fff6e0; }}
.verdict.ready {{ border-color: #2e7d32; background: #e8f5e9; }}
.verdict.done {{ border-color: #2e75b6; background: #e8f1fa; }}
tr.failure td, p.failure {{ background: #fbeaea; }} tr.skipped td {{ color: #555; }}
@page {{ size: A4; margin: 15mm; }}
@media print {{
  body {{ margin: 0; max-width: none; font-size: 10pt; }}
  .verdict, tr.failure td, p.failure {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
  h2 {{ break-after: avoid; }}
  table, svg.chart, .verdict, pre {{ break-inside: avoid; }}
  svg.chart {{ max-width: 100%; height: auto; }}
  pre {{ white-space: pre-wrap; word-break: break-all; }}
}}
</style></head><body>
{}
<p class="sub">Generated by ferry from the migration's catalog.</p>
</body></html>
)",
                     body);
}

int RunReport(const ReportOptions& o) {
  if (o.html.empty() && !o.json) {
    throw ExitError(kExitUsage, "say what to produce: --html FILE, --json, or both");
  }
  auto catalog = OpenMigration(o.dir, /*read_only=*/true);
  nlohmann::json facts = Facts(*catalog, o.dir);
  if (!o.html.empty()) {
    std::string temp = o.html + ".tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << Html(facts);
      if (!out) throw ExitError(kExitUsage, fmt::format("cannot write {}", temp));
    }
    if (std::rename(temp.c_str(), o.html.c_str()) != 0) {
      ::unlink(temp.c_str());
      throw ExitError(kExitUsage, fmt::format("cannot write {}", o.html));
    }
    (o.json ? std::cerr : std::cout) << "report written to " << o.html << "\n";
  }
  if (o.json) std::cout << JsonText(facts, 2) << "\n";
  return kExitDone;
}

}  // namespace

CommandRunner AddReportCommand(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "The migration's record: stages, totals, throughput, sync convergence, errors, "
      "cutover, log head hash");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_option("--html", o->html, "Write one self-contained HTML file (charts included)");
  cmd->add_flag("--json", o->json, "Print the same facts as one JSON document on stdout");
  return [o] { return RunReport(*o); };
}

}  // namespace ferry::cli
