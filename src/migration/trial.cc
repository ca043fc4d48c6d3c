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

// The trial's steps: the strata and totals, the sample, its copy phase by phase, the check of
// what was copied, the projection, and the record.
class TrialRun {
 public:
  TrialRun(catalog::Catalog& catalog, storage::Store& source, storage::Store& trial,
           const std::string& prefix, const TrialOptions& options, TrialReport& report)
      : catalog_(catalog),
        source_(source),
        trial_(trial),
        prefix_(prefix),
        options_(options),
        report_(report) {}

  Status Execute() {
    FERRY_RETURN_IF_ERROR(CountStrata());
    FERRY_RETURN_IF_ERROR(Choose());
    Result<int64_t> run = catalog_.BeginRun(catalog::Stage::kTrial);
    if (!run.ok()) return run.status();
    report_.run = *run;
    FERRY_RETURN_IF_ERROR(CopySample());
    CheckCopies();
    Project();
    return Record();
  }

 private:
  struct Copied {
    std::string path;
    uint64_t size;
    std::optional<Md5Digest> md5;
  };

  // Pass 1: the strata and the totals of the full copy.
  Status CountStrata() {
    std::set<int> buckets;
    std::set<std::string> folders;
    FERRY_RETURN_IF_ERROR(catalog_.ForEachItem({}, [&](Item& item) {
      if (item.state == ItemState::kSkipped && item.cause == "name the target cannot store") {
        ++report_.unstorable;
      }
      if (!Eligible(item)) return Status::Ok();
      ++strata_[Stratum(item)];
      buckets.insert(SizeBucket(item.size));
      folders.insert(TopFolder(item.path));
      ++report_.total_files;
      report_.total_bytes += int64_t(item.size);
      return Status::Ok();
    }));
    report_.strata = int64_t(strata_.size());
    report_.buckets_present = int64_t(buckets.size());
    report_.folders_present = int64_t(folders.size());
    if (strata_.empty())
      return Status(Code::kInvalidInput, "no files to sample: run ferry scan first");
    return Status::Ok();
  }

  // How many items a stratum gives: at least one, then in proportion.
  int64_t Quota(int64_t in_stratum) const {
    if (options_.percent) {
      return std::max<int64_t>(1,
                               int64_t(std::llround(double(in_stratum) * *options_.percent / 100)));
    }
    int64_t want = std::max<int64_t>(*options_.count, int64_t(strata_.size()));
    return std::max<int64_t>(1, want * in_stratum / report_.total_files);
  }

  // Pass 2: in each stratum, the items with the lowest seeded hash; then the phases.
  Status Choose() {
    std::map<std::string, SeededSample> samples;
    for (const auto& [s, n] : strata_) samples.emplace(s, SeededSample(options_.seed, Quota(n)));
    FERRY_RETURN_IF_ERROR(catalog_.ForEachItem({}, [&](Item& item) {
      if (Eligible(item)) samples.at(Stratum(item)).Offer(item.path);
      return Status::Ok();
    }));
    std::set<int> buckets;
    std::set<std::string> folders, strata;
    for (auto& [s, sample] : samples) {
      for (const std::string& path : sample.Take()) {
        Result<std::optional<Item>> item = catalog_.FindItem(path);
        if (!item.ok()) return item.status();
        if (!item->has_value()) continue;
        Item it = **item;
        report_.files += 1;
        report_.bytes += int64_t(it.size);
        buckets.insert(SizeBucket(it.size));
        folders.insert(TopFolder(it.path));
        strata.insert(Stratum(it));
        (it.size < kSmall ? small_ : large_).items.push_back(std::move(it));
      }
    }
    report_.buckets_sampled = int64_t(buckets.size());
    report_.folders_sampled = int64_t(folders.size());
    report_.strata_sampled = int64_t(strata.size());
    return Status::Ok();
  }

  // Copies each phase with the migration's parallelism, timing it, and records what was written
  // (so that a cleanup deletes exactly that). Blobs an earlier trial wrote here are replaced only
  // while they are what it wrote.
  Status CopySample() {
    TaskPool blocks(std::max(2, options_.engine.workers()));
    transfer::BufferPool buffers(options_.engine.memory());
    transfer::UploadOptions upload = options_.upload;
    upload.stream_limit = options_.engine.block_above;
    transfer::Uploader uploader(source_, trial_, upload, blocks, buffers);
    Result<std::vector<catalog::TrialBlob>> earlier = catalog_.TrialBlobs(prefix_);
    if (!earlier.ok()) return earlier.status();
    for (auto& b : *earlier) earlier_[b.path.substr(prefix_.size() + 1)] = b.etag;
    for (Phase* phase : {&small_, &large_}) {
      auto start = std::chrono::steady_clock::now();
      TaskPool workers(options_.engine.workers());
      std::vector<std::future<void>> done;
      for (const Item& item : phase->items) {
        done.push_back(workers.Submit([&, item] { CopyOne(uploader, item); }));
      }
      for (auto& f : done) f.wait();
      phase->seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    for (const auto& blob : written_) {
      if (Status st = catalog_.RecordTrialBlob(blob); !st.ok()) {
        (void)catalog_.RollbackTransaction();
        return st;
      }
    }
    return catalog_.CommitTransaction();
  }

  void CopyOne(transfer::Uploader& uploader, const Item& item) {
    transfer::UploadItem upload = UploadOf(item);
    auto replace = earlier_.find(item.path);
    if (replace != earlier_.end()) upload.replace_etag = replace->second;
    transfer::UploadResult r = uploader.Upload(upload);
    std::lock_guard lock(mu_);
    if (r.outcome == transfer::UploadOutcome::kCopied) {
      ++report_.copied;
      copied_.push_back({item.path, r.size, r.md5});
      written_.push_back({storage::JoinPath(prefix_, item.path), prefix_, r.etag});
      return;
    }
    ++report_.failed;
    ++report_.errors_by_cause[r.outcome == transfer::UploadOutcome::kVanished ? "vanished"
                              : r.outcome == transfer::UploadOutcome::kChanging
                                  ? "source: kept changing while read"
                              : r.outcome == transfer::UploadOutcome::kConflict
                                  ? "conflict: a blob no trial wrote is in the way"
                                  : CauseOf(r.error)];
  }

  // What was copied is checked after, outside the timing, since the projection is of a copy.
  void CheckCopies() {
    TaskPool workers(options_.engine.workers());
    std::vector<std::future<void>> done;
    for (const Copied& c : copied_) {
      done.push_back(workers.Submit([&] {
        Result<storage::Entry> blob = trial_.Stat(c.path);
        bool verified = blob.ok() && blob->size == c.size;
        if (verified && trial_.StoresContentMd5()) {
          verified = blob->content_md5 == c.md5;
        } else if (verified) {  // a file system keeps no MD5: its bytes are read back
          Result<Md5Digest> bytes = storage::ReadMd5(trial_, c.path);
          verified = bytes.ok() && bytes.value() == c.md5;
        }
        std::lock_guard lock(mu_);
        verified ? ++report_.verified : ++report_.mismatches;
      }));
    }
    for (auto& f : done) f.wait();
  }

  // Each sampled item stands for its stratum's items (n / k of them): small files scale the
  // small phase by the count they stand for, large ones the large phase by the bytes.
  void Project() {
    report_.seconds = small_.seconds + large_.seconds;
    if (report_.seconds > 0) {
      report_.files_per_second = double(report_.files) / report_.seconds;
      report_.bytes_per_second = double(report_.bytes) / report_.seconds;
    }
    std::map<std::string, int64_t> taken;
    for (const Phase* phase : {&small_, &large_}) {
      for (const Item& it : phase->items) ++taken[Stratum(it)];
    }
    auto weight = [&](const Item& it) {
      std::string st = Stratum(it);
      return double(strata_[st]) / double(taken[st]);
    };
    double small_represented = 0, large_represented = 0, large_sampled = 0;
    for (const Item& it : small_.items) small_represented += weight(it);
    for (const Item& it : large_.items) {
      large_represented += weight(it) * double(it.size);
      large_sampled += double(it.size);
    }
    if (!small_.items.empty()) {
      report_.projected_seconds += small_.seconds * small_represented / double(small_.items.size());
    }
    if (large_sampled > 0) {
      report_.projected_seconds += large_.seconds * large_represented / large_sampled;
    }
  }

  Status Record() {
    const TrialReport& r = report_;
    nlohmann::json summary{
        {"seed", r.seed},
        {"small_phase", {{"files", small_.items.size()}, {"seconds", small_.seconds}}},
        {"large_phase", {{"files", large_.items.size()}, {"seconds", large_.seconds}}},
        {"files", r.files},
        {"bytes", r.bytes},
        {"copied", r.copied},
        {"failed", r.failed},
        {"verified", r.verified},
        {"mismatches", r.mismatches},
        {"errors_by_cause", r.errors_by_cause},
        {"seconds", r.seconds},
        {"files_per_second", r.files_per_second},
        {"bytes_per_second", r.bytes_per_second},
        {"projected_seconds", r.projected_seconds},
        {"total_files", r.total_files},
        {"total_bytes", r.total_bytes},
        {"trial", trial_.Describe()}};
    FERRY_RETURN_IF_ERROR(catalog_.AppendEvent(r.run, "", "trial", JsonText(summary)));
    catalog::Run record;
    record.id = r.run;
    record.files = r.copied;
    record.bytes = r.bytes;
    record.failed = r.failed + r.mismatches;
    record.outcome = record.failed ? "failed items" : "done";
    record.summary_json = JsonText(summary);
    return catalog_.EndRun(record);
  }

  catalog::Catalog& catalog_;
  storage::Store& source_;
  storage::Store& trial_;
  const std::string& prefix_;
  const TrialOptions& options_;
  TrialReport& report_;
  std::map<std::string, int64_t> strata_;  // items per stratum
  Phase small_, large_;
  std::map<std::string, std::string> earlier_;  // path under the prefix -> ETag
  std::mutex mu_;                               // guards what the workers add below
  std::vector<Copied> copied_;
  std::vector<catalog::TrialBlob> written_;
};

}  // namespace

Result<TrialReport> Trial(catalog::Catalog& catalog, storage::Store& source, storage::Store& trial,
                          const std::string& prefix, const TrialOptions& options) {
  TrialReport report;
  report.seed = options.seed;
  TrialRun run(catalog, source, trial, prefix, options, report);
  FERRY_RETURN_IF_ERROR(run.Execute());
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
