// The trial migration: copy a representative sample to a trial prefix, measure, project.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "catalog/catalog.h"
#include "storage/store.h"
#include "transfer/upload.h"

namespace ferry::migration {

struct TrialOptions {
  std::optional<int64_t> count;   // a sample of about N files, or
  std::optional<double> percent;  // P% of each stratum
  uint64_t seed = 1;
  int concurrency = 16;
  uint64_t max_memory = 512ull << 20;  // bytes held in transfer buffers at once
  transfer::UploadOptions upload;
};

struct TrialReport {
  int64_t run = 0;
  uint64_t seed = 0;
  int64_t strata = 0, strata_sampled = 0;  // (size bucket, top-level folder) pairs
  int64_t buckets_present = 0, buckets_sampled = 0;
  int64_t folders_present = 0, folders_sampled = 0;
  int64_t files = 0, bytes = 0;  // the sample
  int64_t copied = 0, failed = 0, verified = 0, mismatches = 0;
  std::map<std::string, int64_t> errors_by_cause;
  int64_t unstorable = 0;  // names in the catalog the target cannot store
  double seconds = 0;
  double files_per_second = 0, bytes_per_second = 0;
  int64_t total_files = 0, total_bytes = 0;  // what the full copy moves
  double projected_seconds = 0;
};

// Picks the sample (stratified by size bucket and top-level folder, each stratum's items chosen by
// a seeded hash, so a seed gives the same sample), copies it into `trial` (a store at the trial
// prefix) overwriting earlier trial blobs, checks each blob's size and MD5, and projects the full
// copy: small files (< 1 MiB) scale with their count, larger ones with their bytes. Recorded as
// a "trial" run; no item of the migration changes state.
Result<TrialReport> Trial(catalog::Catalog& catalog, storage::Store& source, storage::Store& trial,
                          const TrialOptions& options);

// Deletes every blob under the trial store; returns how many.
Result<int64_t> CleanupTrial(storage::Store& trial);

}  // namespace ferry::migration
