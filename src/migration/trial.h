// The trial migration: copy a representative sample to a trial prefix, measure, project.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "storage/store.h"
#include "transfer/engine.h"
#include "transfer/upload.h"

namespace ferry::migration {

struct TrialOptions {
  std::optional<int64_t> count;   // a sample of about N files, or
  std::optional<double> percent;  // P% of each stratum
  uint64_t seed = 1;
  transfer::EngineOptions engine;  // streams, memory, which files go in blocks
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

// Refuses (Code::kInvalidInput, with what to change) a trial prefix that is not ferry's alone:
// one with an empty, "." or ".." part, a leading or trailing '/' or a '\\'; one that is, holds
// or lies under an item of the migration; and, unless `cleanup_only`, one under which `target`
// holds a blob that no trial of this migration wrote (or that changed since).
Status CheckTrialPrefix(catalog::Catalog& catalog, storage::Store& target,
                        const std::string& prefix, bool cleanup_only);

// Picks the sample (stratified by size bucket and top-level folder, each stratum's items chosen by
// a seeded hash, so a seed gives the same sample), copies it into `trial` (a store at `prefix`
// under the target): create-only, or over a blob an earlier trial wrote there if it is still
// that blob (If-Match); records each blob written, checks each blob's size and MD5, and projects
// the full copy: small files (< 1 MiB) scale with their count, larger ones with their bytes.
// Recorded as a "trial" run; no item of the migration changes state.
// REQUIRES: CheckTrialPrefix(catalog, target, prefix, false) is OK.
Result<TrialReport> Trial(catalog::Catalog& catalog, storage::Store& source, storage::Store& trial,
                          const std::string& prefix, const TrialOptions& options);

struct CleanupReport {
  int64_t deleted = 0;
  std::vector<std::string> changed;  // written by a trial, changed since by someone: left alone
};

// Deletes the blobs trials wrote under `prefix` (in `trial`, the store at that prefix), each only
// while it is the blob the trial wrote (If-Match on its recorded ETag), and then the folders a
// file-system target is left with, if empty. Nothing else under the prefix is touched.
Result<CleanupReport> CleanupTrial(catalog::Catalog& catalog, storage::Store& trial,
                                   const std::string& prefix);

}  // namespace ferry::migration
