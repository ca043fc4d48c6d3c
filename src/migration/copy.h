// The bulk copy stage: every pending and failed item, in parallel, resumable after any crash.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "catalog/catalog.h"
#include "storage/store.h"
#include "transfer/engine.h"
#include "transfer/upload.h"

namespace ferry::migration {

// Items here are files: folders and links go by uncounted.
struct CopyProgress {
  int64_t items_done = 0, items_total = 0;
  int64_t bytes_done = 0, bytes_total = 0;
  double seconds = 0;
  // Items that failed, met a conflict or vanished so far, by cause.
  std::map<std::string, int64_t> errors;
};

using transfer::EngineStats;

struct CopyOptions {
  // Streams, memory and which files go in blocks (upload.stream_limit follows block_above);
  // the throttles and the stream limit act in the target's pipeline.
  transfer::EngineOptions engine;
  transfer::UploadOptions upload;
  std::function<void(const CopyProgress&)> progress;  // called about 5 times a second
  const std::atomic<bool>* stop = nullptr;            // set to stop early (after in-flight items)
  bool overwrite = false;  // write over blobs changed by others, and retry conflicts
  int64_t run = 0;         // record under this run (a sync's) instead of a "copy" run
  // The "copy" run is one process's share of the copy of this sync run (which counts it in its
  // own record): its summary says so (SyncOfShare).
  int64_t for_sync = 0;
  // The target's HTTP retries so far, by cause (for the run's record); may be empty.
  std::function<std::map<std::string, uint64_t>()> retry_causes;
  // The engine's statistics so far (for the process; the run records its share); may be empty.
  std::function<EngineStats()> engine_stats;
  // With a catalog that shares work (one of many workers): how long this worker's claims last
  // unless renewed (it renews them every quarter of it), and a call with the number of live
  // workers at each renewal (to share the throttles among them); may be empty.
  std::chrono::seconds lease{120};
  std::function<void(int)> live_workers;
};

// The sync run whose copy `run` was one process's share of (a "copy" run counted in the sync's
// record too, which a sum over runs skips), or 0.
int64_t SyncOfShare(const catalog::Run& run);

struct CopyReport {
  int64_t run = 0;
  // Files copied and files already there (adopted); the folders and links recorded (an empty
  // folder gets a marker, one with contents exists through them) are counted apart.
  int64_t copied = 0, adopted = 0, failed = 0, conflicts = 0, vanished = 0;
  int64_t folders = 0, links = 0;
  int64_t replaced = 0;  // of the copied: changed items that replaced ferry's blob
  int64_t replaced_bytes = 0;
  int64_t metadata_only = 0;  // of the replaced: same content, only metadata updated
  int64_t bytes = 0;          // bytes of the items copied or adopted
  int64_t bytes_sent = 0;     // bytes actually sent
  int64_t blocks_reused = 0;
  uint64_t retries = 0;
  std::map<std::string, uint64_t> retries_by_cause;
  EngineStats engine;
  // Progress over time: seconds since start, bytes and items done (at most ~240 points).
  std::vector<std::array<double, 3>> samples;
  double seconds = 0;
  bool stopped = false;
  // Set when the run stopped because the target as a whole failed item after item (down,
  // unreachable, access refused, container gone): the last error.
  std::string unreachable;
};

// The engine's statistics as they are kept in a run's summary.
nlohmann::json EngineJson(const EngineStats& engine);

// What the uploader needs to know of an item (as a new item: no blob to replace).
transfer::UploadItem UploadOf(const catalog::Item& item);

// The short key that groups an error with others of its kind in `ferry errors`.
std::string CauseOf(const Status& status);

// Copies every pending and failed item (and conflicts, with overwrite). Each outcome is committed
// to the catalog within a fraction of a second of happening, so a crash repeats at most the items
// in flight (and those find their blob already written, and adopt it). Records a "copy" run.
// On a catalog that shares work, this process is one worker of many: it claims items a batch at
// a time instead of listing them all, and goes on until no item is left that it may take and no
// other worker holds one (a worker that dies leaves its items to the others when its lease runs
// out).
Result<CopyReport> Copy(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                        const CopyOptions& options);

}  // namespace ferry::migration
