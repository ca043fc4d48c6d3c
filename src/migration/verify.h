// Validation: compare the target with the catalog (and, deep, with the source bytes), and the
// drift check that sync runs: blobs changed, deleted or created by someone else.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "catalog/catalog.h"
#include "migration/safety.h"
#include "storage/store.h"

namespace ferry::migration {

struct Finding {
  enum class Kind {
    kMissing,        // ferry wrote it; it is gone
    kChanged,        // its ETag is not the one ferry recorded: someone else wrote it
    kWrongSize,      // size differs from the catalog
    kWrongMd5,       // Content-MD5 (or, deep, the bytes) differ from the catalog's MD5
    kWrongMetadata,  // modtime or permissions differ
    kSourceChanged,  // deep: the source bytes no longer match the catalog's MD5
    kUnexpected,     // a blob ferry never wrote
  };
  Kind kind;
  std::string path;
  std::string detail;
};
std::string_view FindingName(Finding::Kind kind);

struct VerifyOptions {
  bool deep = false;
  // Deep only: check a sample instead of every copied file. Seeded and reproducible.
  std::optional<int64_t> sample_count;
  std::optional<double> sample_percent;
  uint64_t seed = 1;
  // Deep only: files re-read at once (each read is a round trip on a share or to Azure).
  int read_concurrency = 16;
  std::function<void(const Finding&)> on_finding;
  std::function<void(int64_t checked)> progress;
};

struct VerifyReport {
  int64_t run = 0;
  int64_t checked = 0;          // items whose blob was compared
  int64_t checked_folders = 0;  // of them, empty folders' markers
  int64_t ok = 0;
  int64_t mismatches = 0;  // findings of every kind
  int64_t unexpected = 0;
  int64_t deep_checked = 0;
  uint64_t seed = 0;
  // Items not in the target as the source has them (conflicts, failures, pending): the target
  // cannot be called verified while any is open.
  OpenProblems open;
  double seconds = 0;
};

// Quick verify: one streamed listing of the target against the catalog: every copied item's
// blob exists with the recorded size, Content-MD5, ETag and metadata, and no blob is unexpected.
// Deep verify then re-reads the target and source bytes of the copied files (or a sample) and
// compares their MD5 with the catalog's. Records a "verify" run and each item's result.
Result<VerifyReport> Verify(catalog::Catalog& catalog, storage::Store& source,
                            storage::Store& target, const VerifyOptions& options);

}  // namespace ferry::migration
