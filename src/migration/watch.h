// After the cutover: watching the retired source (someone may still write to it), and the gate
// before it is decommissioned.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "migration/scan.h"
#include "storage/store.h"

namespace ferry::migration {

struct SourceChange {
  std::string change;  // "new", "changed" or "deleted"
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

struct WatchReport {
  int64_t run = 0;
  std::vector<SourceChange> changes;  // every difference from the source at the cutover
  int64_t newly_seen = 0;             // of them, not logged by an earlier pass
  // Folders the pass could not read, and the items under them it could not compare: a change
  // there goes unseen, so the source cannot be called unchanged.
  int64_t unreadable = 0, kept_unknown = 0;
  double seconds = 0;
  bool unchanged() const { return changes.empty() && unreadable == 0 && kept_unknown == 0; }
};

// Rescans the source of a cut-over migration, changing no item, and logs each difference from
// the catalog that no earlier pass logged ("source-changed" events, under a "watch-source"
// run). Code::kInvalidInput when the migration is not cut over; a source that is not
// the one the migration began with (unmounted, replaced) is Code::kRefused.
Result<WatchReport> WatchSource(catalog::Catalog& catalog, storage::Store& source,
                                const storage::Store& target, const ScanOptions& scan);

struct DecommissionReport {
  int64_t run = 0;
  bool passed = false;
  std::vector<std::string> unmet;  // every condition not met, in words
  WatchReport watch;               // the source compared once more
};

// Whether the retired source may go: the cutover is at least `min_days` old, a complete deep
// verification after it found nothing, the source has not changed since it (compared now,
// every folder read, and logged as by WatchSource), the log's chain is intact, no item is open
// and no item was skipped (those exist only at the source) unless `accept_skipped`. The
// verdict is a "decommission-check" run and event.
Result<DecommissionReport> CheckDecommission(catalog::Catalog& catalog, storage::Store& source,
                                             const storage::Store& target, const ScanOptions& scan,
                                             double min_days, bool accept_skipped, int64_t now_ns);

}  // namespace ferry::migration
