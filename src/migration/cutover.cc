#include "migration/cutover.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

namespace ferry::migration {

namespace {

using storage::Entry;

// One listing entry as written to the snapshot file: length-prefixed, so any name round-trips.
struct Snap {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int kind = 0;
};

bool WriteSnap(std::FILE* f, const Snap& s) {
  uint64_t len = s.path.size();
  return std::fwrite(&len, sizeof len, 1, f) == 1 && std::fwrite(s.path.data(), 1, len, f) == len &&
         std::fwrite(&s.size, sizeof s.size, 1, f) == 1 &&
         std::fwrite(&s.mtime_ns, sizeof s.mtime_ns, 1, f) == 1 &&
         std::fwrite(&s.kind, sizeof s.kind, 1, f) == 1;
}

bool ReadSnap(std::FILE* f, Snap& s) {
  uint64_t len = 0;
  if (std::fread(&len, sizeof len, 1, f) != 1) return false;
  s.path.resize(len);
  return std::fread(s.path.data(), 1, len, f) == len &&
         std::fread(&s.size, sizeof s.size, 1, f) == 1 &&
         std::fread(&s.mtime_ns, sizeof s.mtime_ns, 1, f) == 1 &&
         std::fread(&s.kind, sizeof s.kind, 1, f) == 1;
}

// The next entry of `lister` the migration takes, as a snapshot record.
Result<bool> NextSnap(storage::Lister& lister, const Filter& filter, Snap& snap) {
  Entry entry;
  while (true) {
    Result<bool> more = lister.Next(entry);
    if (!more.ok()) {
      if (more.status().code() == Code::kIo) continue;  // unreadable folder: same in both
      return more.status();
    }
    if (!*more) return false;
    if (!filter.Included(entry.path, entry.kind == storage::Kind::kFolder)) continue;
    snap = {entry.path, entry.kind == storage::Kind::kFolder ? 0 : entry.size, entry.mtime_ns,
            int(entry.kind)};
    return true;
  }
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::vector<std::string>> ChangesOverWindow(storage::Store& source, const Filter& filter,
                                                   std::chrono::milliseconds window,
                                                   const std::string& scratch_dir,
                                                   size_t max_listed, const std::atomic<bool>* stop,
                                                   int64_t* total_changes) {
  std::string path = scratch_dir + "/cutover-snapshot.tmp";
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return Status(Code::kIo, "cannot write " + path);
  {
    Result<std::unique_ptr<storage::Lister>> lister = source.List("");
    if (!lister.ok()) {
      std::fclose(out);
      return lister.status();
    }
    Snap snap;
    while (true) {
      Result<bool> more = NextSnap(**lister, filter, snap);
      if (!more.ok()) {
        std::fclose(out);
        return more.status();
      }
      if (!*more) break;
      if (!WriteSnap(out, snap)) {
        std::fclose(out);
        return Status(Code::kIo, "cannot write " + path + " (disk full?)");
      }
    }
  }
  std::fclose(out);

  auto until = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < until && !(stop && stop->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::string> changed;
  int64_t count = 0;
  auto note = [&](const std::string& p) {
    ++count;
    if (changed.size() < max_listed) changed.push_back(p);
  };
  std::FILE* in = std::fopen(path.c_str(), "rb");
  Result<std::unique_ptr<storage::Lister>> lister = source.List("");
  if (!lister.ok() || in == nullptr) {
    if (in) std::fclose(in);
    ::unlink(path.c_str());
    return lister.ok() ? Status(Code::kIo, "cannot read " + path) : lister.status();
  }
  Snap before, now;
  bool has_before = ReadSnap(in, before);
  Result<bool> has_now = NextSnap(**lister, filter, now);
  while (has_now.ok() && (has_before || *has_now)) {
    int order = !has_before ? 1 : !*has_now ? -1 : before.path.compare(now.path);
    if (order < 0) {
      note(before.path);
    } else if (order > 0) {
      note(now.path);
    } else if (before.size != now.size || before.mtime_ns != now.mtime_ns ||
               before.kind != now.kind) {
      note(now.path);
    }
    if (order <= 0) has_before = ReadSnap(in, before);
    if (order >= 0) has_now = NextSnap(**lister, filter, now);
  }
  std::fclose(in);
  ::unlink(path.c_str());
  if (!has_now.ok()) return has_now.status();
  if (total_changes) *total_changes = count;
  return changed;
}

std::optional<std::string> CutoverRecord(catalog::Catalog& catalog) {
  Result<std::string> record = catalog.GetMeta("cutover");
  if (!record.ok()) return std::nullopt;
  return *record;
}

bool IsClosed(catalog::Catalog& catalog) {
  Result<std::string> closed = catalog.GetMeta("closed");
  return closed.ok() && *closed == "1";
}

Status Reopen(catalog::Catalog& catalog) {
  FERRY_RETURN_IF_ERROR(catalog.SetMeta("closed", "0"));
  return catalog.AppendEvent(0, "", "reopened", "{}");
}

Result<CutoverReport> Cutover(catalog::Catalog& catalog, storage::Store& source,
                              storage::Store& target, const CutoverOptions& options) {
  CutoverReport report;
  auto step = [&](const std::string& text) {
    if (options.on_step) options.on_step(text);
  };
  if (IsClosed(catalog)) {
    report.refused = "the migration was already cut over (ferry copy/sync --reopen reopens it)";
    return report;
  }

  step(fmt::format("checking that the source is quiet for {} s",
                   options.quiet_window.count() / 1000.0));
  Result<std::vector<std::string>> changing =
      ChangesOverWindow(source, options.sync.scan.filter, options.quiet_window, catalog.dir(), 100,
                        options.sync.copy.stop, &report.changes);
  if (!changing.ok()) return changing.status();
  report.changing = *changing;
  if (report.changes > options.max_changes) {
    report.refused = fmt::format(
        "the source is still changing: {} changes in the quiet window (at most {} allowed); stop "
        "the writers and try again",
        report.changes, options.max_changes);
    return report;
  }

  step(options.dry_run ? "final sync (dry run)" : "final sync");
  SyncOptions sync = options.sync;
  sync.dry_run = options.dry_run;
  Result<SyncReport> synced = Sync(catalog, source, target, sync);
  if (!synced.ok()) return synced.status();
  report.sync = *synced;
  const SyncReport& s = report.sync;
  int64_t problems =
      s.copy.failed + s.copy.conflicts + s.drift.changed + s.drift.unexpected + s.delete_conflicts;
  if (problems > 0) {
    report.refused = fmt::format(
        "the final sync left {} failed items, {} conflicts, {} blobs changed by others and {} "
        "unexpected blobs: see ferry errors, fix them and run cutover again",
        s.copy.failed, s.copy.conflicts + s.delete_conflicts, s.drift.changed, s.drift.unexpected);
    return report;
  }
  Result<std::vector<catalog::StateTotals>> totals = catalog.Totals();
  if (!totals.ok()) return totals.status();
  for (const auto& t : *totals) {
    if (t.state == catalog::ItemState::kCopied) {
      report.items = t.items;
      report.bytes = t.bytes;
    }
    if (!options.dry_run &&
        (t.state == catalog::ItemState::kPending || t.state == catalog::ItemState::kFailed) &&
        t.items > 0) {
      report.refused = fmt::format("{} items are still {}: run ferry copy first", t.items,
                                   catalog::StateName(t.state));
      return report;
    }
  }
  if (options.dry_run) return report;

  step("verifying the target");
  VerifyOptions verify;
  verify.on_finding = options.sync.on_finding;
  Result<VerifyReport> verified = Verify(catalog, source, target, verify);
  if (!verified.ok()) return verified.status();
  report.verify = *verified;
  if (report.verify.mismatches > 0) {
    report.refused = fmt::format(
        "verification found {} mismatches in the target: see ferry verify, fix them and run "
        "cutover again",
        report.verify.mismatches);
    return report;
  }

  // The record, the closing and the event land together or not at all: a crash in between
  // must not leave a closed migration without its cutover record (or the reverse).
  FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  Result<int64_t> run = catalog.BeginRun("cutover");
  if (!run.ok()) return run.status();
  nlohmann::json record{{"time_ns", NowNs()},
                        {"run", *run},
                        {"items", report.items},
                        {"bytes", report.bytes},
                        {"verify",
                         {{"run", report.verify.run},
                          {"checked", report.verify.checked},
                          {"mismatches", report.verify.mismatches}}},
                        {"source", catalog.config().source},
                        {"target", catalog.config().target}};
  FERRY_RETURN_IF_ERROR(catalog.SetMeta("cutover", record.dump()));
  FERRY_RETURN_IF_ERROR(catalog.SetMeta("closed", "1"));
  FERRY_RETURN_IF_ERROR(catalog.AppendEvent(*run, "", "cutover", record.dump()));
  catalog::Run done;
  done.id = *run;
  done.outcome = "done";
  done.files = report.items;
  done.bytes = report.bytes;
  done.summary_json = record.dump();
  FERRY_RETURN_IF_ERROR(catalog.EndRun(done));
  FERRY_RETURN_IF_ERROR(catalog.CommitTransaction());
  report.done = true;
  return report;
}

}  // namespace ferry::migration
