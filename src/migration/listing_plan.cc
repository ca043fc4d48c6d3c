#include "migration/listing_plan.h"

#include <cstdint>

#include "base/task_pool.h"
#include "storage/split_list.h"

namespace ferry::migration {

using storage::Entry;

namespace {

constexpr size_t kParts = 64;              // the prefixes a plan aims at
constexpr int kPlanRequests = 8;           // level listings in flight while planning
constexpr size_t kMaxRootEntries = 50000;  // a root level's own entries held
constexpr int64_t kPageItems = 5000;       // an Azure listing page
constexpr size_t kMaxUnknownParts = 1000;  // parts taken when no item is known
constexpr int64_t kFewestItems = 1000;     // beyond kParts parts, the fewest items a part holds
constexpr int64_t kCountedParts = 16;      // a plan counts the catalog's items up to so many parts

// The fewest items a part holds on average for the split to pay off even for a process left
// alone with it. Listing parts several at once, a page: it reads them side by side where one
// flat listing reads its pages one after another. One at a time, four pages: it gains only from
// helpers, and each part costs it a last page that is not full and a few round trips to the
// catalog, an eighth more requests at most.
int64_t ItemsPerPart(int parts_at_once) { return parts_at_once > 1 ? kPageItems : 4 * kPageItems; }

// The root level whole, page after page, its folders the parts: for a root storage::PlanListing
// lists flat (more than a page, or more than 1,000 folders). Nullopt when its own entries are too
// many to hold, or its folders more than `most`.
Result<std::optional<SharedPlan>> PlanRoot(storage::Store& store, bool metadata, size_t most) {
  SharedPlan plan;
  std::string marker;
  do {
    Result<storage::LevelPage> page =
        store.ListLevel("", marker, storage::ListOptions{.metadata = metadata});
    if (!page.ok()) return page.status();
    if (!page->unlisted.empty()) {
      return Status(Code::kIo, "cannot list '" + page->unlisted.front().first +
                                   "': " + page->unlisted.front().second);
    }
    if (plan.entries.size() + page->entries.size() > kMaxRootEntries) {
      return std::optional<SharedPlan>();
    }
    for (Entry& e : page->entries) plan.entries.push_back(std::move(e));
    for (std::string& p : page->prefixes) {
      // A server may name a folder again at the top of the next page.
      if (plan.prefixes.empty() || p != plan.prefixes.back()) plan.prefixes.push_back(std::move(p));
    }
    if (plan.prefixes.size() > most) return std::optional<SharedPlan>();
    marker = std::move(page->next);
  } while (!marker.empty());
  return std::optional<SharedPlan>(std::move(plan));
}

}  // namespace

bool Disjoint(const std::vector<std::string>& prefixes) {
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (prefixes[i].empty() || prefixes[i].back() != '/') return false;
    if (i > 0 && (prefixes[i] <= prefixes[i - 1] || prefixes[i].starts_with(prefixes[i - 1]))) {
      return false;
    }
  }
  return true;
}

std::string PrefixEnd(std::string prefix) {
  prefix.back() = char(prefix.back() + 1);
  return prefix;
}

Result<std::optional<SharedPlan>> PlanSharedListing(storage::Store& store, bool metadata,
                                                    catalog::Catalog& catalog, int parts_at_once,
                                                    Split split) {
  if (split == Split::kNever) return std::optional<SharedPlan>();
  // The fewest items a part holds on average: any part beyond kParts; every part in auto.
  const int64_t per_part = split == Split::kAuto ? ItemsPerPart(parts_at_once) : kFewestItems;
  // The catalog's items, all of them where fewer than `counted`.
  const int64_t counted = kCountedParts * per_part;
  Result<int64_t> known = catalog.CountItemsUpTo(counted);
  if (!known.ok()) return known.status();
  if (split == Split::kAuto && *known > 0 && *known < 2 * per_part) {
    return std::optional<SharedPlan>();  // not worth a plan
  }
  // In auto, the most parts the items can fill: a plan stops as soon as the folders of a level
  // (those not read yet too) are more, rather than read a page of each to learn that some hold
  // only a few blobs each; they are taken to be as full as the others.
  size_t most = SIZE_MAX;
  if (*known == 0) {
    most = kMaxUnknownParts;
  } else if (split == Split::kAuto && *known < counted) {
    most = size_t(*known / per_part);
  }
  std::vector<storage::PlannedPart> parts;
  {
    TaskPool pool(kPlanRequests);
    Result<std::optional<std::vector<storage::PlannedPart>>> planned =
        storage::PlanListing(store, "", metadata, kParts, most, pool);
    if (!planned.ok()) return planned.status();
    if (!*planned) return std::optional<SharedPlan>();
    parts = std::move(**planned);
  }
  std::optional<SharedPlan> plan(std::in_place);
  for (storage::PlannedPart& part : parts) {
    if (part.flat && part.prefix.empty()) {
      Result<std::optional<SharedPlan>> root = PlanRoot(store, metadata, most);
      if (!root.ok()) return root.status();
      plan = std::move(root).value();
      break;
    }
    if (part.flat) plan->prefixes.push_back(std::move(part.prefix));
    for (Entry& e : part.entries) plan->entries.push_back(std::move(e));
  }
  if (!plan || plan->prefixes.size() < 2 || !Disjoint(plan->prefixes)) {
    return std::optional<SharedPlan>();
  }
  for (size_t i = 1; i < plan->entries.size(); ++i) {
    if (plan->entries[i].path <= plan->entries[i - 1].path) return std::optional<SharedPlan>();
  }
  const int64_t shares = int64_t(plan->prefixes.size());
  if (*known == 0) {
    if (shares > int64_t(kMaxUnknownParts)) return std::optional<SharedPlan>();
  } else if (split == Split::kAuto || shares > int64_t(kParts)) {
    // The items in the parts: the catalog's, less those of the levels above them.
    const int64_t levels = int64_t(plan->entries.size());
    int64_t items = *known;
    if (items >= counted && items < levels + shares * per_part) {
      Result<int64_t> more = catalog.CountItemsUpTo(levels + shares * per_part);
      if (!more.ok()) return more.status();
      items = *more;
    }
    if (items - levels < shares * per_part) return std::optional<SharedPlan>();
  }
  return plan;
}

}  // namespace ferry::migration
