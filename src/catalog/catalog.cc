#include "catalog/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "catalog/postgres_catalog.h"
#include "catalog/sqlite_catalog.h"

namespace ferry::catalog {

std::string_view Name(SymlinkPolicy policy) {
  switch (policy) {
    case SymlinkPolicy::kSkip:
      return "skip";
    case SymlinkPolicy::kFollow:
      return "follow";
    case SymlinkPolicy::kKeep:
      return "keep";
  }
  return "skip";
}

std::string_view Name(DeleteMode mode) {
  return mode == DeleteMode::kMirror ? "mirror" : "additive";
}

std::string_view Name(Stage stage) {
  switch (stage) {
    case Stage::kInit:
      return "init";
    case Stage::kScan:
      return "scan";
    case Stage::kTrial:
      return "trial";
    case Stage::kCopy:
      return "copy";
    case Stage::kSync:
      return "sync";
    case Stage::kVerify:
      return "verify";
    case Stage::kVerifyDeep:
      return "verify-deep";
    case Stage::kCutover:
      return "cutover";
    case Stage::kResolve:
      return "resolve";
    case Stage::kWatchSource:
      return "watch-source";
    case Stage::kDecommissionCheck:
      return "decommission-check";
    case Stage::kAuditTarget:
      return "audit-target";
  }
  return "unknown";
}

std::optional<Stage> StageNamed(std::string_view name) {
  for (Stage stage : kStages) {
    if (Name(stage) == name) return stage;
  }
  return std::nullopt;
}

std::optional<SymlinkPolicy> SymlinkPolicyNamed(std::string_view name) {
  for (auto p : {SymlinkPolicy::kSkip, SymlinkPolicy::kFollow, SymlinkPolicy::kKeep}) {
    if (Name(p) == name) return p;
  }
  return std::nullopt;
}

std::optional<DeleteMode> DeleteModeNamed(std::string_view name) {
  for (auto m : {DeleteMode::kAdditive, DeleteMode::kMirror}) {
    if (Name(m) == name) return m;
  }
  return std::nullopt;
}

std::string_view StateName(ItemState state) {
  switch (state) {
    case ItemState::kPending:
      return "pending";
    case ItemState::kCopied:
      return "copied";
    case ItemState::kFailed:
      return "failed";
    case ItemState::kSkipped:
      return "skipped";
    case ItemState::kConflict:
      return "conflict";
    case ItemState::kVanished:
      return "vanished";
    case ItemState::kSourceDeleted:
      return "source-deleted";
    case ItemState::kDeleted:
      return "deleted";
    case ItemState::kKept:
      return "kept";
  }
  return "pending";
}

std::optional<ItemState> StateFromName(std::string_view name) {
  for (auto s : {ItemState::kPending, ItemState::kCopied, ItemState::kFailed, ItemState::kSkipped,
                 ItemState::kConflict, ItemState::kVanished, ItemState::kSourceDeleted,
                 ItemState::kDeleted, ItemState::kKept}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

nlohmann::json ConfigToJson(const Config& c) {
  return {{"id", c.id},
          {"source", c.source},
          {"target", c.target},
          {"target_sas", c.target_sas},
          {"include", c.include},
          {"exclude", c.exclude},
          {"tier", c.tier},
          {"symlinks", Name(c.symlinks)},
          {"mode", Name(c.mode)},
          {"content_type", c.content_type},
          {"guess_content_type", c.guess_content_type}};
}

Config ConfigFromJson(const nlohmann::json& j) {
  Config c;
  c.id = j.value("id", "");
  c.source = j.value("source", "");
  c.target = j.value("target", "");
  c.target_sas = j.value("target_sas", false);
  c.include = j.value("include", std::vector<std::string>{});
  c.exclude = j.value("exclude", std::vector<std::string>{});
  c.tier = j.value("tier", "");
  c.symlinks = SymlinkPolicyNamed(j.value("symlinks", "skip")).value_or(SymlinkPolicy::kSkip);
  c.mode = DeleteModeNamed(j.value("mode", "additive")).value_or(DeleteMode::kAdditive);
  c.content_type = j.value("content_type", "");
  c.guess_content_type = j.value("guess_content_type", false);  // absent: from before types
  return c;
}

}  // namespace

std::string ConfigText(const Config& config) { return JsonText(ConfigToJson(config)); }

Result<Config> ConfigFromText(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Status(Code::kInvalidInput, "the catalog's configuration is unreadable");
  }
  return ConfigFromJson(json);
}

// 128 random bits in hex.
std::string NewMigrationId() {
  std::random_device random;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", random(), random(), random(), random());
}

std::string EventHash(std::string_view prev_hash, int64_t run, int64_t time_ns,
                      std::string_view path, std::string_view kind, std::string_view detail) {
  std::string content =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}", prev_hash, run, time_ns, path, kind, detail);
  return HexEncode(Sha256(content));
}

// A location is a migration folder, or a migration in a PostgreSQL database.
Result<std::unique_ptr<Catalog>> Catalog::Create(const std::string& location,
                                                 const Config& config) {
  if (IsPostgresLocation(location)) return PostgresCatalog::Create(location, config);
  return SqliteCatalog::Create(location, config);
}

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& location) {
  if (IsPostgresLocation(location)) return PostgresCatalog::Open(location, Hold::kAlone);
  return SqliteCatalog::Open(location, /*lock=*/true);
}

Result<std::unique_ptr<Catalog>> Catalog::OpenForReading(const std::string& location) {
  if (IsPostgresLocation(location)) return PostgresCatalog::Open(location, Hold::kNone);
  return SqliteCatalog::Open(location, /*lock=*/false);
}

Result<std::unique_ptr<Catalog>> Catalog::OpenAsWorker(const std::string& location,
                                                       const std::function<void()>& waiting) {
  if (IsPostgresLocation(location)) {
    return PostgresCatalog::Open(location, Hold::kShared, waiting);
  }
  return SqliteCatalog::Open(location, /*lock=*/true);
}

namespace {
Status NotShared() {
  return Status(Code::kInternal, "this catalog has one writer: it shares no work");
}
}  // namespace

Status Catalog::JoinWork(int64_t, std::chrono::seconds) { return NotShared(); }
Result<std::vector<Item>> Catalog::ClaimItems(const std::vector<ItemState>&, int) {
  return NotShared();
}
Result<int64_t> Catalog::HeldElsewhere(const std::vector<ItemState>&) { return NotShared(); }
Result<int> Catalog::LiveWorkers() { return NotShared(); }
Result<int> Catalog::Heartbeat(int64_t, int64_t) { return NotShared(); }
Status Catalog::LeaveWork() { return NotShared(); }

namespace {
Status NoSharedListing() {
  return Status(Code::kUnsupported, "this catalog does not share a scan's listing");
}
}  // namespace
Status Catalog::OpenListing(int64_t) { return NoSharedListing(); }
Result<int64_t> Catalog::OpenListingRun() { return NoSharedListing(); }
Result<std::vector<FolderClaim>> Catalog::ClaimFolders(int64_t, int, std::chrono::seconds, bool) {
  return NoSharedListing();
}
Status Catalog::ReleaseFolders(int64_t, const std::vector<std::string>&, bool) {
  return NoSharedListing();
}
Result<int> Catalog::RecordFolders(int64_t, const std::vector<ListedFolder>&) {
  return NoSharedListing();
}
Result<bool> Catalog::RecordPart(int64_t, const ListedPart&, std::chrono::seconds) {
  return NoSharedListing();
}
Result<int64_t> Catalog::FoldersLeft(int64_t) { return NoSharedListing(); }
Result<std::unique_ptr<storage::Lister>> Catalog::ListedEntries(int64_t) {
  return NoSharedListing();
}
Status Catalog::CloseListing(int64_t) { return NoSharedListing(); }
Status Catalog::LeadCopy(int64_t) { return NoSharedListing(); }
Result<SharedCopy> Catalog::OpenSharedCopy() { return NoSharedListing(); }
Result<bool> Catalog::RunHoldsMigration(int64_t) { return NoSharedListing(); }
Result<int64_t> Catalog::RunningSync() { return NoSharedListing(); }

Result<int64_t> Catalog::CountItemsUpTo(int64_t most) {
  Result<std::vector<StateTotals>> totals = Totals();
  if (!totals.ok()) return totals.status();
  int64_t items = 0;
  for (const StateTotals& t : *totals) items += t.items;
  return std::min(items, most);
}
Status Catalog::HelpCopy(const SharedCopy&) { return NoSharedListing(); }
Status Catalog::OpenDriftCheck(int64_t, const std::vector<std::string>&) {
  return NoSharedListing();
}
Result<int64_t> Catalog::OpenDriftCheckRun() { return NoSharedListing(); }
Result<std::optional<DriftPart>> Catalog::ClaimDriftPart(int64_t, std::chrono::seconds) {
  return NoSharedListing();
}
Result<bool> Catalog::HoldDriftPart(int64_t, const std::string&, const std::string&, int64_t,
                                    int64_t, bool, std::chrono::seconds) {
  return NoSharedListing();
}
Status Catalog::ReleaseDriftPart(int64_t, const std::string&) { return NoSharedListing(); }
Result<DriftTotals> Catalog::DriftCheckTotals(int64_t) { return NoSharedListing(); }
Status Catalog::CloseDriftCheck(int64_t) { return NoSharedListing(); }

void StateTotals::Add(std::string_view kind, int64_t count, int64_t size) {
  items += count;
  bytes += size;
  switch (KindFromName(kind).value_or(storage::Kind::kFile)) {
    case storage::Kind::kFile:
      files += count;
      break;
    case storage::Kind::kFolder:
      folders += count;
      break;
    case storage::Kind::kSymlink:
      links += count;
      break;
    case storage::Kind::kSpecial:
      specials += count;
      break;
  }
}

std::vector<StateTotals> GroupTotals(
    const std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>& rows) {
  std::vector<StateTotals> totals;
  for (const auto& [state_name, kind, count, size] : rows) {
    ItemState state = StateFromName(state_name).value_or(ItemState::kPending);
    auto it = std::find_if(totals.begin(), totals.end(),
                           [&](const StateTotals& t) { return t.state == state; });
    if (it == totals.end()) it = totals.insert(totals.end(), StateTotals{state});
    it->Add(kind, count, size);
  }
  return totals;
}

std::optional<storage::Kind> KindFromName(std::string_view name) {
  for (auto kind : {storage::Kind::kFile, storage::Kind::kFolder, storage::Kind::kSymlink,
                    storage::Kind::kSpecial}) {
    if (storage::KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

Status Catalog::AnnotateRun(int64_t run) {
  for (const auto& [kind, detail] : run_annotations_) {
    FERRY_RETURN_IF_ERROR(AppendEvent(run, "", kind, detail));
  }
  return Status::Ok();
}

Status Catalog::ForEachItem(const std::vector<ItemState>& states,
                            const std::function<Status(Item&)>& visit) {
  Result<ItemCursor> cursor = Items(states);
  if (!cursor.ok()) return cursor.status();
  Item item;
  while (true) {
    Result<bool> more = cursor->Next(item);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    FERRY_RETURN_IF_ERROR(visit(item));
  }
}

Result<ChainCheck> Catalog::CheckChain() {
  Result<EventCursor> cursor = Events();
  if (!cursor.ok()) return cursor.status();
  ChainCheck check;
  std::string previous(64, '0');
  Event e;
  while (true) {
    Result<bool> more = cursor->Next(e);
    if (!more.ok()) return more.status();
    if (!*more) break;
    ++check.events;
    std::string problem;
    if (e.prev_hash != previous) {
      problem = "it does not follow the event before it (an event was deleted or its hash edited)";
    } else if (EventHash(e.prev_hash, e.run, e.time_ns, e.path, e.kind, e.detail_json) != e.hash) {
      problem = "its content does not match its hash (the row was edited)";
    }
    if (!problem.empty()) {
      check.intact = false;
      check.first_bad_id = e.id;
      check.problem = problem;
      return check;
    }
    previous = e.hash;
  }
  check.head_hash = previous;
  return check;
}

}  // namespace ferry::catalog
