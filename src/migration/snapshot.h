// Listings of the source kept in a file, so that the cutover can prove the source did not
// change between two moments without holding a listing in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "migration/filter.h"
#include "storage/store.h"

namespace ferry::migration {

struct SnapshotDiff {
  int64_t changes = 0;             // paths added, removed or changed
  std::vector<std::string> paths;  // the first of them
  int64_t listed_ns = 0;           // when the new listing ended (Unix time)
};

// Lists the items of `source` that `filter` takes into the file `out` (replaced if there):
// path, kind, size, mtime, change time, inode and mode of each. With `before` (a file an
// earlier call wrote), compares the two in the same pass: a path added, removed, or with any
// of those fields changed is a change; the first `max_listed` are named. Memory does not grow
// with the tree; `list_concurrency` as storage::ListOptions::concurrency. Refuses (Code::kRefused)
// when any folder or entry cannot be read: a listing with holes proves nothing.
Result<SnapshotDiff> ListSnapshot(storage::Store& source, const Filter& filter,
                                  const std::string& out, const std::string& before = "",
                                  size_t max_listed = 100, int list_concurrency = 0);

}  // namespace ferry::migration
