// A scan's listing shared among processes: on a catalog that shares it (PostgreSQL), the folders
// of a folder source are claimed and listed by every process that helps, one folder each at a
// time, and the scan merges what they recorded (catalog::Catalog::SharesListing).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "catalog/catalog.h"
#include "migration/filter.h"
#include "storage/store.h"

namespace ferry::migration {

// Whether a scan of `source` shares its listing: a catalog that shares it, a folder source (an
// object store's listing is split by prefix within the process, storage::SplitListing).
bool ListingIsShared(catalog::Catalog& catalog, storage::Store& source);

struct SharedListingOptions {
  Filter filter;                    // folders it excludes are not listed
  std::chrono::seconds lease{120};  // how long a claim on a folder lasts
  const std::atomic<bool>* stop = nullptr;
  // Called after each folder this process recorded, with its totals so far.
  std::function<void(int64_t folders, int64_t entries)> progress;
};

struct SharedListingReport {
  int64_t folders = 0;  // folders this process listed and recorded
  int64_t entries = 0;
};

// Lists folders of the open listing of `run` until no folder is left to list: claims a few at a
// time, lists each (storage::Store::ListLevel) and records its entries, what could not be read,
// and its folders to list next; waits while others list the last ones (and takes over any whose
// claim ran out). A folder that cannot be read is recorded as unknown, not empty; the root that
// cannot be read fails the listing. Code::kCancelled when stopped.
Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options);

}  // namespace ferry::migration
