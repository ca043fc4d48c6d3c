#include "cli/history.h"

#include "base/text.h"

namespace ferry::cli {

nlohmann::json RunJson(const catalog::Run& r) {
  double seconds = r.ended_ns > 0 ? double(r.ended_ns - r.started_ns) / 1e9 : 0;
  std::optional<catalog::Stage> stage = catalog::StageNamed(r.stage);
  bool moves_data = stage == catalog::Stage::kCopy || stage == catalog::Stage::kSync;
  return {{"run", r.id},
          {"stage", r.stage},
          {"started", HumanTime(r.started_ns)},
          {"seconds", seconds},
          {"outcome", r.outcome},
          {"files", r.files},
          {"bytes", r.bytes},
          {"failed", r.failed},
          {"bytes_per_second", moves_data && seconds > 0 ? double(r.bytes) / seconds : 0.0}};
}

nlohmann::json LastCutoverHooks(catalog::Catalog& catalog, const std::vector<catalog::Run>& runs) {
  int64_t last = 0;
  for (const auto& r : runs) {
    if (catalog::StageNamed(r.stage) == catalog::Stage::kCutover) last = r.id;
  }
  if (last == 0) return nullptr;
  Result<catalog::EventCursor> cursor = catalog.Events({.run = last});
  if (!cursor.ok()) return nullptr;
  nlohmann::json hooks = nlohmann::json::array();
  catalog::Event e;
  while (true) {
    Result<bool> more = cursor->Next(e);
    if (!more.ok() || !*more) break;
    if (e.run != last || e.kind != "hook") continue;
    auto detail = nlohmann::json::parse(e.detail_json, nullptr, false);
    if (!detail.is_discarded()) hooks.push_back(detail);
  }
  if (hooks.empty()) return nullptr;
  return {{"run", last}, {"hooks", hooks}};
}

nlohmann::json TotalsJson(const catalog::StateTotals& t) {
  return {{"files", t.files},       {"folders", t.folders}, {"links", t.links},
          {"specials", t.specials}, {"items", t.items},     {"bytes", t.bytes}};
}

nlohmann::json SyncPasses(const std::vector<catalog::Run>& runs) {
  nlohmann::json passes = nlohmann::json::array();
  for (const auto& r : runs) {
    if (catalog::StageNamed(r.stage) != catalog::Stage::kSync) continue;
    auto summary = nlohmann::json::parse(r.summary_json, nullptr, false);
    if (summary.is_discarded() || !summary.contains("delta")) continue;
    nlohmann::json d = summary["delta"];
    d["run"] = r.id;
    d["started"] = HumanTime(r.started_ns);
    passes.push_back(d);
  }
  return passes;
}

}  // namespace ferry::cli
