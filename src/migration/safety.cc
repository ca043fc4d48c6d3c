#include "migration/safety.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;

namespace {

constexpr const char* kIdentityMeta = "source_identity";

nlohmann::json IdentityJson(const storage::RootIdentity& id) {
  return {{"filesystem", id.filesystem},
          {"root_inode", id.root_inode},
          {"mount_point", id.mount_point}};
}

storage::RootIdentity IdentityFromJson(const nlohmann::json& j) {
  storage::RootIdentity id;
  id.filesystem = j.value("filesystem", "");
  id.root_inode = j.value("root_inode", uint64_t(0));
  id.mount_point = j.value("mount_point", false);
  return id;
}

// SMB clients may number inodes themselves (noserverino), differently at each mount.
bool StableInodes(const std::string& filesystem) {
  return filesystem != "cifs" && filesystem != "smb2";
}

// Object stores name their kind ("s3", "azure-blob") where a folder names its file system.
bool ObjectStore(const std::string& filesystem) {
  return filesystem == "s3" || filesystem == "azure-blob";
}

Status Refused(std::string message) { return Status(Code::kRefused, std::move(message)); }

}  // namespace

std::optional<std::string> IdentityProblem(const storage::RootIdentity& recorded,
                                           const storage::RootIdentity& now, int64_t known_items) {
  if (ObjectStore(now.filesystem)) {
    // A bucket or container has no mount to lose; what it can lose is every object.
    if (now.empty && known_items > 0) {
      return fmt::format(
          "the source holds nothing now (emptied, or the endpoint names another service), and "
          "the catalog knows {} items from it",
          known_items);
    }
    return std::nullopt;
  }
  if (recorded.mount_point && !now.mount_point) {
    return fmt::format(
        "the source looks unmounted: it was a mount point ({}) when the migration began and is "
        "not one now",
        recorded.filesystem);
  }
  if (recorded.filesystem != now.filesystem) {
    return fmt::format(
        "the source looks unmounted or replaced: it is on a {} file system now, on {} when the "
        "migration began",
        now.filesystem, recorded.filesystem);
  }
  if (now.empty && known_items > 0) {
    return fmt::format(
        "the source looks unmounted: it is empty, and the catalog knows {} items from it",
        known_items);
  }
  if (StableInodes(now.filesystem) && recorded.root_inode != now.root_inode) {
    return "the source folder is not the one the migration began with (it was replaced, or "
           "another share is mounted there)";
  }
  return std::nullopt;
}

Status RecordSourceIdentity(catalog::Catalog& catalog, storage::Store& source) {
  Result<storage::RootIdentity> now = source.Identify();
  if (!now.ok()) return now.status();
  return catalog.SetMeta(kIdentityMeta, JsonText(IdentityJson(*now)));
}

Status CheckSourceIdentity(catalog::Catalog& catalog, storage::Store& source, bool accept_change,
                           int64_t run, bool dry_run) {
  Result<storage::RootIdentity> now = source.Identify();
  if (!now.ok()) return now.status();
  int64_t known = 0;
  for (ItemState state : {ItemState::kCopied, ItemState::kPending, ItemState::kKept}) {
    Result<int64_t> n = catalog.CountItems(state);
    if (!n.ok()) return n.status();
    known += *n;
  }
  Result<std::string> text = catalog.GetMeta(kIdentityMeta);
  if (!text.ok() && text.status().code() != Code::kNotFound) return text.status();
  // A migration begun before identities were recorded: the source as it is now, if not empty.
  storage::RootIdentity recorded = *now;
  if (text.ok()) {
    auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return Status(Code::kInternal, "the recorded source identity is unreadable");
    }
    recorded = IdentityFromJson(json);
  }
  std::optional<std::string> problem = IdentityProblem(recorded, *now, known);
  if (!problem && !text.ok() && !dry_run) {
    return catalog.SetMeta(kIdentityMeta, JsonText(IdentityJson(*now)));
  }
  if (!problem) return Status::Ok();
  const std::string source_name = catalog.config().source;
  if (!accept_change || (now->empty && known > 0)) {
    return Refused(fmt::format(
        "{} ({}); nothing was changed. {}{}", *problem, source_name,
        ObjectStore(now->filesystem) ? "Check the source's endpoint and credentials and run again"
                                     : "Mount the share and run again",
        now->empty ? "" : ", or pass --accept-source-change if it moved on purpose"));
  }
  if (dry_run) return Status::Ok();
  FERRY_RETURN_IF_ERROR(catalog.SetMeta(kIdentityMeta, JsonText(IdentityJson(*now))));
  return catalog.AppendEvent(run, "", "source-identity-accepted",
                             JsonText(nlohmann::json{{"problem", *problem},
                                                     {"before", IdentityJson(recorded)},
                                                     {"now", IdentityJson(*now)},
                                                     {"by", Operator()}}));
}

Result<DeleteBudget> DeleteBudget::Parse(const std::string& text) {
  auto invalid = [&] {
    return Status(Code::kInvalidInput,
                  fmt::format("--max-delete '{}': give a count (500) or a percentage (10%)", text));
  };
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return invalid();
  char* end = nullptr;
  DeleteBudget budget;
  if (text.back() == '%') {
    std::string number = text.substr(0, text.size() - 1);
    double p = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !std::isfinite(p) || p < 0 || p > 100) return invalid();
    budget.percent = p;
    return budget;
  }
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || n < 0) return invalid();
  budget.count = n;
  return budget;
}

std::string DeleteBudget::ToString() const {
  return count ? std::to_string(*count) : fmt::format("{:g}%", percent);
}

int64_t DeleteBudget::Allowed(int64_t with_blob) const {
  if (count) return *count;
  return int64_t(std::floor(double(with_blob) * percent / 100.0 + 1e-9));
}

std::optional<std::string> DeletionRefusal(int64_t to_delete, int64_t with_blob,
                                           const DeleteBudget& budget) {
  if (to_delete <= budget.Allowed(with_blob)) return std::nullopt;
  return fmt::format(
      "this pass would delete {} blobs, {:.0f}% of the {} items in the target, more than the "
      "deletion budget allows ({}); nothing was deleted. Check that the source is complete, then "
      "rerun with --max-delete {} to allow it",
      to_delete, with_blob ? 100.0 * double(to_delete) / double(with_blob) : 100.0, with_blob,
      budget.ToString(), to_delete);
}

bool IsBlockingProblem(const Item& item) {
  switch (item.state) {
    case ItemState::kConflict:
    case ItemState::kFailed:
    case ItemState::kPending:
      return true;
    case ItemState::kVanished:
      return item.cause == kCauseVanishedInFlight;
    default:
      return false;
  }
}

Result<OpenProblems> CountOpenProblems(catalog::Catalog& catalog) {
  OpenProblems open;
  Result<std::vector<catalog::StateTotals>> totals = catalog.Totals();
  if (!totals.ok()) return totals.status();
  for (const auto& t : *totals) {
    switch (t.state) {
      case ItemState::kConflict:
        open.conflicts = t.items;
        break;
      case ItemState::kFailed:
        open.failed = t.items;
        break;
      case ItemState::kPending:
        open.pending = t.items;
        break;
      case ItemState::kSkipped:
        open.skipped = t.items;
        break;
      default:
        break;
    }
  }
  Result<int64_t> vanished = catalog.CountItems(ItemState::kVanished, kCauseVanishedInFlight);
  if (!vanished.ok()) return vanished.status();
  open.vanished = *vanished;
  return open;
}

Result<std::vector<Item>> OpenProblemItems(catalog::Catalog& catalog, size_t limit,
                                           bool with_skipped) {
  std::vector<ItemState> states{ItemState::kConflict, ItemState::kFailed, ItemState::kPending,
                                ItemState::kVanished};
  if (with_skipped) states.push_back(ItemState::kSkipped);
  Result<catalog::ItemCursor> cursor = catalog.Items(states);
  if (!cursor.ok()) return cursor.status();
  std::vector<Item> items;
  Item item;
  while (items.size() < limit) {
    Result<bool> more = cursor->Next(item);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (IsBlockingProblem(item) || item.state == ItemState::kSkipped) items.push_back(item);
  }
  return items;
}

std::string Operator() {
  std::string user;
  if (const char* name = std::getenv("USER"); name != nullptr && *name != '\0') {
    user = name;
  } else if (const struct passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) {
    user = pw->pw_name;
  } else {
    user = fmt::format("uid {}", ::geteuid());
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return host[0] ? user + "@" + host : user;
}

}  // namespace ferry::migration
