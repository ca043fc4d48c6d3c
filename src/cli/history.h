// The migration's history as status and report show it: one JSON shape per run and per sync
// pass, so both commands (and their --json) agree.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "catalog/catalog.h"

namespace ferry::cli {

// {"run", "stage", "started", "seconds", "outcome", "files", "bytes", "failed",
//  "bytes_per_second"}; seconds is 0 for a run that has not ended, and the rate is 0 for stages
// that move no data.
nlohmann::json RunJson(const catalog::Run& run);

// The items in one state: {"files", "folders", "links", "specials", "items" (all of them),
// "bytes"}. People are shown files, with folders and links apart.
nlohmann::json TotalsJson(const catalog::StateTotals& totals);

// The hooks the last cutover attempt ran ({"run", "hooks": [HookResult::Json()...]}), or null
// when no cutover ran any.
nlohmann::json LastCutoverHooks(catalog::Catalog& catalog, const std::vector<catalog::Run>& runs);

// The delta of each sync pass ({"run", "started", "new", "new_bytes", "changed", ...}), oldest
// first, to see whether the passes converge toward zero.
nlohmann::json SyncPasses(const std::vector<catalog::Run>& runs);

}  // namespace ferry::cli
