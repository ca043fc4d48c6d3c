#include "migration/shared_listing.h"

#include <fmt/format.h>

#include <future>
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
// next (all but those it excludes, as a scan of one process walks them).
catalog::ListedFolder ListFolder(storage::Store& source, const std::string& folder,
                                 const Filter& filter, Status& fatal) {
  catalog::ListedFolder listed;
  listed.folder = folder;
  Result<storage::LevelPage> page =
      source.ListLevel(folder.empty() ? "" : folder + "/", "", /*metadata=*/false);
  if (!page.ok()) {
    if (folder.empty()) fatal = page.status();  // no root: nothing can be said
    listed.error = page.status().message();
    return listed;
  }
  for (storage::Entry& entry : page->entries) {
    if (filter.Included(entry.path, entry.kind == storage::Kind::kFolder)) {
      listed.entries.push_back(std::move(entry));
    }
  }
  listed.unlisted = std::move(page->unlisted);
  for (std::string& prefix : page->prefixes) {
    prefix.pop_back();  // "dir/" -> "dir"
    if (!filter.Excluded(prefix)) listed.subfolders.push_back(std::move(prefix));
  }
  return listed;
}

// Why `claim` may not be listed here: its folder is not the one the scan's listing saw.
std::optional<std::string> NotTheSame(storage::Store& source, const catalog::FolderClaim& claim) {
  Result<storage::Entry> now = source.Stat(claim.path);
  if (!now.ok()) return now.status().message();
  if (now->kind != storage::Kind::kFolder || now->inode != claim.inode) {
    return fmt::format("'{}' is inode {} here and {} in the scan's listing", claim.path, now->inode,
                       claim.inode);
  }
  return std::nullopt;
}

}  // namespace

Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options) {
  SharedListingReport report;
  TaskPool pool(kListedAtOnce);
  auto stopped = [&] { return options.stop && options.stop->load(); };
  bool root = options.scanner;
  while (true) {
    if (stopped()) return Status(Code::kCancelled, "stopped");
    std::vector<catalog::FolderClaim> claimed;
    if (root) {
      claimed.push_back({"", 0});
      root = false;
    } else {
      Result<std::vector<catalog::FolderClaim>> got =
          catalog.ClaimFolders(run, kClaim, options.lease);
      if (!got.ok()) return got.status();
      claimed = std::move(got).value();
    }
    if (claimed.empty()) {
      Result<int64_t> left = catalog.FoldersLeft(run);
      if (!left.ok()) return left.status();
      if (*left == 0) return report;
      if (!options.scanner) {
        Result<int64_t> open = catalog.OpenListingRun();
        if (!open.ok()) return open.status();
        if (*open != run) {
          return Status(Code::kInvalidInput,
                        fmt::format("the scan of run {} stopped before its listing was done; "
                                    "nothing this process listed is used: run the scan again",
                                    run));
        }
      }
      // Others are listing the last ones: wait for them (or for their claims to run out).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!options.scanner) {
      for (const catalog::FolderClaim& claim : claimed) {
        std::optional<std::string> differs = NotTheSame(source, claim);
        if (!differs) continue;
        std::vector<std::string> back;
        for (const catalog::FolderClaim& c : claimed) back.push_back(c.path);
        (void)catalog.ReleaseFolders(run, back);  // the others list them at once
        return Status(Code::kRefused,
                      fmt::format("this machine's source is not the one the scan lists ({}); "
                                  "it lists nothing and leaves the folders to the others",
                                  *differs));
      }
    }
    std::vector<catalog::ListedFolder> batch(claimed.size());
    std::vector<Status> fatal(claimed.size());
    std::vector<std::future<void>> listing;
    for (size_t i = 0; i < claimed.size(); ++i) {
      listing.push_back(pool.Submit([&, i] {
        if (!stopped()) batch[i] = ListFolder(source, claimed[i].path, options.filter, fatal[i]);
      }));
    }
    for (auto& done : listing) done.get();
    if (stopped()) return Status(Code::kCancelled, "stopped");
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
