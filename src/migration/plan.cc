#include "migration/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "migration/copy.h"

namespace ferry::migration {

namespace {

constexpr int kQuietHours = 4;
constexpr int kPassesAveraged = 3;
constexpr int kRunsForRate = 5;
constexpr double kMargin = 1.5;

double Seconds(const catalog::Run& r) {
  return r.ended_ns > r.started_ns ? double(r.ended_ns - r.started_ns) / 1e9 : 0;
}

nlohmann::json Summary(const catalog::Run& r) {
  nlohmann::json summary = nlohmann::json::parse(r.summary_json, nullptr, false);
  return summary.is_object() ? summary : nlohmann::json::object();
}

// The time a sync spent transferring: its copy's last progress sample (seconds since the copy
// began), or the whole run when it kept none.
double TransferSeconds(const catalog::Run& r) {
  nlohmann::json summary = Summary(r);
  if (catalog::StageNamed(r.stage) == catalog::Stage::kSync && summary.contains("samples") &&
      summary["samples"].is_array() && !summary["samples"].empty()) {
    const nlohmann::json& last = summary["samples"].back();
    if (last.is_array() && !last.empty() && last[0].is_number()) {
      return std::min(last[0].get<double>(), Seconds(r));
    }
  }
  return Seconds(r);
}

bool Is(const catalog::Run& r, catalog::Stage stage) {
  return catalog::StageNamed(r.stage) == stage;
}

}  // namespace

int HourOfWeek(int64_t unix_ns) {
  int64_t hours = unix_ns / 3'600'000'000'000;
  int64_t day = hours / 24;
  int weekday = int((day + 3) % 7);  // 1970-01-01 was a Thursday (Monday = 0)
  return weekday * 24 + int(hours % 24);
}

std::string WeekHourName(int hour_of_week) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  hour_of_week = ((hour_of_week % 168) + 168) % 168;
  return fmt::format("{} {:02d}:00", kDays[hour_of_week / 24], hour_of_week % 24);
}

CutoverPlan PlanCutover(const PlanInput& in) {
  CutoverPlan plan;
  // The sync passes, each with the time since the scan it was compared against.
  struct Pass {
    const catalog::Run* run;
    double interval_seconds;
    int64_t files, bytes;
  };
  std::vector<Pass> passes;
  const catalog::Run* previous_scan = nullptr;
  const catalog::Run* last_scan = nullptr;
  const catalog::Run* last_verify = nullptr;
  for (const auto& r : in.runs) {
    if (r.ended_ns == 0) continue;  // cut short: no measure
    if (Is(r, catalog::Stage::kVerify)) last_verify = &r;
    if (Is(r, catalog::Stage::kSync)) {
      nlohmann::json summary = Summary(r);
      // A pass whose interval is not positive (a clock stepped back) says nothing of a rate.
      if (summary.contains("delta") && previous_scan != nullptr &&
          r.started_ns > previous_scan->started_ns) {
        const nlohmann::json& d = summary["delta"];
        passes.push_back({&r, double(r.started_ns - previous_scan->started_ns) / 1e9,
                          d.value("new", int64_t(0)) + d.value("changed", int64_t(0)) +
                              d.value("deleted", int64_t(0)),
                          d.value("new_bytes", int64_t(0)) + d.value("changed_bytes", int64_t(0))});
      }
    }
    if ((Is(r, catalog::Stage::kScan) || Is(r, catalog::Stage::kSync)) && r.outcome == "done") {
      previous_scan = &r;
      last_scan = &r;
    }
  }
  plan.sync_passes = int(passes.size());

  // The change rate over the last passes.
  double interval = 0, files = 0, bytes = 0;
  for (size_t i = passes.size() > kPassesAveraged ? passes.size() - kPassesAveraged : 0;
       i < passes.size(); ++i) {
    interval += passes[i].interval_seconds;
    files += double(passes[i].files);
    bytes += double(passes[i].bytes);
  }
  if (interval > 0) {
    plan.files_changed_per_hour = files / interval * 3600;
    plan.bytes_changed_per_hour = bytes / interval * 3600;
  } else {
    plan.notes.push_back(
        "no sync pass yet: the change rate is unknown (run 'ferry sync' once or twice, some "
        "hours apart, then plan again)");
  }

  // The transfer rate of the recent runs that moved data.
  double moved = 0, moving_seconds = 0;
  int counted = 0;
  for (auto r = in.runs.rbegin(); r != in.runs.rend() && counted < kRunsForRate; ++r) {
    if (!(Is(*r, catalog::Stage::kCopy) || Is(*r, catalog::Stage::kSync)) || r->bytes <= 0 ||
        SyncOfShare(*r) != 0) {  // counted in its sync's record
      continue;
    }
    double seconds = TransferSeconds(*r);
    if (seconds <= 0) continue;
    moved += double(r->bytes);
    moving_seconds += seconds;
    ++counted;
  }
  if (moving_seconds > 0) {
    plan.bytes_per_second = moved / moving_seconds;
  } else {
    plan.notes.push_back("no copy or sync has moved data yet: the transfer rate is unknown");
  }

  if (last_scan != nullptr) {
    plan.scan_seconds = Is(*last_scan, catalog::Stage::kSync)
                            ? std::max(0.0, Seconds(*last_scan) - TransferSeconds(*last_scan))
                            : Seconds(*last_scan);
    plan.hours_since_last_pass = std::max(0.0, double(in.now_ns - last_scan->started_ns) / 3.6e12);
  } else {
    plan.notes.push_back("the source has not been scanned yet");
  }
  if (last_verify != nullptr) {
    plan.verify_seconds = Seconds(*last_verify);
  } else {
    plan.notes.push_back("no verification yet: its time is not in the window (run 'ferry verify')");
  }

  plan.pending_files = plan.files_changed_per_hour * plan.hours_since_last_pass;
  plan.pending_bytes = plan.bytes_changed_per_hour * plan.hours_since_last_pass;
  auto transfer = [&](double pending_bytes) {
    return plan.bytes_per_second > 0 ? pending_bytes / plan.bytes_per_second : 0.0;
  };
  plan.final_sync_seconds = plan.scan_seconds + transfer(plan.pending_bytes);
  auto window = [&](double final_sync) {
    double seconds = (in.quiet_window_seconds + final_sync + plan.verify_seconds) * kMargin;
    return std::ceil(seconds / 300) * 300;
  };
  plan.window_seconds = window(plan.final_sync_seconds);

  // A sync now carries the pending changes; the final sync then carries only those made while
  // it ran.
  double pass_seconds = plan.final_sync_seconds;
  plan.final_sync_after_pass_seconds =
      plan.scan_seconds + transfer(plan.bytes_changed_per_hour * pass_seconds / 3600);
  plan.sync_first = window(plan.final_sync_after_pass_seconds) < plan.window_seconds;

  // The quietest hours of the week.
  for (int64_t n : in.changes_by_hour) plan.changes_seen += n;
  if (plan.changes_seen > 0) {
    int64_t best = -1;
    for (int start = 0; start < 168; ++start) {
      int64_t sum = 0;
      for (int h = 0; h < kQuietHours; ++h) sum += in.changes_by_hour[(start + h) % 168];
      if (best < 0 || sum < best) best = sum, plan.quiet_start_hour = start;
    }
    plan.quiet_changes = best;
  }
  if (plan.changes_seen < 20) {
    plan.notes.push_back(fmt::format(
        "only {} file modifications seen in the weeks looked at: too few to tell the quiet "
        "hours",
        plan.changes_seen));
  }
  return plan;
}

Result<PlanInput> PlanInputFrom(catalog::Catalog& catalog, int64_t now_ns, int weeks) {
  PlanInput in;
  in.now_ns = now_ns;
  Result<std::vector<catalog::Run>> runs = catalog.Runs();
  if (!runs.ok()) return runs.status();
  in.runs = std::move(runs).value();
  const int64_t since = now_ns - int64_t(weeks) * 7 * 24 * 3'600'000'000'000;
  FERRY_RETURN_IF_ERROR(catalog.ForEachItem({}, [&](catalog::Item& item) -> Status {
    if (item.kind == storage::Kind::kFile && item.mtime_ns >= since && item.mtime_ns <= now_ns &&
        item.state != catalog::ItemState::kDeleted) {
      ++in.changes_by_hour[size_t(HourOfWeek(item.mtime_ns))];
    }
    return Status::Ok();
  }));
  return in;
}

nlohmann::json PlanJson(const CutoverPlan& p) {
  nlohmann::json quiet = nullptr;
  if (p.quiet_start_hour >= 0) {
    quiet = {{"start_hour_of_week", p.quiet_start_hour},
             {"from", WeekHourName(p.quiet_start_hour)},
             {"to", WeekHourName(p.quiet_start_hour + kQuietHours)},
             {"changes", p.quiet_changes},
             {"changes_seen", p.changes_seen}};
  }
  return {{"sync_passes", p.sync_passes},
          {"files_changed_per_hour", p.files_changed_per_hour},
          {"bytes_changed_per_hour", p.bytes_changed_per_hour},
          {"bytes_per_second", p.bytes_per_second},
          {"scan_seconds", p.scan_seconds},
          {"verify_seconds", p.verify_seconds},
          {"hours_since_last_pass", p.hours_since_last_pass},
          {"pending_files", p.pending_files},
          {"pending_bytes", p.pending_bytes},
          {"final_sync_seconds", p.final_sync_seconds},
          {"window_seconds", p.window_seconds},
          {"sync_first", p.sync_first},
          {"final_sync_after_pass_seconds", p.final_sync_after_pass_seconds},
          {"quiet_hours_utc", quiet},
          {"notes", p.notes}};
}

}  // namespace ferry::migration
