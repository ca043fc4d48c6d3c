// What validation and the drift check share: the catalog and a target listing walked together
// by path, and how an item's blob is judged.
#pragma once

#include <functional>
#include <string>

#include "catalog/catalog.h"
#include "storage/store.h"

namespace ferry::migration {

// Whether the target should hold a blob ferry wrote for this item, with its recorded ETag.
bool ExpectsBlob(const catalog::Item& item);
// Whether the item waits to be written (pending or failed).
bool AwaitsWrite(const catalog::Item& item);
// The blob carries the item's current size and modtime, as ferry writes them, or the mark of
// the write this item's last copy began (its intent, still recorded because a crash came before
// the outcome): ferry wrote it, for this item.
bool LooksWrittenByFerry(const catalog::Item& item, const storage::Entry& blob,
                         const std::string& owner);
// A blob under a name ferry does not own: someone else's (`item` null: no item has the name).
bool Unowned(const catalog::Item* item);
// Both sides of a drift: what ferry recorded (the source file) and what the target holds now.
std::string DescribeDrift(const catalog::Item& item, const storage::Entry& blob);

// Walks the catalog and a target listing together, by path.
class TargetMerge {
 public:
  using OnBoth = std::function<Status(catalog::Item&, const storage::Entry&)>;
  using OnItemOnly = std::function<Status(catalog::Item&)>;
  using OnBlobOnly = std::function<Status(const storage::Entry&)>;
  // After each path handled: every path up to it, on both sides, is.
  using AfterEach = std::function<Status(const std::string& path)>;

  // Every item against the target's whole listing (`listing`).
  static Status Run(catalog::Catalog& catalog, storage::Store& target, storage::ListOptions listing,
                    const OnBoth& both, const OnItemOnly& item_only, const OnBlobOnly& blob_only);
  // The items of `items` against the blobs of `blobs` (both in byte order), leaving out the
  // paths up to `skip_to` ("": none) and the blobs ferry keeps beside the migration (probes,
  // trials' blobs, folders).
  static Status Run(catalog::Catalog& catalog, catalog::ItemCursor& items, storage::Lister& blobs,
                    const std::string& skip_to, const OnBoth& both, const OnItemOnly& item_only,
                    const OnBlobOnly& blob_only, const AfterEach& after_each);
};

}  // namespace ferry::migration
