#include "migration/verify.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "base/task_pool.h"
#include "base/text.h"
#include "migration/safety.h"
#include "migration/sample.h"
#include "migration/target_merge.h"
#include "transfer/upload.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;
using storage::Entry;
using storage::Kind;

std::string_view FindingName(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kMissing:
      return "missing";
    case Finding::Kind::kChanged:
      return "changed by someone else";
    case Finding::Kind::kWrongSize:
      return "wrong size";
    case Finding::Kind::kWrongMd5:
      return "wrong MD5";
    case Finding::Kind::kWrongMetadata:
      return "wrong metadata";
    case Finding::Kind::kSourceChanged:
      return "source changed";
    case Finding::Kind::kUnexpected:
      return "unexpected blob";
  }
  return "unknown";
}

namespace {

class VerifyRun {
 public:
  VerifyRun(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
            const VerifyOptions& options, VerifyReport& report)
      : catalog_(catalog), source_(source), target_(target), options_(options), report_(report) {
    content_types_.content_type = catalog.config().content_type;
    content_types_.guess_content_type = catalog.config().guess_content_type;
  }

  Status Quick() {
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    Status st = TargetMerge::Run(
        catalog_, target_, storage::ListOptions{.metadata = true},
        [&](Item& item, const Entry& blob) -> Status {
          if (ExpectsBlob(item)) return Compare(item, blob);
          if (Unowned(&item))
            return Found(
                Finding{Finding::Kind::kUnexpected, blob.path, "a blob ferry did not write"});
          return Status::Ok();
        },
        [&](Item& item) -> Status {
          if (!ExpectsBlob(item)) return Status::Ok();
          return Record(item, Finding{Finding::Kind::kMissing, item.path, "no blob in the target"});
        },
        [&](const Entry& blob) -> Status {
          return Found(Finding{Finding::Kind::kUnexpected, blob.path,
                               fmt::format("a blob ferry did not write (size {})", blob.size)});
        });
    Status committed = catalog_.CommitTransaction();
    return st.ok() ? committed : st;
  }

  Status Deep() {
    // Choose the files: all copied ones, a seeded share of them, or the N with the lowest
    // seeded hash (a reproducible sample that does not depend on listing order).
    auto chosen = [&](const Item& item) {
      if (options_.sample_percent) {
        return double(SeededHash(report_.seed, item.path)) / 18446744073709551616.0 <
               *options_.sample_percent / 100.0;
      }
      return true;
    };
    std::set<std::string> sample;
    if (options_.sample_count) {
      SeededSample lowest(report_.seed, *options_.sample_count);
      FERRY_RETURN_IF_ERROR(catalog_.ForEachItem({ItemState::kCopied}, [&](Item& item) {
        if (item.kind == Kind::kFile) lowest.Offer(item.path);
        return Status::Ok();
      }));
      sample = lowest.Take();
    }
    // Files are re-read a batch at a time, in parallel; their results are recorded in order.
    TaskPool readers(std::max(1, options_.read_concurrency));
    std::vector<Item> batch;
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    Status checked = catalog_.ForEachItem({ItemState::kCopied}, [&](Item& item) -> Status {
      if (item.kind != Kind::kFile || !item.md5) return Status::Ok();
      if (options_.sample_count ? !sample.contains(item.path) : !chosen(item)) return Status::Ok();
      batch.push_back(item);
      if (batch.size() < kDeepBatch) return Status::Ok();
      return DeepBatch(readers, batch);
    });
    if (checked.ok()) checked = DeepBatch(readers, batch);
    Status committed = catalog_.CommitTransaction();  // what was recorded stays, whatever came
    return checked.ok() ? committed : checked;
  }

 private:
  static constexpr size_t kDeepBatch = 200;  // also how often the results are committed

  // What re-reading one copied file found: the target's MD5, and the source's when the
  // target's was right.
  struct DeepRead {
    Result<Md5Digest> there = Status(Code::kInternal, "not read");
    std::optional<Result<Md5Digest>> here;
  };

  DeepRead ReadBoth(const Item& item) {
    DeepRead read;
    read.there = storage::ReadMd5(target_, item.path);
    if (read.there.ok() && *read.there == *item.md5)
      read.here = storage::ReadMd5(source_, item.path);
    return read;
  }

  Status DeepBatch(TaskPool& readers, std::vector<Item>& batch) {
    std::vector<DeepRead> reads(batch.size());
    std::vector<std::future<void>> done;
    for (size_t i = 0; i < batch.size(); ++i) {
      done.push_back(readers.Submit([this, &batch, &reads, i] { reads[i] = ReadBoth(batch[i]); }));
    }
    for (auto& d : done) d.wait();  // every read is over before anything it uses goes
    for (auto& d : done) d.get();   // a read that threw throws here, as it did unbatched
    for (size_t i = 0; i < batch.size(); ++i) {
      counted_ = batch[i].verify_result != "ok";  // quick already found this one wrong
      FERRY_RETURN_IF_ERROR(RecordDeep(batch[i], reads[i]));
      ++report_.deep_checked;
    }
    batch.clear();
    FERRY_RETURN_IF_ERROR(catalog_.CommitTransaction());
    return catalog_.BeginTransaction();
  }

  // Records what re-reading one copied file in the target and at the source found.
  Status RecordDeep(Item& item, const DeepRead& read) {
    if (!read.there.ok()) {
      return Record(item,
                    Finding{Finding::Kind::kMissing, item.path, read.there.status().message()});
    }
    if (*read.there != *item.md5) {
      return Record(item, Finding{Finding::Kind::kWrongMd5, item.path,
                                  fmt::format("target bytes have MD5 {}, the catalog {}",
                                              Md5Hex(*read.there), Md5Hex(*item.md5))});
    }
    const Result<Md5Digest>& here = *read.here;
    if (here.ok() && *here == *item.md5) return Status::Ok();
    return Record(
        item, Finding{Finding::Kind::kSourceChanged, item.path,
                      here.ok() ? fmt::format("source bytes have MD5 {}, the catalog {} (run sync)",
                                              Md5Hex(*here), Md5Hex(*item.md5))
                                : here.status().message()});
  }

  Status Compare(Item& item, const Entry& blob) {
    ++report_.checked;
    if (item.kind == Kind::kFolder) ++report_.checked_folders;
    if (options_.progress && report_.checked % 1000 == 0) options_.progress(report_.checked);
    if (blob.etag != item.target_etag) {
      return Record(item, Finding{Finding::Kind::kChanged, item.path, DescribeDrift(item, blob)});
    }
    // The operator kept someone else's blob: that it is still the one kept is all there is.
    if (item.state == ItemState::kKept) return Record(item, std::nullopt);
    if (item.state != ItemState::kCopied) return Status::Ok();  // awaiting sync: exists is enough
    uint64_t size = item.kind == Kind::kFolder ? 0 : item.size;
    if (blob.size != size) {
      return Record(item, Finding{Finding::Kind::kWrongSize, item.path, DescribeDrift(item, blob)});
    }
    if (item.md5 && target_.StoresContentMd5() && blob.content_md5 != item.md5) {
      return Record(item, Finding{Finding::Kind::kWrongMd5, item.path,
                                  fmt::format("target Content-MD5 {}, catalog {}",
                                              blob.content_md5 ? Md5Hex(*blob.content_md5) : "none",
                                              Md5Hex(*item.md5))});
    }
    if (item.kind == Kind::kFile && !blob.content_type.empty()) {
      std::string expected = item.content_type.empty()  // copied before types were recorded
                                 ? transfer::ContentTypeFor(content_types_, item.path)
                                 : item.content_type;
      if (expected.empty()) expected = "application/octet-stream";
      if (blob.content_type != expected) {
        return Record(item, Finding{Finding::Kind::kWrongMetadata, item.path,
                                    fmt::format("Content-Type {}; expected {}", blob.content_type,
                                                expected)});
      }
    }
    auto meta = [&](const char* key) {
      auto it = blob.metadata.find(key);
      return it == blob.metadata.end() ? std::string("(none)") : it->second;
    };
    if (meta("modtime") != std::to_string(item.mtime_ns) ||
        (item.mode != 0 && meta("permissions") != std::to_string(item.mode))) {
      return Record(item,
                    Finding{Finding::Kind::kWrongMetadata, item.path,
                            fmt::format("modtime {} permissions {}; catalog {} {}", meta("modtime"),
                                        meta("permissions"), item.mtime_ns, item.mode)});
    }
    return Record(item, std::nullopt);
  }

  // Records the item's verification result (and the finding, if any).
  Status Record(Item& item, std::optional<Finding> finding) {
    item.verified_ns = NowUnixNs();
    if (finding) {
      item.verify_result = fmt::format("{}: {}", FindingName(finding->kind), finding->detail);
      FERRY_RETURN_IF_ERROR(Found(*finding));
      if (!counted_) ++mismatched_items_;
    } else {
      item.verify_result = "ok";
    }
    FERRY_RETURN_IF_ERROR(catalog_.UpdateItem(item));
    if (!finding) {
      return catalog_.AppendEvent(report_.run, item.path, "verified",
                                  JsonText(nlohmann::json{{"etag", item.target_etag}}));
    }
    return catalog_.AppendEvent(report_.run, item.path, "verify-mismatch",
                                JsonText(nlohmann::json{{"problem", FindingName(finding->kind)},
                                                        {"detail", finding->detail}}));
  }

  Status Found(const Finding& finding) {
    ++report_.mismatches;
    if (finding.kind == Finding::Kind::kUnexpected) ++report_.unexpected;
    if (options_.on_finding) options_.on_finding(finding);
    return Status::Ok();
  }

  catalog::Catalog& catalog_;
  storage::Store& source_;
  storage::Store& target_;
  const VerifyOptions& options_;
  VerifyReport& report_;
  bool counted_ = false;  // the current item is already counted as mismatched

 public:
  int64_t mismatched_items_ = 0;
  transfer::UploadOptions content_types_;  // the Content-Type each file's blob should have
};

}  // namespace

Result<VerifyReport> Verify(catalog::Catalog& catalog, storage::Store& source,
                            storage::Store& target, const VerifyOptions& options) {
  auto start = std::chrono::steady_clock::now();
  VerifyReport report;
  report.seed = options.seed;
  Result<int64_t> run =
      catalog.BeginRun(options.deep ? catalog::Stage::kVerifyDeep : catalog::Stage::kVerify);
  if (!run.ok()) return run.status();
  report.run = *run;
  VerifyRun verify(catalog, source, target, options, report);
  Status status = verify.Quick();
  if (status.ok() && options.deep) status = verify.Deep();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.ok = report.checked - verify.mismatched_items_;
  if (status.ok()) {
    Result<OpenProblems> open = CountOpenProblems(catalog);
    if (open.ok()) {
      report.open = *open;
    } else {
      status = open.status();
    }
  }
  catalog::Run record;
  record.id = report.run;
  record.files = report.checked;
  record.failed = report.mismatches;
  record.outcome = !status.ok()             ? "failed"
                   : report.mismatches      ? "mismatches"
                   : report.open.blocking() ? "open problems"
                                            : "done";
  record.summary_json = JsonText(nlohmann::json{
      {"checked", report.checked},
      {"checked_folders", report.checked_folders},
      {"ok", report.ok},
      {"mismatches", report.mismatches},
      {"unexpected", report.unexpected},
      {"deep_checked", report.deep_checked},
      {"sampled", options.sample_count.has_value() || options.sample_percent.has_value()},
      {"seed", report.seed}});
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  if (!status.ok()) return status;
  return report;
}

}  // namespace ferry::migration
