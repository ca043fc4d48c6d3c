#include "migration/resolve.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "migration/filter.h"
#include "migration/safety.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;

namespace {

// Why `pattern` names no conflict, for the refusal.
std::string NoConflict(catalog::Catalog& catalog, const std::string& pattern) {
  Result<std::optional<Item>> item = catalog.FindItem(pattern);
  if (item.ok() && *item) {
    return fmt::format("'{}' is not a conflict (it is {})", pattern,
                       catalog::StateName((*item)->state));
  }
  return fmt::format("'{}' matches no conflict (see ferry errors)", pattern);
}

// The conflicts that the patterns name; an error if a pattern names none.
Result<std::vector<Item>> Conflicts(catalog::Catalog& catalog,
                                    const std::vector<std::string>& patterns) {
  std::vector<Glob> globs;
  for (const auto& p : patterns) {
    Result<Glob> glob = Glob::Parse(p);
    if (!glob.ok()) return glob.status();
    globs.push_back(*glob);
  }
  std::vector<bool> used(patterns.size(), false);
  std::vector<Item> chosen;
  FERRY_RETURN_IF_ERROR(catalog.ForEachItem({ItemState::kConflict}, [&](Item& item) {
    bool match = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (item.path == patterns[i] || globs[i].Matches(item.path)) used[i] = match = true;
    }
    if (match) chosen.push_back(item);
    return Status::Ok();
  }));
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!used[i]) return Status(Code::kInvalidInput, NoConflict(catalog, patterns[i]));
  }
  return chosen;
}

}  // namespace

Result<std::vector<std::string>> KeepTarget(catalog::Catalog& catalog, storage::Store& target,
                                            const std::vector<std::string>& patterns) {
  Result<std::vector<Item>> conflicts = Conflicts(catalog, patterns);
  if (!conflicts.ok()) return conflicts.status();
  Result<int64_t> run = catalog.BeginRun(catalog::Stage::kResolve);
  if (!run.ok()) return run.status();
  const std::string by = Operator();
  std::vector<std::string> resolved;
  Status status = catalog.BeginTransaction();
  for (Item& item : *conflicts) {
    if (!status.ok()) break;
    Result<storage::Entry> blob = target.Stat(item.path);
    if (!blob.ok() && blob.status().code() != Code::kNotFound) {
      status = blob.status();
      break;
    }
    std::string etag = blob.ok() ? blob->etag : "";
    nlohmann::json detail{
        {"decision", "keep-target"}, {"by", by}, {"etag", etag}, {"conflict", item.reason}};
    item.state = ItemState::kKept;
    item.target_etag = etag;
    item.kept_blob = true;
    item.cause.clear();
    item.reason = fmt::format("the target's {} was kept by {} (ferry resolve --keep-target)",
                              etag.empty() ? "absence of a blob" : "blob", by);
    item.last_run = *run;
    status = catalog.UpdateItem(item);
    if (status.ok()) status = catalog.AppendEvent(*run, item.path, "resolved", JsonText(detail));
    if (status.ok()) resolved.push_back(item.path);
  }
  Status committed = catalog.CommitTransaction();
  if (status.ok()) status = committed;
  catalog::Run record;
  record.id = *run;
  record.files = int64_t(resolved.size());
  record.outcome = status.ok() ? "done" : "failed";
  record.summary_json = JsonText(nlohmann::json{{"kept_target", resolved.size()}});
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  if (!status.ok()) return status;
  return resolved;
}

}  // namespace ferry::migration
