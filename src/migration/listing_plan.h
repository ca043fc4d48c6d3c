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

// Whether a listing shared on the catalog is split into parts for other processes to help with.
enum class Split {
  kAuto,    // where it pays off even for a process left alone with it (PlanSharedListing)
  kAlways,  // wherever the plan makes parts: the processes started with it will help
  kNever,   // it is listed by one process
};

// The plan of the listing of `store`: as storage::PlanListing splits it (aiming at 64 parts),
// or by the root's folders when it lists the root flat (more than a page, or more than 1,000
// folders), entries listed `metadata` or not. Nullopt when it is not worth splitting:
// fewer than two parts; a root whose own entries are more than 50,000; a listing not in byte
// order; more than 64 parts of fewer than 1,000 items each by the items in `catalog` (a part
// costs a few round trips to the catalog and a request); where the catalog knows no item yet (a
// first scan), more than 1,000 parts. With `split` kAuto, also parts too small for a process
// left alone with them, by the items in `catalog` (less those of the plan's levels): fewer than
// 5,000 each on average (a page) where it lists `parts_at_once` above 1, fewer than 20,000 where
// it lists one at a time (it gains only from helpers, and each part costs it a last page not full
// and round trips to the catalog); a catalog with too few items for two such parts is not planned
// at all, and a plan stops as soon as it has more folders (read or not) than the items can fill,
// where the catalog holds fewer than 16 parts' worth (the folders not read: some may hold only a
// few entries, but they are taken to be as full as the others). With kNever, always nullopt.
Result<std::optional<SharedPlan>> PlanSharedListing(storage::Store& store, bool metadata,
                                                    catalog::Catalog& catalog, int parts_at_once,
                                                    Split split);

// The paths under `prefix` ("dir/") all come before this one ("dir0").
std::string PrefixEnd(std::string prefix);

}  // namespace ferry::migration
