// cutover --plan on a known history: the rates, the final sync, the window, the advice and the
// quiet hours, computed by hand beside each expectation.
#include "migration/plan.h"

#include <gtest/gtest.h>

namespace ferry::migration {
namespace {

constexpr int64_t kMonday = 1'795'996'800'000'000'000;  // 2026-11-30 00:00 UTC, a Monday
constexpr int64_t kSecond = 1'000'000'000;

catalog::Run MakeRun(int64_t id, const char* stage, double start_s, double seconds, int64_t bytes,
                     nlohmann::json summary = nlohmann::json::object()) {
  catalog::Run r;
  r.id = id;
  r.stage = stage;
  r.started_ns = kMonday + int64_t(start_s * 1e9);
  r.ended_ns = r.started_ns + int64_t(seconds * 1e9);
  r.outcome = "done";
  r.bytes = bytes;
  r.summary_json = summary.dump();
  return r;
}

nlohmann::json SyncSummary(int64_t added, int64_t added_bytes, int64_t changed,
                           int64_t changed_bytes, int64_t deleted, double transfer_seconds) {
  return {{"delta",
           {{"new", added},
            {"new_bytes", added_bytes},
            {"changed", changed},
            {"changed_bytes", changed_bytes},
            {"deleted", deleted},
            {"deleted_bytes", 0}}},
          {"samples", {{0.0, 0.0, 0.0}, {transfer_seconds, 1.0, 1.0}}}};
}

PlanInput History(int64_t now_ns) {
  PlanInput in;
  in.now_ns = now_ns;
  in.quiet_window_seconds = 60;
  in.runs = {
      MakeRun(1, "init", 0, 1, 0),
      MakeRun(2, "scan", 10, 60, 0),
      MakeRun(3, "copy", 100, 2000, 10'000'000'000),  // 5 MB/s
      // 45 changes, 100 MB, 3,590 s after the scan; 20 s of its 120 s sending (5 MB/s).
      MakeRun(4, "sync", 3600, 120, 100'000'000,
              SyncSummary(10, 40'000'000, 30, 60'000'000, 5, 20)),
      // 15 changes, 50 MB, 3,610 s after the first pass; 10 s of its 110 s sending.
      MakeRun(5, "sync", 7210, 110, 50'000'000, SyncSummary(5, 20'000'000, 10, 30'000'000, 0, 10)),
      MakeRun(6, "verify", 7400, 200, 0),
  };
  in.changes_by_hour.fill(10);
  for (int h = 50; h < 54; ++h) in.changes_by_hour[size_t(h)] = 0;  // Wed 02:00-06:00
  return in;
}

TEST(PlanCutover, PredictsTheFinalSyncAndTheWindowFromAKnownHistory) {
  CutoverPlan p = PlanCutover(History(kMonday + 14'400 * kSecond));  // 4 h after the start
  EXPECT_EQ(p.sync_passes, 2);
  EXPECT_DOUBLE_EQ(p.files_changed_per_hour, 30);          // 60 changes in 7,200 s
  EXPECT_DOUBLE_EQ(p.bytes_changed_per_hour, 75'000'000);  // 150 MB in 7,200 s
  EXPECT_DOUBLE_EQ(p.bytes_per_second, 5'000'000);
  EXPECT_DOUBLE_EQ(p.scan_seconds, 100);  // 110 s, 10 of them sending
  EXPECT_DOUBLE_EQ(p.verify_seconds, 200);
  EXPECT_NEAR(p.hours_since_last_pass, 7190.0 / 3600, 1e-9);
  EXPECT_NEAR(p.pending_bytes, 75e6 * 7190 / 3600, 1e-3);
  EXPECT_NEAR(p.final_sync_seconds, 100 + 75e6 * 7190 / 3600 / 5e6, 1e-9);  // 129.96 s
  // (60 + 129.96 + 200) x 1.5 = 584.9 s, to whole 5 minutes.
  EXPECT_DOUBLE_EQ(p.window_seconds, 600);
  EXPECT_FALSE(p.sync_first) << "two hours of changes are half a minute of sending";
  EXPECT_EQ(p.quiet_start_hour, 50);
  EXPECT_EQ(WeekHourName(p.quiet_start_hour), "Wed 02:00");
  EXPECT_EQ(p.quiet_changes, 0);
  EXPECT_EQ(p.changes_seen, 10 * 164);
  EXPECT_TRUE(p.notes.empty()) << p.notes.front();
}

TEST(PlanCutover, ADayOfChangesMakesAnotherSyncFirstWorthIt) {
  CutoverPlan p = PlanCutover(History(kMonday + 86'400 * kSecond));
  // 21.997 h of changes: 1.65 GB, 330 s of sending; the final sync 430 s.
  EXPECT_NEAR(p.final_sync_seconds, 100 + 75e6 * 79'190 / 3600 / 5e6, 1e-9);
  EXPECT_DOUBLE_EQ(p.window_seconds, 1200);  // (60 + 429.96 + 200) x 1.5 = 1,034.9 s
  EXPECT_TRUE(p.sync_first);
  // After a pass now, the final sync carries the 430 s of changes made during it: 1.8 s.
  EXPECT_NEAR(p.final_sync_after_pass_seconds, 100 + 75e6 * p.final_sync_seconds / 3600 / 5e6,
              1e-9);
  EXPECT_EQ(PlanJson(p)["quiet_hours_utc"]["from"], "Wed 02:00");
  EXPECT_EQ(PlanJson(p)["quiet_hours_utc"]["to"], "Wed 06:00");
}

TEST(PlanCutover, WithoutHistoryItSaysWhatItCannotMeasure) {
  PlanInput in;
  in.now_ns = kMonday;
  CutoverPlan p = PlanCutover(in);
  EXPECT_EQ(p.sync_passes, 0);
  EXPECT_EQ(p.quiet_start_hour, -1);
  ASSERT_GE(p.notes.size(), 3u);
  EXPECT_NE(p.notes[0].find("no sync pass yet"), std::string::npos) << p.notes[0];
}

TEST(HourOfWeek, CountsFromMondayMidnightUtc) {
  EXPECT_EQ(HourOfWeek(kMonday), 0);
  EXPECT_EQ(HourOfWeek(kMonday + 50 * 3600 * kSecond + 59 * 60 * kSecond), 50);
  EXPECT_EQ(HourOfWeek(kMonday - kSecond), 167) << "Sunday 23:59:59";
  EXPECT_EQ(WeekHourName(167), "Sun 23:00");
  EXPECT_EQ(WeekHourName(168 + 2), "Mon 02:00");
}

}  // namespace
}  // namespace ferry::migration
