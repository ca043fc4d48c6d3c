// Each subcommand registers its options on the CLI11 app and returns the function that runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>

#include "catalog/catalog.h"
#include "cli/common.h"
#include "migration/scan.h"

namespace ferry::cli {

using CommandRunner = std::function<int()>;

CommandRunner AddCheckCommand(CLI::App& app);
CommandRunner AddInitCommand(CLI::App& app);
CommandRunner AddScanCommand(CLI::App& app);
CommandRunner AddCopyCommand(CLI::App& app);
CommandRunner AddStatusCommand(CLI::App& app);
CommandRunner AddErrorsCommand(CLI::App& app);
CommandRunner AddSyncCommand(CLI::App& app);
CommandRunner AddVerifyCommand(CLI::App& app);
CommandRunner AddCutoverCommand(CLI::App& app);
CommandRunner AddLogCommand(CLI::App& app);
CommandRunner AddReportCommand(CLI::App& app);
CommandRunner AddTrialCommand(CLI::App& app);
CommandRunner AddResolveCommand(CLI::App& app);
CommandRunner AddWatchSourceCommand(CLI::App& app);
CommandRunner AddDecommissionCheckCommand(CLI::App& app);
CommandRunner AddAuditTargetCommand(CLI::App& app);

// Refuses copy and sync (exit 2) on a migration that was cut over, unless `reopen`, which
// reopens it. A dry run is always allowed.
void CheckOpen(catalog::Catalog& catalog, bool reopen, bool dry_run, const std::string& dir);

// The scan options the migration's configuration gives (filter, links, concurrency), stopped
// by Ctrl-C; exit 2 on a bad filter.
migration::ScanOptions SourceScanOptions(catalog::Catalog& catalog);

// Scans the migration's source into its catalog, with a progress line; exit 2 on failure.
// With `accept_source_change`, a source whose identity changed is accepted (and logged).
migration::ScanReport RunScan(catalog::Catalog& catalog, Endpoints& endpoints,
                              bool accept_source_change = false);
void PrintScanReport(const migration::ScanReport& report, std::ostream& out);

// A reading catalog of DIR, when it could not be opened (`refused`) because another process
// holds it, on a catalog that shares a scan's listing (PostgreSQL): a process that may help
// that one. Else null. Installs the interrupt handler.
std::unique_ptr<catalog::Catalog> OpenToHelp(const std::string& dir, const Status& refused);
// Calls `found` every 250 ms until it is true (returns true) or `limit` passed (false), saying
// `why` once it waits; exit 130/143 when interrupted.
bool AwaitToHelp(const std::function<bool()>& found, std::optional<std::chrono::seconds> limit,
                 const std::string& why);
// Helps list the source's folders for the scan of run `run` until none is left and returns the
// exit code (0; 3 if this machine's source is not the migration's, 2 if the scan ended without
// its listing). With `json`, the human lines go to stderr and {"helped_run", "folders",
// "entries"} to stdout.
int ListForScan(catalog::Catalog& catalog, Endpoints& endpoints, const std::string& dir,
                int64_t run, bool json);

// When DIR could not be opened (`refused`) because another process holds it to scan it, on a
// catalog that shares a scan's listing (PostgreSQL): helps list the source's folders
// (ListForScan). Waits up to 10 s for such a scan to open its listing; nullopt when none does.
std::optional<int> HelpSharedListing(const std::string& dir, const Status& refused,
                                     bool json = false);

}  // namespace ferry::cli
