// The inventory stage: stream the source into the catalog.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "migration/filter.h"
#include "migration/listing_plan.h"
#include "storage/store.h"

namespace ferry::migration {

struct FolderSize {
  std::string path;
  int64_t bytes = 0;
  int64_t files = 0;
};

struct ScanReport {
  int64_t run = 0;
  int64_t files = 0, folders = 0, links = 0, specials = 0, bytes = 0;
  int64_t added = 0;           // items new to the catalog
  int64_t changed = 0;         // not yet copied, and different from the last scan
  int64_t changed_copied = 0;  // copied, and changed at the source since (for `sync`)
  int64_t vanished = 0;        // pending items gone from the source
  int64_t skipped = 0;         // items kept as skipped (links, special files, bad names)
  int64_t unreadable = 0;      // folders (or entries) the scan could not list or read
  int64_t kept_unknown = 0;    // items kept as they were because their folder was unreadable
  bool stopped = false;        // the operator stopped the scan: what it did not reach is as before
  // The delta against the catalog (files and links; what a sync transfers or deletes).
  int64_t delta_new = 0, delta_new_bytes = 0;
  int64_t delta_changed = 0, delta_changed_bytes = 0;
  int64_t delta_deleted = 0, delta_deleted_bytes = 0;
  static constexpr std::array<const char*, 8> kBucketNames = {
      "0 B", "< 4 KiB", "< 64 KiB", "< 1 MiB", "< 16 MiB", "< 256 MiB", "< 4 GiB", ">= 4 GiB"};
  std::array<int64_t, 8> histogram{};  // files per size bucket
  std::vector<FolderSize> largest;     // the ten largest folders, contents included
  // Names the target cannot store, with the reason (the first 1,000; `unstorable` counts all).
  std::vector<std::pair<std::string, std::string>> unstorable_examples;
  int64_t unstorable = 0;
  std::vector<std::string> errors;  // listing errors (first 100)
  double seconds = 0;
};

struct ScanOptions {
  Filter filter;
  catalog::SymlinkPolicy symlinks = catalog::SymlinkPolicy::kSkip;
  // Metadata calls the source's listing keeps in flight (storage::ListOptions::concurrency).
  int list_concurrency = 0;
  // An object store's listing shared on the catalog: whether it is split into parts.
  Split split = Split::kAuto;
  // Called now and then with the items seen so far.
  std::function<void(int64_t items, int64_t bytes)> progress;
  // As a sync pass: copied items that changed become pending again (to replace their blob) and
  // copied items gone from the source become source-deleted.
  bool sync = false;
  // With sync: also re-read copied files whose size and mtime are unchanged and compare MD5s,
  // this many at once.
  bool checksum = false;
  int checksum_concurrency = 16;
  // Change nothing; report each change through on_change instead.
  bool dry_run = false;
  // Record under this run (a sync's) instead of starting a "scan" run of its own.
  int64_t run = 0;
  // Called for every item the scan adds, changes or marks deleted ("new", "changed",
  // "deleted", "vanished"), with the item as it would be recorded.
  std::function<void(std::string_view change, const catalog::Item& item)> on_change;
  // Set to stop: the scan records what it saw so far and returns Code::kCancelled; nothing it
  // did not reach is taken for deleted.
  const std::atomic<bool>* stop = nullptr;
  // The source was moved or restored on purpose: record its new identity (see
  // CheckSourceIdentity).
  bool accept_source_change = false;
};

// Walks `source` once, merging it with the catalog by path: new items are added (pending, or
// skipped with a reason), items not yet copied are refreshed, pending items no longer at the
// source become vanished (and, as a sync pass, changed and deleted copied items are marked; see
// ScanOptions::sync). Only a listing that shows a folder in full can say an item is gone: the
// items under a folder (or an entry) that could not be read stay as they were, counted in
// `unreadable` and `kept_unknown`. Refuses (Code::kRefused) a source that is not the one the
// migration began with (CheckSourceIdentity). Records a "scan" run and its events, unless
// dry_run. Memory does not grow with the number of items.
Result<ScanReport> Scan(catalog::Catalog& catalog, storage::Store& source,
                        const storage::Store& target, const ScanOptions& options);

int SizeBucket(uint64_t size);

// The report as one JSON document (what `scan --json` prints and the run's summary keeps), and
// its delta alone (what a sync run's summary keeps).
nlohmann::json ScanReportJson(const ScanReport& report);
nlohmann::json DeltaJson(const ScanReport& report);

// Whether a scan (or a sync's) has ever completed for the migration.
bool HasBeenScanned(catalog::Catalog& catalog);

}  // namespace ferry::migration
