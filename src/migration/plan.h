// ferry cutover --plan: from the migration's history, how long the final sync and the read-only
// window would be, whether another sync first would shorten them, and when the source changes
// least. Reads the catalog only; contacts no endpoint.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "catalog/catalog.h"

namespace ferry::migration {

// Hours of the week, Monday 00:00-01:00 UTC first.
using WeekHours = std::array<int64_t, 168>;

struct PlanInput {
  std::vector<catalog::Run> runs;  // oldest first, as Catalog::Runs gives them
  // The files whose last modification (as the scans saw it) fell in each hour of the week,
  // over the weeks before `now_ns` that the plan looks at.
  WeekHours changes_by_hour{};
  int64_t now_ns = 0;
  double quiet_window_seconds = 60;
};

struct CutoverPlan {
  int sync_passes = 0;
  // Changes at the source per hour, over the last (up to three) sync passes.
  double files_changed_per_hour = 0, bytes_changed_per_hour = 0;
  double bytes_per_second = 0;  // transfer rate of the recent copy and sync runs
  double scan_seconds = 0;      // a pass's fixed part: listing and comparing the source
  double verify_seconds = 0;    // the last verification's time
  double hours_since_last_pass = 0;
  double pending_files = 0, pending_bytes = 0;  // expected changes since the last pass
  double final_sync_seconds = 0;                // scan plus the pending bytes at the measured rate
  // The read-only window to announce: quiet window, final sync and verification, times 1.5,
  // rounded up to whole 5 minutes.
  double window_seconds = 0;
  bool sync_first = false;                   // another sync now would shorten the window
  double final_sync_after_pass_seconds = 0;  // the final sync's time after that pass
  // The 4 hours of the week with the fewest changes seen (start hour, Monday 00:00 = 0).
  int quiet_start_hour = -1;
  int64_t quiet_changes = 0, changes_seen = 0;
  std::vector<std::string> notes;  // what the plan could not measure, and assumptions
};

// The plan, from the history alone (a pure function: the same input gives the same plan).
CutoverPlan PlanCutover(const PlanInput& input);

// "Tue 01:00" for an hour of the week.
std::string WeekHourName(int hour_of_week);
// The hour of the week (Monday 00:00 UTC = 0) of a time.
int HourOfWeek(int64_t unix_ns);

// The input from a catalog: its runs, and the modification times of its files over the last
// `weeks` weeks.
Result<PlanInput> PlanInputFrom(catalog::Catalog& catalog, int64_t now_ns, int weeks = 8);

nlohmann::json PlanJson(const CutoverPlan& plan);

}  // namespace ferry::migration
