// How a listing of an object store is split among processes that share it (a sync's drift check
// of its target, a scan's listing of its source): by prefix, as storage::PlanListing splits a
// listing among streams, with what is worth a part of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "storage/store.h"

namespace ferry::migration {

// A shared listing's plan: the prefixes to hand out as parts ("dir/", in byte order, none inside
// another), and the entries of the levels above them (in byte order). Together they are the
// whole listing, each path in one of them.
struct SharedPlan {
  std::vector<std::string> prefixes;
  std::vector<storage::Entry> entries;
};

// Whether `prefixes` can be parts: each a folder ("dir/"), in byte order, none inside another.
bool Disjoint(const std::vector<std::string>& prefixes);

// The plan of the listing of `store`: as storage::PlanListing splits it (aiming at 64 parts),
// or by the root's folders when it lists the root flat (more than a page, or more than 1,000
// folders), entries listed `metadata` or not. Nullopt when it is not worth splitting: fewer
// than two parts; a root whose own entries are more than 50,000; a listing not in byte order;
// or more than 64 parts that are small on average: fewer than 1,000 items each
// (a part costs a few round trips to the database and a request: small folders cost more than
// a page of the whole listing would). The items are counted in `catalog` only then; where it
// knows none yet (a first scan), up to 1,000 parts are taken, as many as a level listing names.
Result<std::optional<SharedPlan>> PlanSharedListing(storage::Store& store, bool metadata,
                                                    catalog::Catalog& catalog);

// The paths under `prefix` ("dir/") all come before this one ("dir0").
std::string PrefixEnd(std::string prefix);

}  // namespace ferry::migration
