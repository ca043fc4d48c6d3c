#include "migration/shared_listing.h"

#include <fmt/format.h>

#include <future>
#include <map>
#include <optional>
#include <thread>

#include "base/task_pool.h"

namespace ferry::migration {

bool ListingIsShared(catalog::Catalog& catalog, storage::Store& source) {
  return catalog.SharesListing() && source.IsFolderTree();
}

namespace {

constexpr int kClaim = 16;        // folders claimed, listed and recorded at a time
constexpr int kListedAtOnce = 4;  // folders of a batch listed at once

// One folder's level, as it is to be recorded: what the filter takes, and the folders to list
// next (all but those it excludes, as a scan of one process walks them). With `device` (a
// helper's), folders on another device are mount points on this machine: left to the scanner.
catalog::ListedFolder ListFolder(storage::Store& source, const std::string& folder,
                                 const SharedListingOptions& options,
                                 std::optional<uint64_t> device, Status& fatal) {
  catalog::ListedFolder listed;
  listed.folder = folder;
  Result<storage::LevelPage> page =
      source.ListLevel(folder.empty() ? "" : folder + "/", "",
                       storage::ListOptions{.metadata = false, .concurrency = options.concurrency});
  if (!page.ok()) {
    if (folder.empty()) fatal = page.status();  // no root: nothing can be said
    listed.error = page.status().message();
    return listed;
  }
  std::map<std::string, uint64_t> devices;
  for (storage::Entry& entry : page->entries) {
    if (entry.kind == storage::Kind::kFolder) devices[entry.path] = entry.device;
    if (options.filter.Included(entry.path, entry.kind == storage::Kind::kFolder)) {
      listed.entries.push_back(std::move(entry));
    }
  }
  listed.unlisted = std::move(page->unlisted);
  for (std::string& prefix : page->prefixes) {
    prefix.pop_back();  // "dir/" -> "dir"
    if (options.filter.Excluded(prefix)) continue;
    auto it = devices.find(prefix);
    if (device && it != devices.end() && it->second != *device) {
      listed.scanner_subfolders.push_back(std::move(prefix));
    } else {
      listed.subfolders.push_back(std::move(prefix));
    }
  }
  return listed;
}

// The claimed folder as this machine sees it, or why it is not the one the scan's listing saw.
Result<storage::Entry> AsRecorded(storage::Store& source, const catalog::FolderClaim& claim) {
  Result<storage::Entry> now = source.Stat(claim.path);
  if (!now.ok()) return now.status();
  if (now->kind != storage::Kind::kFolder || now->inode != claim.inode ||
      now->mtime_ns != claim.mtime_ns) {
    return Status(Code::kRefused,
                  fmt::format("'{}' is inode {} modified {} here, and inode {} modified {} in "
                              "the scan's listing",
                              claim.path, now->inode, now->mtime_ns, claim.inode, claim.mtime_ns));
  }
  return now;
}

// Whether the scan of `run` went on past its listing (it merged it, and may still be at work: a
// sync copies next) rather than ending without it.
Result<bool> ScanWentOn(catalog::Catalog& catalog, int64_t run) {
  Result<int64_t> open = catalog.OpenListingRun();
  if (!open.ok()) return open.status();
  if (*open == run) return true;
  Result<std::vector<catalog::Run>> runs = catalog.Runs();
  if (!runs.ok()) return runs.status();
  for (const catalog::Run& r : *runs) {
    if (r.id != run) continue;
    // Still marked running, it went on only if its process still holds the migration: one
    // that died mid-listing left its run so until the next process opens the migration.
    if (r.outcome == "running") return catalog.RunHoldsMigration(run);
    return catalog::WentThrough(r.outcome);
  }
  return false;
}

}  // namespace

Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options) {
  SharedListingReport report;
  TaskPool pool(kListedAtOnce);
  auto stopped = [&] { return options.stop && options.stop->load(); };
  auto gone = [&] {
    return Status(Code::kInvalidInput,
                  fmt::format("the scan of run {} ended before its listing was merged (stopped, "
                              "failed or its process gone): run the scan again",
                              run));
  };
  bool root = options.scanner;
  while (true) {
    if (stopped()) return Status(Code::kCancelled, "stopped");
    if (!options.scanner) {
      Result<int64_t> open = catalog.OpenListingRun();
      if (!open.ok()) return open.status();
      if (*open != run) {
        Result<bool> on = ScanWentOn(catalog, run);
        if (!on.ok()) return on.status();
        return *on ? report : Result<SharedListingReport>(gone());
      }
    }
    std::vector<catalog::FolderClaim> claimed;
    if (root) {
      claimed.push_back({"", 0, 0});
      root = false;
    } else {
      Result<std::vector<catalog::FolderClaim>> got =
          catalog.ClaimFolders(run, kClaim, options.lease, options.scanner);
      if (!got.ok()) return got.status();
      claimed = std::move(got).value();
    }
    if (claimed.empty()) {
      Result<int64_t> left = catalog.FoldersLeft(run);
      if (!left.ok()) return left.status();
      if (*left == 0) {
        if (options.scanner) return report;
        Result<bool> on = ScanWentOn(catalog, run);
        if (!on.ok()) return on.status();
        return *on ? report : Result<SharedListingReport>(gone());
      }
      // Others are listing the last ones: wait for them (or for their claims to run out).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // A helper lists what it can show to be the folder the scan's listing saw; the rest goes
    // back, for the scanning process.
    std::vector<std::optional<uint64_t>> devices(claimed.size());
    if (!options.scanner) {
      std::vector<catalog::FolderClaim> mine;
      std::vector<std::string> back;
      for (const catalog::FolderClaim& claim : claimed) {
        Result<storage::Entry> here = AsRecorded(source, claim);
        if (here.ok()) {
          devices[mine.size()] = here->device;
          mine.push_back(claim);
          continue;
        }
        back.push_back(claim.path);
        if (report.first_difference.empty()) report.first_difference = here.status().message();
      }
      FERRY_RETURN_IF_ERROR(catalog.ReleaseFolders(run, back, /*to_scanner=*/true));
      report.given_back += int64_t(back.size());
      claimed = std::move(mine);
      if (claimed.empty()) continue;
    }
    std::vector<catalog::ListedFolder> batch(claimed.size());
    std::vector<Status> fatal(claimed.size());
    std::vector<std::future<void>> listing;
    for (size_t i = 0; i < claimed.size(); ++i) {
      listing.push_back(pool.Submit([&, i] {
        if (!stopped()) {
          batch[i] = ListFolder(source, claimed[i].path, options, devices[i], fatal[i]);
        }
      }));
    }
    for (auto& done : listing) done.get();
    if (stopped()) {
      std::vector<std::string> back;
      for (const catalog::FolderClaim& claim : claimed) back.push_back(claim.path);
      (void)catalog.ReleaseFolders(run, back, /*to_scanner=*/false);  // to the others, at once
      return Status(Code::kCancelled, "stopped");
    }
    for (const Status& st : fatal) {
      if (!st.ok()) return st;
    }
    Result<int> recorded = catalog.RecordFolders(run, batch);
    if (!recorded.ok()) return recorded.status();
    report.folders += *recorded;
    for (const catalog::ListedFolder& f : batch) report.entries += int64_t(f.entries.size());
    if (options.progress) options.progress(report.folders, report.entries);
  }
}

}  // namespace ferry::migration
