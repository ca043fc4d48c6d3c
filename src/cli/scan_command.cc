// ferry scan DIR [--json]: inventory the source into the catalog.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "migration/safety.h"
#include "migration/shared_listing.h"

namespace ferry::cli {

namespace {

struct ScanOptions {
  std::string dir;
  bool json = false, accept_source_change = false;
};

int RunScanCommand(const ScanOptions& o) {
  auto opened = catalog::Catalog::Open(o.dir);
  if (!opened.ok()) {
    if (std::optional<int> helped = HelpSharedListing(o.dir, opened.status(), o.json)) {
      return *helped;
    }
    // Nothing to help: what held the migration may have ended meanwhile, leaving it free.
    opened = catalog::Catalog::Open(o.dir);
    if (!opened.ok()) Fail(opened.status());
  }
  std::unique_ptr<catalog::Catalog> catalog = std::move(opened).value();
  Endpoints endpoints = OpenEndpoints(*catalog);
  migration::ScanReport report = RunScan(*catalog, endpoints, o.accept_source_change);
  if (o.json) {
    PrintScanReport(report, std::cerr);
    std::cout << JsonText(migration::ScanReportJson(report), 2) << "\n";
  } else {
    PrintScanReport(report, std::cout);
  }
  return report.unreadable > 0 ? kExitItemsFailed : kExitDone;
}

}  // namespace

std::unique_ptr<catalog::Catalog> OpenToHelp(const std::string& dir, const Status& refused) {
  if (refused.code() != Code::kInvalidInput) return nullptr;
  auto reader = catalog::Catalog::OpenForReading(dir);
  if (!reader.ok() || !(*reader)->SharesListing()) return nullptr;
  InstallInterruptHandler();
  return std::move(reader).value();
}

bool AwaitToHelp(const std::function<bool()>& found, std::optional<std::chrono::seconds> limit,
                 const std::string& why) {
  const auto start = std::chrono::steady_clock::now();
  for (bool said = false;; said = true) {
    if (found()) return true;
    if (InterruptFlag().load()) Fail(Status(Code::kCancelled, "stopped while waiting"));
    if (limit && std::chrono::steady_clock::now() - start >= *limit) return false;
    if (!said) std::cerr << "ferry: " << why << "\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

std::optional<int> HelpSharedListing(const std::string& dir, const Status& refused, bool json) {
  std::unique_ptr<catalog::Catalog> catalog = OpenToHelp(dir, refused);
  if (!catalog) return std::nullopt;
  int64_t run = 0;
  const bool found = AwaitToHelp(
      [&] {
        run = Checked(catalog->OpenListingRun());
        return run != 0;
      },
      std::chrono::seconds(10),
      fmt::format("{}; waiting up to 10 s for it to share the listing of a scan",
                  refused.message()));
  if (!found) return std::nullopt;
  Endpoints endpoints = OpenEndpoints(*catalog);
  return ListForScan(*catalog, endpoints, dir, run, json);
}

int ListForScan(catalog::Catalog& catalog, Endpoints& endpoints, const std::string& dir,
                int64_t run, bool json) {
  // Listed here, the source must be the migration's: an unmounted share lists empty.
  Status same = migration::CheckSourceIdentity(catalog, *endpoints.source,
                                               /*accept_change=*/false, run, /*dry_run=*/true);
  if (!same.ok()) Fail(same);
  migration::ScanOptions scan = SourceScanOptions(catalog);
  migration::SharedListingOptions options;
  options.filter = scan.filter;
  options.concurrency = scan.list_concurrency;
  options.stop = scan.stop;
  std::ostream& out = json ? std::cerr : std::cout;
  // A folder tree is listed a folder at a time; an object store in parts, a prefix each.
  const bool tree = endpoints.source->IsFolderTree();
  const std::string unit = tree ? "folder" : "part";
  out << fmt::format("another process scans {} (run {}): listing {} with it\n", dir, run,
                     tree ? "folders" : "parts of the source (a prefix each)");
  ProgressLine line;
  options.progress = [&](int64_t folders, int64_t entries) {
    line.Update(fmt::format("listing: {}, {} entries", Count(folders, unit), entries));
  };
  Result<migration::SharedListingReport> listed =
      migration::ListShared(catalog, *endpoints.source, run, options);
  line.Clear();
  if (!listed.ok()) {
    if (listed.status().code() == Code::kCancelled) {
      // Its claims run out and the others take them over: nothing is lost.
      throw ExitError(StoppedExitCode(),
                      fmt::format("stopped; the {}s it held go to the other processes", unit));
    }
    Fail(listed.status());
  }
  out << fmt::format(
      "listed {} ({} entries) for the scan of run {}; that process merges them into the "
      "catalog\n",
      Count(listed->folders, unit), listed->entries, run);
  if (listed->given_back > 0 && tree) {
    std::cerr << fmt::format(
        "ferry: {} folders differ on this machine from the scanning machine's listing (first: "
        "{}); they were left to it. Does this machine mount the same share?\n",
        listed->given_back, RedactSecrets(listed->first_difference));
  } else if (listed->given_back > 0) {
    std::cerr << fmt::format(
        "ferry: {} could not be listed from this machine (first: {}); the scanning process "
        "lists them\n",
        Count(listed->given_back, "part"), RedactSecrets(listed->first_difference));
  }
  if (json) {
    std::cout << JsonText(nlohmann::json{{"helped_run", run},
                                         {"folders", listed->folders},
                                         {"entries", listed->entries}},
                          2)
              << "\n";
  }
  return kExitDone;
}

migration::ScanOptions SourceScanOptions(catalog::Catalog& catalog) {
  const catalog::Config& config = catalog.config();
  Result<migration::Filter> filter = migration::Filter::Parse(config.include, config.exclude);
  if (!filter.ok()) Fail(filter.status());
  migration::ScanOptions options;
  options.filter = *filter;
  options.symlinks = config.symlinks;
  options.list_concurrency = Network().scan_concurrency;
  options.split = Network().split_listing;
  InstallInterruptHandler();
  options.stop = &InterruptFlag();
  return options;
}

migration::ScanReport RunScan(catalog::Catalog& catalog, Endpoints& endpoints,
                              bool accept_source_change) {
  migration::ScanOptions options = SourceScanOptions(catalog);
  options.accept_source_change = accept_source_change;
  ProgressLine line;
  options.progress = [&](int64_t items, int64_t bytes) {
    line.Update(fmt::format("scanning: {} entries, {}", items, HumanBytes(bytes)));
  };
  Result<migration::ScanReport> report =
      migration::Scan(catalog, *endpoints.source, *endpoints.target, options);
  line.Clear();
  if (!report.ok()) Fail(report.status());
  return std::move(report).value();
}

void PrintScanReport(const migration::ScanReport& r, std::ostream& out) {
  out << fmt::format("scanned {} files ({}), {} folders, {} links, {} special files in {}\n",
                     r.files, HumanBytes(r.bytes), r.folders, r.links, r.specials,
                     HumanDuration(r.seconds));
  out << fmt::format(
      "catalog entries (files, folders, links): {} new, {} changed, {} vanished, {} "
      "skipped",
      r.added, r.changed, r.vanished, r.skipped);
  if (r.changed_copied) out << fmt::format(", {} copied items changed since", r.changed_copied);
  out << "\n";
  if (r.files > 0) {
    out << "\nfile sizes:\n";
    int64_t most = *std::max_element(r.histogram.begin(), r.histogram.end());
    for (size_t i = 0; i < r.histogram.size(); ++i) {
      int bar = most ? int(40 * r.histogram[i] / most) : 0;
      out << fmt::format("  {:>10} {:>10} {}\n", migration::ScanReport::kBucketNames[i],
                         r.histogram[i], std::string(size_t(bar), '#'));
    }
  }
  if (!r.largest.empty()) {
    out << "\nlargest folders:\n";
    for (const auto& f : r.largest) {
      out << fmt::format("  {:>10} {:>8} files  {}\n", HumanBytes(f.bytes), f.files, f.path);
    }
  }
  if (r.unstorable > 0) {
    out << fmt::format("\n{} names the target cannot store (kept as skipped):\n", r.unstorable);
    for (const auto& [path, why] : r.unstorable_examples)
      out << "  " << path << ": " << why << "\n";
    if (r.unstorable > int64_t(r.unstorable_examples.size())) out << "  ...\n";
  }
  if (!r.errors.empty()) {
    out << fmt::format(
        "\n{} folders or files could not be read; what they hold stays as the catalog had it "
        "({} items), nothing under them is taken for deleted:\n",
        r.unreadable, r.kept_unknown);
    for (const auto& e : r.errors) out << "  " << e << "\n";
  }
}

CommandRunner AddScanCommand(CLI::App& app) {
  auto o = std::make_shared<ScanOptions>();
  CLI::App* cmd = app.add_subcommand(
      "scan",
      "Inventory the source into the catalog: counts, sizes, largest folders, and names "
      "the target cannot store");
  cmd->add_option("DIR", o->dir, "The migration folder (made by ferry init)")->required();
  cmd->add_flag("--json", o->json, "Print the report as one JSON document on stdout");
  cmd->add_flag("--accept-source-change", o->accept_source_change,
                "The source was moved, restored or remounted elsewhere on purpose: accept its "
                "new identity (recorded in the log) instead of refusing it as unmounted");
  cmd->footer(
      "Many machines: with a PostgreSQL catalog, run scan on several machines at once (for a\n"
      "share, machines that mount it at the same path): one scans, the others help list its\n"
      "folders (of a Blob container, its prefixes), then exit (so does a sync started while\n"
      "another machine's sync scans). A Blob container is split only where its parts pay off\n"
      "for a scan left alone too (see --split-listing; 'always' when you start helpers).\n"
      "Exit codes: 0 scanned (or helped); 1 some folders could not be read (listed; their\n"
      "items stay as they were); 2 bad usage; 3 the source looks unmounted or replaced\n"
      "(nothing changed).\n");
  return [o] { return RunScanCommand(*o); };
}

}  // namespace ferry::cli
