#include "migration/trial.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "migration/copy.h"
#include "migration/sample.h"
#include "migration/scan.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;

namespace {

constexpr uint64_t kSmall = 1 << 20;

bool Eligible(const Item& item) {
  return item.kind == storage::Kind::kFile &&
         (item.state == ItemState::kPending || item.state == ItemState::kFailed ||
          item.state == ItemState::kCopied);
}

std::string TopFolder(const std::string& path) {
  size_t slash = path.find('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string Stratum(const Item& item) {
  return fmt::format("{}\n{}", SizeBucket(item.size), TopFolder(item.path));
}

struct Phase {
  std::vector<Item> items;
  double seconds = 0;
};

}  // namespace

Result<TrialReport> Trial(catalog::Catalog& catalog, storage::Store& source, storage::Store& trial,
                          const std::string& prefix, const TrialOptions& options) {
  TrialReport report;
  report.seed = options.seed;

  // Pass 1: the strata and the totals of the full copy.
  std::map<std::string, int64_t> strata;
  std::set<int> buckets;
  std::set<std::string> folders;
  {
    Result<catalog::ItemCursor> cursor = catalog.Items();
    if (!cursor.ok()) return cursor.status();
    Item item;
    while (true) {
      Result<bool> more = cursor->Next(item);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (item.state == ItemState::kSkipped && item.cause == "name the target cannot store") {
        ++report.unstorable;
      }
      if (!Eligible(item)) continue;
      ++strata[Stratum(item)];
      buckets.insert(SizeBucket(item.size));
      folders.insert(TopFolder(item.path));
      ++report.total_files;
      report.total_bytes += int64_t(item.size);
    }
  }
  report.strata = int64_t(strata.size());
  report.buckets_present = int64_t(buckets.size());
  report.folders_present = int64_t(folders.size());
  if (strata.empty())
    return Status(Code::kInvalidInput, "no files to sample: run ferry scan first");

  // How many items each stratum gives: at least one, then in proportion.
  std::map<std::string, int64_t> quota;
  if (options.percent) {
    for (const auto& [s, n] : strata) {
      quota[s] = std::max<int64_t>(1, int64_t(std::llround(double(n) * *options.percent / 100)));
    }
  } else {
    int64_t want = std::max<int64_t>(*options.count, int64_t(strata.size()));
    for (const auto& [s, n] : strata) {
      quota[s] = std::max<int64_t>(1, want * n / report.total_files);
    }
  }

  // Pass 2: in each stratum, the items with the lowest seeded hash.
  std::map<std::string, std::priority_queue<std::pair<uint64_t, std::string>>> lowest;
  {
    Result<catalog::ItemCursor> cursor = catalog.Items();
    if (!cursor.ok()) return cursor.status();
    Item item;
    while (true) {
      Result<bool> more = cursor->Next(item);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (!Eligible(item)) continue;
      std::string s = Stratum(item);
      auto& heap = lowest[s];
      heap.emplace(SeededHash(options.seed, item.path), item.path);
      if (int64_t(heap.size()) > quota[s]) heap.pop();
    }
  }
  std::set<std::string> chosen;
  for (auto& [s, heap] : lowest) {
    for (; !heap.empty(); heap.pop()) chosen.insert(heap.top().second);
  }

  Phase small, large;
  std::set<int> sampled_buckets;
  std::set<std::string> sampled_folders, sampled_strata;
  for (const std::string& path : chosen) {
    Result<std::optional<Item>> item = catalog.FindItem(path);
    if (!item.ok()) return item.status();
    if (!item->has_value()) continue;
    Item it = **item;
    report.files += 1;
    report.bytes += int64_t(it.size);
    sampled_buckets.insert(SizeBucket(it.size));
    sampled_folders.insert(TopFolder(it.path));
    sampled_strata.insert(Stratum(it));
    (it.size < kSmall ? small : large).items.push_back(std::move(it));
  }
  report.buckets_sampled = int64_t(sampled_buckets.size());
  report.folders_sampled = int64_t(sampled_folders.size());
  report.strata_sampled = int64_t(sampled_strata.size());

  Result<int64_t> run = catalog.BeginRun("trial");
  if (!run.ok()) return run.status();
  report.run = *run;

  // Copy each phase with the migration's parallelism, timing it; what was copied is checked
  // after, outside the timing, since the projection is of a copy.
  transfer::TaskPool blocks(std::max(2, options.engine.workers()));
  transfer::BufferPool buffers(options.engine.memory());
  transfer::UploadOptions upload = options.upload;
  upload.stream_limit = options.engine.block_above;
  transfer::Uploader uploader(source, trial, upload, blocks, buffers);
  // Blobs an earlier trial wrote here are replaced only while they are what it wrote.
  std::map<std::string, std::string> earlier;
  {
    Result<std::vector<catalog::TrialBlob>> blobs = catalog.TrialBlobs(prefix);
    if (!blobs.ok()) return blobs.status();
    for (auto& b : *blobs) earlier[b.path.substr(prefix.size() + 1)] = b.etag;
  }
  std::vector<catalog::TrialBlob> written;
  std::mutex mu;
  struct Copied {
    std::string path;
    uint64_t size;
    std::optional<Md5Digest> md5;
  };
  std::vector<Copied> copied;
  for (Phase* phase : {&small, &large}) {
    auto start = std::chrono::steady_clock::now();
    transfer::TaskPool workers(options.engine.workers());
    std::vector<std::future<void>> done;
    for (const Item& item : phase->items) {
      done.push_back(workers.Submit([&, item] {
        auto replace = earlier.find(item.path);
        transfer::UploadItem upload;
        upload.path = item.path;
        upload.kind = item.kind;
        upload.size = item.size;
        upload.mtime_ns = item.mtime_ns;
        upload.mode = item.mode;
        upload.uid = item.uid;
        upload.gid = item.gid;
        upload.link_target = item.link_target;
        if (replace != earlier.end()) upload.replace_etag = replace->second;
        transfer::UploadResult r = uploader.Upload(upload);
        bool ok = r.outcome == transfer::UploadOutcome::kCopied;
        std::string cause;
        if (!ok) {
          cause = r.outcome == transfer::UploadOutcome::kVanished ? "vanished"
                  : r.outcome == transfer::UploadOutcome::kChanging
                      ? "source: kept changing while read"
                  : r.outcome == transfer::UploadOutcome::kConflict
                      ? "conflict: a blob no trial wrote is in the way"
                      : CauseOf(r.error);
        }
        std::lock_guard lock(mu);
        if (ok) {
          ++report.copied;
          copied.push_back({item.path, r.size, r.md5});
          written.push_back({storage::JoinPath(prefix, item.path), prefix, r.etag});
        } else {
          ++report.failed;
          ++report.errors_by_cause[cause];
        }
      }));
    }
    for (auto& f : done) f.wait();
    phase->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // What the trial wrote, so that a cleanup deletes exactly that.
  FERRY_RETURN_IF_ERROR(catalog.BeginTransaction());
  for (const auto& blob : written) {
    if (Status st = catalog.RecordTrialBlob(blob); !st.ok()) {
      (void)catalog.RollbackTransaction();
      return st;
    }
  }
  FERRY_RETURN_IF_ERROR(catalog.CommitTransaction());
  {
    transfer::TaskPool workers(options.engine.workers());
    std::vector<std::future<void>> done;
    for (const Copied& c : copied) {
      done.push_back(workers.Submit([&] {
        Result<storage::Entry> blob = trial.Stat(c.path);
        bool verified = blob.ok() && blob->size == c.size;
        if (verified && trial.StoresContentMd5()) {
          verified = blob->content_md5 == c.md5;
        } else if (verified) {  // a file system keeps no MD5: its bytes are read back
          Result<Md5Digest> bytes = storage::ReadMd5(trial, c.path);
          verified = bytes.ok() && bytes.value() == c.md5;
        }
        std::lock_guard lock(mu);
        verified ? ++report.verified : ++report.mismatches;
      }));
    }
    for (auto& f : done) f.wait();
  }
  report.seconds = small.seconds + large.seconds;
  if (report.seconds > 0) {
    report.files_per_second = double(report.files) / report.seconds;
    report.bytes_per_second = double(report.bytes) / report.seconds;
  }
  // Each sampled item stands for its stratum's items (n / k of them): small files scale the
  // small phase by the count they stand for, large ones the large phase by the bytes.
  std::map<std::string, int64_t> taken;
  for (const Phase* phase : {&small, &large}) {
    for (const Item& it : phase->items) ++taken[Stratum(it)];
  }
  auto weight = [&](const Item& it) {
    std::string st = Stratum(it);
    return double(strata[st]) / double(taken[st]);
  };
  double small_represented = 0, large_represented = 0, large_sampled = 0;
  for (const Item& it : small.items) small_represented += weight(it);
  for (const Item& it : large.items) {
    large_represented += weight(it) * double(it.size);
    large_sampled += double(it.size);
  }
  if (!small.items.empty()) {
    report.projected_seconds += small.seconds * small_represented / double(small.items.size());
  }
  if (large_sampled > 0) {
    report.projected_seconds += large.seconds * large_represented / large_sampled;
  }

  nlohmann::json summary{
      {"seed", report.seed},
      {"small_phase", {{"files", small.items.size()}, {"seconds", small.seconds}}},
      {"large_phase", {{"files", large.items.size()}, {"seconds", large.seconds}}},
      {"files", report.files},
      {"bytes", report.bytes},
      {"copied", report.copied},
      {"failed", report.failed},
      {"verified", report.verified},
      {"mismatches", report.mismatches},
      {"errors_by_cause", report.errors_by_cause},
      {"seconds", report.seconds},
      {"files_per_second", report.files_per_second},
      {"bytes_per_second", report.bytes_per_second},
      {"projected_seconds", report.projected_seconds},
      {"total_files", report.total_files},
      {"total_bytes", report.total_bytes},
      {"trial", trial.Describe()}};
  FERRY_RETURN_IF_ERROR(catalog.AppendEvent(report.run, "", "trial", JsonText(summary)));
  catalog::Run record;
  record.id = report.run;
  record.files = report.copied;
  record.bytes = report.bytes;
  record.failed = report.failed + report.mismatches;
  record.outcome = record.failed ? "failed items" : "done";
  record.summary_json = JsonText(summary);
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  return report;
}

Status CheckTrialPrefix(catalog::Catalog& catalog, storage::Store& target,
                        const std::string& prefix, bool cleanup_only) {
  auto refuse = [&](const std::string& why) {
    return Status(Code::kInvalidInput, fmt::format("--prefix '{}': {}", prefix, why));
  };
  if (prefix.empty() || prefix.front() == '/' || prefix.back() == '/' ||
      prefix.find('\\') != std::string::npos) {
    return refuse("give a name such as ferry-trial, without a leading or trailing '/' or a '\\'");
  }
  for (size_t start = 0; start <= prefix.size();) {
    size_t end = std::min(prefix.find('/', start), prefix.size());
    std::string_view part(prefix.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return refuse("an empty, '.' or '..' part would leave the trial's own place");
    }
    // An item at the prefix or above it: the trial would write into the migration's namespace
    // (a folder of the source may gain that very name later).
    Result<std::optional<Item>> item = catalog.FindItem(prefix.substr(0, end));
    if (!item.ok()) return item.status();
    if (*item) {
      return refuse(
          fmt::format("'{}' is an item of the migration; the trial needs a prefix of its own (the "
                      "default is ferry-trial)",
                      (*item)->path));
    }
    start = end + 1;
  }
  Result<bool> below = catalog.HasDescendants(prefix);
  if (!below.ok()) return below.status();
  if (*below) {
    return refuse(
        "the migration has items under it; the trial needs a prefix of its own (the "
        "default is ferry-trial)");
  }
  if (cleanup_only) return Status::Ok();
  Result<std::vector<catalog::TrialBlob>> ours = catalog.TrialBlobs(prefix);
  if (!ours.ok()) return ours.status();
  std::map<std::string, std::string> etags;
  for (const auto& b : *ours) etags[b.path] = b.etag;
  Result<std::unique_ptr<storage::Lister>> lister =
      target.List(prefix + "/", storage::ListOptions{.metadata = false});
  if (!lister.ok()) return lister.status();
  storage::Entry entry;
  while (true) {
    Result<bool> more = (*lister)->Next(entry);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    if (entry.kind == storage::Kind::kFolder) continue;  // a folder holds no bytes of its own
    auto it = etags.find(entry.path);
    if (it == etags.end() || it->second != entry.etag) {
      return refuse(fmt::format(
          "the target holds '{}', which no trial of this migration wrote (or which changed "
          "since); choose another prefix, or remove it",
          entry.path));
    }
  }
}

Result<CleanupReport> CleanupTrial(catalog::Catalog& catalog, storage::Store& trial,
                                   const std::string& prefix) {
  Result<std::vector<catalog::TrialBlob>> blobs = catalog.TrialBlobs(prefix);
  if (!blobs.ok()) return blobs.status();
  CleanupReport report;
  for (const catalog::TrialBlob& blob : *blobs) {
    std::string path = blob.path.substr(prefix.size() + 1);
    Status st = trial.Delete(path, storage::Condition::IfMatch(blob.etag));
    if (st.code() == Code::kPreconditionFailed) {
      report.changed.push_back(blob.path);
      continue;
    }
    if (!st.ok() && st.code() != Code::kNotFound) return st;
    if (st.ok()) ++report.deleted;
    FERRY_RETURN_IF_ERROR(catalog.ForgetTrialBlob(blob.path));
  }
  // A folder target keeps the folders the trial's files were in: those left empty go, deepest
  // first (one that is not empty stays: removing it fails). Other folders are not touched.
  std::set<std::string> folders;
  for (const catalog::TrialBlob& blob : *blobs) {
    std::string path = blob.path.substr(prefix.size() + 1);
    for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
      folders.insert(path.substr(0, slash));
    }
  }
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    Result<storage::Entry> there = trial.Stat(*it);
    if (there.ok() && there->kind == storage::Kind::kFolder) {
      (void)trial.Delete(*it, storage::Condition::None());
    }
  }
  return report;
}

}  // namespace ferry::migration
