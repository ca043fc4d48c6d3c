#include "transfer/limits.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

namespace ferry::transfer {

namespace {

constexpr double kMaxRate = 1e15;  // 1 PB/s: beyond any link, so a typo is caught
constexpr const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// A non-negative decimal number at the start of `text`; the rest is left in `text`.
std::optional<double> LeadingNumber(std::string_view& text) {
  size_t n = 0;
  while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.'))
    ++n;
  if (n == 0) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + n, value);
  if (ec != std::errc() || end != text.data() + n || !std::isfinite(value)) return std::nullopt;
  text.remove_prefix(n);
  return value;
}

Status BadRate(std::string_view text) {
  return Status(
      Code::kInvalidInput,
      fmt::format("'{}' is not a rate: give one such as 50MiB/s, 1.5GB/s or 400Mbit/s", text));
}

std::optional<int> Day(std::string_view name) {
  std::string lower = Lower(name);
  for (int i = 0; i < 7; ++i) {
    if (lower == kDays[i]) return i;
  }
  return std::nullopt;
}

// "Mon", "Mon-Fri", "Sat,Sun", "Mon-Wed,Fri".
Result<std::array<bool, 7>> ParseDays(std::string_view text) {
  std::array<bool, 7> days{};
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    size_t dash = part.find('-');
    std::optional<int> first = Day(part.substr(0, dash));
    std::optional<int> last = dash == std::string_view::npos ? first : Day(part.substr(dash + 1));
    if (!first || !last) {
      return Status(Code::kInvalidInput,
                    fmt::format("'{}' is not a day or range of days (Mon..Sun, Mon-Fri)", part));
    }
    for (int d = *first;; d = (d + 1) % 7) {
      days[size_t(d)] = true;
      if (d == *last) break;
    }
  }
  return days;
}

// "08:00" -> minutes of the day; "24:00" allowed as an end.
std::optional<int> ParseClock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  int hours = 0, minutes = 0;
  auto h = std::from_chars(text.data(), text.data() + 2, hours);
  auto m = std::from_chars(text.data() + 3, text.data() + 5, minutes);
  if (h.ec != std::errc() || h.ptr != text.data() + 2 || m.ec != std::errc() ||
      m.ptr != text.data() + 5 || minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
    return std::nullopt;
  }
  return hours * 60 + minutes;
}

}  // namespace

Result<double> ParseRate(std::string_view text) {
  std::string_view rest = Trim(text);
  std::optional<double> number = LeadingNumber(rest);
  if (!number) return BadRate(text);
  if (rest.empty() && *number == 0) return 0.0;
  std::string unit = Lower(Trim(rest));
  if (!unit.ends_with("/s")) return BadRate(text);
  unit.resize(unit.size() - 2);
  static const std::pair<const char*, double> kUnits[] = {
      {"b", 1},          {"kb", 1e3},        {"mb", 1e6},           {"gb", 1e9},
      {"kib", 1024.0},   {"mib", 1048576.0}, {"gib", 1073741824.0}, {"kbit", 1e3 / 8},
      {"mbit", 1e6 / 8}, {"gbit", 1e9 / 8},
  };
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    double rate = *number * scale;
    if (rate > kMaxRate) {
      return Status(Code::kInvalidInput, fmt::format("'{}' is more than any link carries", text));
    }
    return rate;
  }
  return BadRate(text);
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status(Code::kInvalidInput,
                  fmt::format("'{}' is not a size: give one such as 512MiB, 2GiB or 300MB", text));
  };
  std::string_view rest = Trim(text);
  std::optional<double> number = LeadingNumber(rest);
  if (!number) return bad();
  std::string unit = Lower(Trim(rest));
  static const std::pair<const char*, double> kUnits[] = {
      {"b", 1},           {"kb", 1e3},           {"mb", 1e6},
      {"gb", 1e9},        {"tb", 1e12},          {"kib", 1024.0},
      {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0},
  };
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    double bytes = *number * scale;
    if (bytes >= 1e18) return bad();
    return uint64_t(bytes);
  }
  return bad();
}

Result<double> ParseOpsRate(std::string_view text) {
  std::string_view rest = Trim(text);
  std::optional<double> number = LeadingNumber(rest);
  rest = Trim(rest);
  if (!number || !(rest.empty() || rest == "/s") || *number > 1e9) {
    return Status(Code::kInvalidInput,
                  fmt::format("'{}' is not an operation rate: give one such as 200/s", text));
  }
  return *number;
}

Result<Schedule> Schedule::Parse(std::string_view text) {
  Schedule schedule;
  std::string_view rest = text;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view rule_text = Trim(rest.substr(0, semi));
    auto bad = [&](const std::string& why) {
      return Status(Code::kInvalidInput, fmt::format("schedule rule '{}': {}", rule_text, why));
    };
    // Words separated by blanks.
    std::vector<std::string_view> words;
    for (std::string_view r = rule_text; !(r = Trim(r)).empty();) {
      size_t blank = 0;
      while (blank < r.size() && !std::isspace(static_cast<unsigned char>(r[blank]))) ++blank;
      words.push_back(r.substr(0, blank));
      r.remove_prefix(blank);
    }
    if (words.empty()) {
      if (semi == std::string_view::npos && !schedule.rules_.empty()) break;  // trailing ';'
      return Status(Code::kInvalidInput, "an empty schedule rule: give DAYS [HH:MM-HH:MM] LIMIT");
    }
    if (words.size() < 2 || words.size() > 3) {
      return bad("give DAYS [HH:MM-HH:MM] LIMIT, e.g. 'Mon-Fri 08:00-18:00 20MiB/s'");
    }
    Rule rule;
    if (words[0] == "*") {
      if (words.size() != 2) return bad("'*' takes a limit only");
      rule.days.fill(true);
    } else {
      Result<std::array<bool, 7>> days = ParseDays(words[0]);
      if (!days.ok()) return bad(days.status().message());
      rule.days = *days;
    }
    if (words.size() == 3) {
      std::string_view range = words[1];
      size_t dash = range.find('-');
      std::optional<int> start = ParseClock(range.substr(0, dash));
      std::optional<int> end =
          dash == std::string_view::npos ? std::nullopt : ParseClock(range.substr(dash + 1));
      if (!start || !end || *start == 24 * 60 || *start == *end) {
        return bad(fmt::format("'{}' is not a time range such as 08:00-18:00", range));
      }
      rule.start = *start;
      rule.end = *end;
    }
    std::string limit = Lower(words.back());
    if (limit == "off") {
      rule.limit = 0.0;
    } else if (limit != "unlimited") {
      Result<double> rate = ParseRate(words.back());
      if (!rate.ok()) return bad(rate.status().message() + ", 'off' or 'unlimited'");
      rule.limit = *rate;
    }
    schedule.rules_.push_back(rule);
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  return schedule;
}

std::optional<double> Schedule::LimitAt(int minute_of_week) const {
  minute_of_week = ((minute_of_week % 10080) + 10080) % 10080;
  int day = minute_of_week / 1440, minute = minute_of_week % 1440;
  int yesterday = (day + 6) % 7;
  for (const Rule& rule : rules_) {
    bool wraps = rule.start > rule.end;
    bool covered = wraps ? (rule.days[size_t(day)] && minute >= rule.start) ||
                               (rule.days[size_t(yesterday)] && minute < rule.end)
                         : rule.days[size_t(day)] && minute >= rule.start && minute < rule.end;
    if (covered) return rule.limit;
  }
  return std::nullopt;
}

std::optional<double> Schedule::LimitAtUnixTime(int64_t unix_seconds) const {
  std::time_t t = std::time_t(unix_seconds);
  struct tm local {};
  ::localtime_r(&t, &local);
  int day = (local.tm_wday + 6) % 7;  // tm_wday: Sunday = 0
  return LimitAt(day * 1440 + local.tm_hour * 60 + local.tm_min);
}

}  // namespace ferry::transfer
