// A listing of an object store split by prefix across parallel streams (asked for with
// storage::ListOptions::concurrency above 1). A container of 100 million blobs is 20,000 pages,
// an hour read one after another; split at its folders ('/' prefixes), the pages of different
// folders are read at once and handed out in order.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.h"

namespace ferry {
class TaskPool;
}

namespace ferry::storage {

// A part of a planned listing: the entries a level listing returned, or a prefix to list flat.
struct PlannedPart {
  bool flat = false;
  std::string prefix;          // flat: every path under it
  std::vector<Entry> entries;  // not flat: in byte order
};

// How SplitListing splits the listing of `prefix` ("" or ending in '/'): its levels listed with
// '/' as the delimiter, breadth first (on `pool`), until there are `enough` prefixes to list flat
// or the rules below stop it; the parts in byte order, together the whole listing. A part whose
// prefix is `prefix` itself means the listing was not split. Entries of the levels are listed
// `metadata` or not. Nullopt when the plan would list more than `most` prefixes flat: it stops as
// soon as its levels still to read and its prefixes to list flat are more (a level may yet turn
// out to be only entries, but a caller that can afford `most` parts would rather not read it to
// learn so).
Result<std::optional<std::vector<PlannedPart>>> PlanListing(Store& store, const std::string& prefix,
                                                            bool metadata, size_t enough,
                                                            size_t most, TaskPool& pool);

// The store's listing under `prefix` ("" or ending in '/'), the same entries in the same order,
// read by up to `streams` parallel requests. `flat` is the store's own (flat) listing of the
// prefix: when its first page is its last, it is all there is and nothing is split (a small
// container costs one request, as before). Otherwise the levels of the prefix are listed with
// '/' as the delimiter (Store::ListLevel), breadth first, up to a few levels deep, until there
// are enough sub-prefixes to keep the streams busy; each sub-prefix is then listed flat on its
// own stream (Store::List with a concurrency of 1), a few pages ahead of the reader at most, and
// the entries of the levels and of the sub-prefixes are handed out in byte order. A level that
// is more than one page (below the prefix, a page of 1,000 results: a folder read only to learn
// that it is big costs the service little), or has more than 1,000 sub-prefixes (folders so
// small that a request each costs more than it saves), is listed flat instead, and a deeper level
// is not split when it would make more than 8 parts a stream. Where the store lists after a given
// path (Store::ListsAfter, S3), the sub-prefixes only mark where each stream starts, and each lists
// up to where the next starts (paths a level listing left out are still listed), checking that
// what it lists ascends and that what follows its end does not go back into it. Any error ends
// the listing.
// REQUIRES: store.ListLevel is supported; `streams` > 1.
std::unique_ptr<Lister> SplitListing(Store& store, std::string prefix, ListOptions options,
                                     int streams, std::unique_ptr<Lister> flat);

}  // namespace ferry::storage
