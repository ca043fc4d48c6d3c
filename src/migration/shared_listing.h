// A scan's listing shared among processes: on a catalog that shares it (PostgreSQL), the folders
// of a folder source are claimed and listed by every process that helps, and the scan merges
// what they recorded (catalog::Catalog::SharesListing).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "catalog/catalog.h"
#include "migration/filter.h"
#include "storage/store.h"

namespace ferry::migration {

// Whether a scan of `source` shares its listing: a catalog that shares it, and a folder source
// or an object store whose level listings name every prefix (not S3's: it lists after a path,
// storage::Store::ListsAfter, and the split listing in one process is its own).
bool ListingIsShared(catalog::Catalog& catalog, storage::Store& source);

// The parts of an object store's listing a process lists at once with
// SharedListingOptions::concurrency `concurrency`.
int PartsAtOnce(int concurrency);

struct SharedListingOptions {
  Filter filter;                    // what it excludes is not recorded, nor its folders listed
  std::chrono::seconds lease{120};  // how long a claim on a folder lasts
  // The scan's own process: it lists the root first (helpers never do), and its view of the
  // source is the reference. A helper lists a folder only while its inode and modification time
  // are those its parent's listing recorded, and leaves to the scanning process the folders in
  // it that lie on another device (mount points on its machine): what it cannot show to be the
  // scan's view it gives back, for the scanning process to list.
  bool scanner = false;
  // A folder tree's: the stats each folder's listing keeps in flight (ListOptions::concurrency;
  // 0: the store's choice). An object store's: the parts listed at once (0: 4).
  int concurrency = 0;
  const std::atomic<bool>* stop = nullptr;
  // Called after each batch this process recorded, with its totals so far.
  std::function<void(int64_t folders, int64_t entries)> progress;
};

struct SharedListingReport {
  int64_t folders = 0;  // folders this process listed and recorded
  int64_t entries = 0;
  int64_t given_back = 0;  // (a helper) folders that differed here, left to the scanning process
  std::string first_difference;  // what the first of them showed
};

// Lists folders of the open listing of `run` until no folder is left to list: claims a batch at
// a time, lists its folders a few at once (storage::Store::ListLevel) and records their
// entries, what could not be read, and their folders to list next; waits while others list the
// last ones (and takes over any whose claim ran out). A folder that cannot be read is recorded
// as unknown, not empty; a root that cannot be read fails the listing. A helper whose scan is
// gone (stopped, failed, its process dead) stops with Code::kInvalidInput, also when the
// listing is over but the scan did not end well. Code::kCancelled when stopped (a helper gives
// its claims back).
Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options);

}  // namespace ferry::migration
