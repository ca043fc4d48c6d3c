#include "migration/target_merge.h"

#include <fmt/format.h>

#include <set>

#include "base/text.h"
#include "transfer/upload.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;
using storage::Entry;
using storage::Kind;

bool ExpectsBlob(const Item& item) {
  if (item.target_etag.empty()) return false;  // never written (or a folder with contents)
  return item.state == ItemState::kCopied || item.state == ItemState::kSourceDeleted ||
         item.state == ItemState::kPending || item.state == ItemState::kFailed ||
         item.state == ItemState::kKept;
}

bool AwaitsWrite(const Item& item) {
  return item.state == ItemState::kPending || item.state == ItemState::kFailed;
}

bool LooksWrittenByFerry(const Item& item, const Entry& blob, const std::string& owner) {
  if (transfer::IsOwnWrite(blob.metadata, owner, item.write_intent)) return true;
  auto modtime = blob.metadata.find("modtime");
  return blob.size == item.size && modtime != blob.metadata.end() &&
         modtime->second == std::to_string(item.mtime_ns);
}

bool Unowned(const Item* item) {
  if (item == nullptr) return true;
  switch (item->state) {
    case ItemState::kSkipped:
    case ItemState::kVanished:
    case ItemState::kDeleted:
      return true;
    default:
      return false;  // pending and failed items meet it when copied; conflicts are known
  }
}

std::string DescribeDrift(const Item& item, const Entry& blob) {
  return fmt::format(
      "ferry wrote size {}, modified {}, ETag {}; the target holds size {}, "
      "written {}, ETag {}",
      item.size, IsoTime(item.mtime_ns), item.target_etag, blob.size, IsoTime(blob.mtime_ns),
      blob.etag);
}

Status TargetMerge::Run(catalog::Catalog& catalog, storage::Store& target,
                        storage::ListOptions listing, const OnBoth& both,
                        const OnItemOnly& item_only, const OnBlobOnly& blob_only) {
  Result<catalog::ItemCursor> cursor = catalog.Items();
  if (!cursor.ok()) return cursor.status();
  Result<std::unique_ptr<storage::Lister>> lister = target.List("", listing);
  if (!lister.ok()) return lister.status();
  std::unique_ptr<storage::Lister> ordered = storage::InByteOrder(std::move(*lister), "the target");
  return Run(catalog, *cursor, *ordered, "", both, item_only, blob_only, nullptr);
}

Status TargetMerge::Run(catalog::Catalog& catalog, catalog::ItemCursor& items,
                        storage::Lister& blobs, const std::string& skip_to, const OnBoth& both,
                        const OnItemOnly& item_only, const OnBlobOnly& blob_only,
                        const AfterEach& after_each) {
  // Blobs ferry itself keeps beside the migration: probes, and what trials wrote (until
  // cleaned up). A folder holds no bytes of its own: what is in it is compared instead.
  std::set<std::string> trial_blobs;
  Result<std::vector<catalog::TrialBlob>> trials = catalog.TrialBlobs();
  if (!trials.ok()) return trials.status();
  for (auto& b : *trials) trial_blobs.insert(std::move(b.path));
  auto ours = [&](const Entry& blob) {
    return blob.kind == Kind::kFolder || blob.path.starts_with(storage::kProbePrefix) ||
           trial_blobs.contains(blob.path);
  };
  Item item;
  Entry blob;
  // The next of each side past `skip_to`.
  auto next_item = [&]() -> Result<bool> {
    while (true) {
      Result<bool> more = items.Next(item);
      if (!more.ok() || !*more || skip_to.empty() || item.path > skip_to) return more;
    }
  };
  auto next_blob = [&]() -> Result<bool> {
    while (true) {
      Result<bool> more = blobs.Next(blob);
      if (!more.ok() || !*more || skip_to.empty() || blob.path > skip_to) return more;
    }
  };
  Result<bool> has_item = next_item();
  if (!has_item.ok()) return has_item.status();
  Result<bool> has_blob = next_blob();
  if (!has_blob.ok()) return has_blob.status();
  while (*has_item || *has_blob) {
    int order = !*has_item ? 1 : !*has_blob ? -1 : item.path.compare(blob.path);
    if (order == 0) {
      FERRY_RETURN_IF_ERROR(both(item, blob));
    } else if (order < 0) {
      FERRY_RETURN_IF_ERROR(item_only(item));
    } else if (!ours(blob)) {
      FERRY_RETURN_IF_ERROR(blob_only(blob));
    }
    if (after_each) FERRY_RETURN_IF_ERROR(after_each(order <= 0 ? item.path : blob.path));
    if (order <= 0) {
      has_item = next_item();
      if (!has_item.ok()) return has_item.status();
    }
    if (order >= 0) {
      has_blob = next_blob();
      if (!has_blob.ok()) return has_blob.status();
    }
  }
  return Status::Ok();
}

}  // namespace ferry::migration
