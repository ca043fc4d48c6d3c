// ferry log DIR: the migration log, filtered; --check re-walks its hash chain.
#include <fmt/format.h>

#include <ctime>
#include <iostream>
#include <limits>

#include "cli/commands.h"
#include "migration/filter.h"

namespace ferry::cli {

namespace {

struct LogOptions {
  std::string dir, path, since;
  int64_t run = 0;
  bool json = false, csv = false, check = false;
};

// Accepts 2026-11-24T18:00:00Z, "2026-11-24 18:00:00", 2026-11-24 (UTC), or an age: 90m, 2h, 3d.
int64_t ParseSince(const std::string& text) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    std::string unit = text.substr(used);
    int64_t seconds = unit == "s"   ? 1
                      : unit == "m" ? 60
                      : unit == "h" ? 3600
                      : unit == "d" ? 86400
                                    : 0;
    if (used > 0 && seconds > 0) {
      return (int64_t(std::time(nullptr)) - n * seconds) * 1'000'000'000;
    }
  }
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                             "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return int64_t(::timegm(&tm)) * 1'000'000'000;
  }
  throw ExitError(kExitUsage, fmt::format("--since '{}': give a UTC time (2026-11-24T18:00:00Z, "
                                          "2026-11-24) or an age (90m, 2h, 3d)",
                                          text));
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

int RunLog(const LogOptions& o) {
  if (o.json && o.csv) throw ExitError(kExitUsage, "--json and --csv: choose one");
  auto catalog = OpenMigration(o.dir, /*read_only=*/true);
  if (o.check) {
    Result<catalog::ChainCheck> check = catalog->CheckChain();
    if (!check.ok()) Fail(check.status());
    if (!check->intact) {
      std::cout << fmt::format("the log is NOT intact: event {} {}\n", check->first_bad_id,
                               check->problem);
      return kExitRefused;
    }
    std::cout << fmt::format("the log is intact: {} events, head hash {}\n", check->events,
                             check->head_hash);
    std::cout << "note the head hash: a later check that still finds it (with the events after "
                 "it) proves nothing before it was rewritten\n";
    return kExitDone;
  }
  std::optional<migration::Glob> glob;
  if (!o.path.empty()) {
    Result<migration::Glob> parsed = migration::Glob::Parse(o.path);
    if (!parsed.ok()) Fail(Status(Code::kInvalidInput, "--path: " + parsed.status().message()));
    glob = *parsed;
  }
  catalog::EventFilter filter;
  filter.run = o.run;
  if (!o.since.empty()) filter.since_ns = ParseSince(o.since);
  Result<catalog::EventCursor> cursor = catalog->Events(filter);
  if (!cursor.ok()) Fail(cursor.status());

  if (o.json) std::cout << "{\"events\": [";
  if (o.csv) std::cout << "id,time,run,kind,path,detail,hash\n";
  catalog::Event e;
  int64_t shown = 0;
  while (true) {
    Result<bool> more = cursor->Next(e);
    if (!more.ok()) Fail(more.status());
    if (!*more) break;
    if (glob && (e.path.empty() || !glob->Matches(e.path))) continue;
    std::string time = HumanTime(e.time_ns);
    if (o.json) {
      nlohmann::json j{{"id", e.id},
                       {"time", time},
                       {"time_ns", e.time_ns},
                       {"run", e.run},
                       {"kind", e.kind},
                       {"path", e.path},
                       {"detail", nlohmann::json::parse(e.detail_json, nullptr, false)},
                       {"hash", e.hash}};
      std::cout << (shown ? ",\n  " : "\n  ") << JsonText(j);
    } else if (o.csv) {
      std::cout << fmt::format("{},{},{},{},{},{},{}\n", e.id, time, e.run, CsvField(e.kind),
                               CsvField(e.path), CsvField(e.detail_json), e.hash);
    } else {
      std::cout << fmt::format("{}  run {:>3}  {:<17} {}  {}\n", time, e.run, e.kind,
                               e.path.empty() ? "-" : e.path,
                               e.detail_json == "{}" ? "" : e.detail_json);
    }
    ++shown;
  }
  if (o.json) std::cout << "\n]}\n";
  if (!o.json && !o.csv && shown == 0) std::cerr << "no events match\n";
  return kExitDone;
}

}  // namespace

CommandRunner AddLogCommand(CLI::App& app) {
  auto o = std::make_shared<LogOptions>();
  CLI::App* cmd = app.add_subcommand(
      "log", "The migration log: every event, filtered; --check proves it was not rewritten");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_option("--path", o->path,
                  "Only events of items matching this glob (one path: its "
                  "whole history)");
  cmd->add_option("--since", o->since, "Only events since a UTC time or an age (2h, 3d)");
  cmd->add_option("--run", o->run, "Only events of this run (see ferry status)")
      ->check(CLI::Range(int64_t(1), std::numeric_limits<int64_t>::max(), "a run number"));
  cmd->add_flag("--json", o->json, "One JSON document on stdout");
  cmd->add_flag("--csv", o->csv, "CSV on stdout, one event a row");
  cmd->add_flag("--check", o->check,
                "Re-walk the hash chain: exit 3 at the first edited or deleted event; print the "
                "head hash when intact");
  return [o] { return RunLog(*o); };
}

}  // namespace ferry::cli
