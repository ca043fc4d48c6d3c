// The throttles' vocabulary, parsed strictly: rates ("50MiB/s", "400Mbit/s"), operation rates
// ("200/s") and weekly schedules of rates.
//
//   "Mon-Fri 08:00-18:00 20MiB/s; Sat-Sun off; * 200MiB/s"
//
// A schedule is rules separated by ';', the first that matches the moment wins. A rule is DAYS
// [HH:MM-HH:MM] LIMIT, or '*' LIMIT (any time). DAYS is a day (Mon..Sun), a range (Mon-Fri,
// Fri-Mon wraps) or a comma list of those; the time range is [start, end) and may wrap past
// midnight (22:00-06:00); 24:00 is the end of the day. LIMIT is a rate, "off" (0: paused) or
// "unlimited". A moment no rule covers is unlimited.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ferry::transfer {

// Bytes per second from "50MiB/s", "1.5GB/s", "400Mbit/s", "800kbit/s", "512KiB/s", "100B/s"
// (units: B, KB, MB, GB, KiB, MiB, GiB, kbit, Mbit, Gbit; '/s' required); "0" is 0.
Result<double> ParseRate(std::string_view text);

// Bytes from "512MiB", "2GiB", "300MB", "4096B" (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB;
// a unit is required).
Result<uint64_t> ParseSize(std::string_view text);

// Operations per second from "200/s" or "200".
Result<double> ParseOpsRate(std::string_view text);

class Schedule {
 public:
  static Result<Schedule> Parse(std::string_view text);

  // The limit in bytes per second at `minute` (0..10079) of the week, Monday 00:00 = 0;
  // nullopt: unlimited; 0: paused.
  std::optional<double> LimitAt(int minute_of_week) const;
  // The same for a Unix time, in local time (the timetable's time zone is the machine's).
  std::optional<double> LimitAtUnixTime(int64_t unix_seconds) const;

 private:
  struct Rule {
    std::array<bool, 7> days{};    // Monday first
    int start = 0, end = 24 * 60;  // minutes of the day, [start, end); start > end wraps
    std::optional<double> limit;
  };
  std::vector<Rule> rules_;
};

}  // namespace ferry::transfer
