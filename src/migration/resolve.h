// The operator's explicit decisions about open problems, each recorded in the log.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "catalog/catalog.h"
#include "storage/store.h"

namespace ferry::migration {

// Settles the conflicts whose path is one of `patterns` (a path, or a glob as --include takes)
// in favour of what the target holds now: the item becomes `kept` with the blob's current ETag
// (none if the blob was deleted), so later passes leave that blob alone until it changes again
// or the source file does. Each decision is logged with who made it, under a "resolve" run.
// Refuses (Code::kInvalidInput, nothing changed) a pattern that matches no conflict. Returns
// the paths resolved.
Result<std::vector<std::string>> KeepTarget(catalog::Catalog& catalog, storage::Store& target,
                                            const std::vector<std::string>& patterns);

}  // namespace ferry::migration
