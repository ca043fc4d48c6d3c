#include "migration/shared_listing.h"

#include <fmt/format.h>

#include <thread>

namespace ferry::migration {

bool ListingIsShared(catalog::Catalog& catalog, storage::Store& source) {
  return catalog.SharesListing() && source.IsFolderTree();
}

Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options) {
  SharedListingReport report;
  constexpr int kClaim = 16;  // folders claimed, listed and recorded at a time
  while (true) {
    if (options.stop && options.stop->load()) return Status(Code::kCancelled, "stopped");
    Result<std::vector<std::string>> claimed = catalog.ClaimFolders(run, kClaim, options.lease);
    if (!claimed.ok()) return claimed.status();
    if (claimed->empty()) {
      Result<int64_t> left = catalog.FoldersLeft(run);
      if (!left.ok()) return left.status();
      if (*left == 0) return report;
      // Others are listing the last ones: wait for them (or for their claims to run out).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::vector<catalog::ListedFolder> batch;
    int64_t entries = 0;
    for (const std::string& folder : *claimed) {
      if (options.stop && options.stop->load()) return Status(Code::kCancelled, "stopped");
      catalog::ListedFolder& listed = batch.emplace_back();
      listed.folder = folder;
      Result<storage::LevelPage> page =
          source.ListLevel(folder.empty() ? "" : folder + "/", "", /*metadata=*/false);
      if (!page.ok()) {
        if (folder.empty()) return page.status();  // no root: nothing can be said
        listed.error = page.status().message();
        continue;
      }
      listed.entries = std::move(page->entries);
      listed.unlisted = std::move(page->unlisted);
      entries += int64_t(listed.entries.size());
      for (std::string& prefix : page->prefixes) {
        prefix.pop_back();  // "dir/" -> "dir"
        // An excluded folder is not walked, as in a scan of one process.
        if (!options.filter.Excluded(prefix)) listed.subfolders.push_back(std::move(prefix));
      }
    }
    // Those whose claim another lister took over (this one was slow past its lease) are
    // listed by it.
    Result<int> recorded = catalog.RecordFolders(run, batch);
    if (!recorded.ok()) return recorded.status();
    report.folders += *recorded;
    if (*recorded == int(batch.size())) report.entries += entries;
    if (options.progress) options.progress(report.folders, report.entries);
  }
}

}  // namespace ferry::migration
