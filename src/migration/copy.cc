#include "migration/copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "migration/safety.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;
using transfer::UploadOutcome;
using transfer::UploadResult;

nlohmann::json EngineJson(const EngineStats& e) {
  return {{"tuned", e.tuned},           {"initial", e.streams_initial},
          {"lowest", e.streams_lowest}, {"highest", e.streams_highest},
          {"last", e.streams_last},     {"backoffs", e.backoffs}};
}

transfer::UploadItem UploadOf(const catalog::Item& item) {
  transfer::UploadItem upload;
  upload.path = item.path;
  upload.kind = item.kind;
  upload.size = item.size;
  upload.mtime_ns = item.mtime_ns;
  upload.mode = item.mode;
  upload.uid = item.uid;
  upload.gid = item.gid;
  upload.link_target = item.link_target;
  return upload;
}

std::string CauseOf(const Status& status) {
  if (status.http_status() != 0) {
    return fmt::format("target: HTTP {}{}", status.http_status(),
                       status.service_code().empty() ? "" : " " + status.service_code());
  }
  const std::string& m = status.message();
  size_t colon = m.rfind(": ");
  std::string tail = colon == std::string::npos ? m : m.substr(colon + 2);
  switch (status.code()) {
    case Code::kTransient:
      return "network: " + tail;
    case Code::kIo:
    case Code::kNotFound:
      return "source: " + tail;
    default:
      return std::string(CodeName(status.code())) + ": " + tail;
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// An error that says the target as a whole cannot be written now.
bool TargetWide(const Status& error) {
  switch (error.code()) {
    case Code::kTransient:
    case Code::kThrottled:
    case Code::kAuth:
      return true;
    case Code::kNotFound:
      return error.endpoint_wide();
    default:
      return false;
  }
}

// An item on its way to a worker: the write it is to make, and the write an earlier run began
// for it and a crash left unrecorded (the mark that write left on its blob, if it got there).
struct Work {
  Item item;
  std::string earlier_intent;
};

struct Done {
  Item item;
  UploadResult result;
};

// Items flow to the workers through `todo`, outcomes back through `done`.
class Exchange {
 public:
  void Push(Work work) {
    {
      std::lock_guard lock(mu_);
      todo_.push_back(std::move(work));
    }
    work_cv_.notify_one();
  }
  // Takes back the items no worker has started; returns how many. They stay as the catalog
  // has them (pending or failed), for the next run.
  size_t Withdraw() {
    std::lock_guard lock(mu_);
    size_t n = todo_.size();
    todo_.clear();
    return n;
  }
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    work_cv_.notify_all();
  }
  std::optional<Work> Take() {
    std::unique_lock lock(mu_);
    work_cv_.wait(lock, [&] { return closed_ || !todo_.empty(); });
    if (todo_.empty()) return std::nullopt;
    Work work = std::move(todo_.front());
    todo_.pop_front();
    return work;
  }
  void Finish(Done done) {
    {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(done));
    }
    done_cv_.notify_one();
  }
  // Waits up to `wait` for outcomes and returns them all.
  std::deque<Done> Collect(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    done_cv_.wait_for(lock, wait, [&] { return !done_.empty(); });
    std::deque<Done> out;
    out.swap(done_);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Work> todo_;
  std::deque<Done> done_;
  bool closed_ = false;
};

// The upload options of this migration's copies: its blobs carry its id, and files above the
// engine's block_above go in blocks.
transfer::UploadOptions UploadFor(const CopyOptions& copy, const std::string& id) {
  transfer::UploadOptions options = copy.upload;
  options.owner = id;
  options.stream_limit = copy.engine.block_above;
  return options;
}

transfer::UploadItem ToUpload(const Work& work, bool overwrite) {
  const Item& item = work.item;
  transfer::UploadItem upload = UploadOf(item);
  // A pending item with a recorded ETag changed at the source: it replaces ferry's blob.
  upload.replace_etag = item.target_etag;
  if (!item.target_etag.empty()) upload.previous_md5 = item.md5;
  upload.overwrite = overwrite;
  upload.mark = item.write_intent;
  upload.earlier_mark = work.earlier_intent;
  return upload;
}

// Where the items to copy come from: the catalog's listing (one process), or claims on items
// (one worker of many).
class ItemFeed {
 public:
  enum class Got { kItem, kNotNow, kEnd };
  virtual ~ItemFeed() = default;
  // The next item; kNotNow when none is free now but other workers still hold some.
  virtual Result<Got> Next(Item& item) = 0;
};

class ListingFeed final : public ItemFeed {
 public:
  explicit ListingFeed(catalog::ItemCursor cursor) : cursor_(std::move(cursor)) {}
  Result<Got> Next(Item& item) override {
    Result<bool> more = cursor_.Next(item);
    if (!more.ok()) return more.status();
    return *more ? Got::kItem : Got::kEnd;
  }

 private:
  catalog::ItemCursor cursor_;
};

class ClaimFeed final : public ItemFeed {
 public:
  ClaimFeed(catalog::Catalog& catalog, std::vector<ItemState> states, int batch)
      : catalog_(catalog), states_(std::move(states)), batch_(batch) {}
  Result<Got> Next(Item& item) override {
    if (claimed_.empty()) {
      // Nothing free at the last look: look again in a second, not at every turn.
      if (Clock::now() < next_look_) return Got::kNotNow;
      Result<std::vector<Item>> claimed = catalog_.ClaimItems(states_, batch_);
      if (!claimed.ok()) return claimed.status();
      for (Item& i : *claimed) claimed_.push_back(std::move(i));
      if (claimed_.empty()) {
        Result<int64_t> elsewhere = catalog_.HeldElsewhere(states_);
        if (!elsewhere.ok()) return elsewhere.status();
        // Claims another worker has made but not yet committed are invisible: the end is two
        // empty looks a second apart (longer than any worker's commit interval), or one when no
        // other worker is live to hold any.
        if (*elsewhere == 0 && empty_before_) return Got::kEnd;
        if (*elsewhere == 0) {
          Result<int> live = catalog_.LiveWorkers();
          if (!live.ok()) return live.status();
          if (*live <= 1) return Got::kEnd;
        }
        empty_before_ = *elsewhere == 0;
        next_look_ = Clock::now() + std::chrono::seconds(1);
        return Got::kNotNow;
      }
    }
    empty_before_ = false;
    item = std::move(claimed_.front());
    claimed_.pop_front();
    return Got::kItem;
  }

 private:
  catalog::Catalog& catalog_;
  const std::vector<ItemState> states_;
  const int batch_;
  std::deque<Item> claimed_;
  Clock::time_point next_look_{};
  bool empty_before_ = false;
};

class CopyRun {
 public:
  CopyRun(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
          const CopyOptions& options, CopyReport& report)
      : catalog_(catalog),
        options_(options),
        report_(report),
        blocks_(std::max(2, options.engine.workers())),
        buffers_(options.engine.memory()),
        uploader_(source, target, UploadFor(options, catalog.config().id), blocks_, buffers_),
        max_in_flight_(int64_t(options.engine.workers()) * 2) {}

  Status Execute() {
    FERRY_RETURN_IF_ERROR(CountWork());
    std::unique_ptr<ItemFeed> feed;
    if (catalog_.SharesWork()) {
      FERRY_RETURN_IF_ERROR(catalog_.JoinWork(report_.run, options_.lease));
      FERRY_RETURN_IF_ERROR(Heartbeat());  // the throttles' share from the start
      feed = std::make_unique<ClaimFeed>(catalog_, WorkStates(), int(max_in_flight_));
    } else {
      Result<catalog::ItemCursor> cursor = catalog_.Items(WorkStates());
      if (!cursor.ok()) return cursor.status();
      feed = std::make_unique<ListingFeed>(std::move(cursor).value());
    }

    std::vector<std::thread> workers;
    for (int i = 0; i < options_.engine.workers(); ++i) {
      workers.emplace_back([this] {
        while (auto work = exchange_.Take()) {
          UploadResult result = uploader_.Upload(ToUpload(*work, options_.overwrite));
          exchange_.Finish({std::move(work->item), std::move(result)});
        }
      });
    }

    Status status = Pump(*feed);
    exchange_.Close();
    // Record every outcome still arriving from the items in flight.
    while (in_flight_ > 0) {
      for (Done& done : exchange_.Collect(std::chrono::milliseconds(100))) {
        Status st = Record(done);
        if (status.ok()) status = st;
      }
    }
    for (auto& w : workers) w.join();
    Report();
    Status committed = Commit();
    if (status.ok()) status = committed;
    // The claims on items not done go back to the other workers now, not when they run out.
    if (status.ok() && catalog_.SharesWork()) status = catalog_.LeaveWork();
    return status;
  }

 private:
  std::vector<ItemState> WorkStates() const {
    if (options_.overwrite) return {ItemState::kPending, ItemState::kFailed, ItemState::kConflict};
    return {ItemState::kPending, ItemState::kFailed};
  }

  Status CountWork() {
    Result<std::vector<catalog::StateTotals>> totals = catalog_.Totals();
    if (!totals.ok()) return totals.status();
    std::vector<ItemState> work = WorkStates();
    for (const auto& t : *totals) {
      if (std::find(work.begin(), work.end(), t.state) != work.end()) {
        progress_.items_total += t.files;
        progress_.bytes_total += t.bytes;
      }
    }
    return Status::Ok();
  }

  Status Pump(ItemFeed& feed) {
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    in_transaction_ = true;
    bool more = true;
    auto last_commit = Clock::now();
    // Often enough for the lease, and for status to show the fleet's progress.
    const auto heartbeat_every = std::clamp<Clock::duration>(
        options_.lease / 4, std::chrono::seconds(1), std::chrono::seconds(5));
    while (more || in_flight_ > 0) {
      bool stopping = (options_.stop && options_.stop->load()) || !report_.unreachable.empty();
      if (stopping) report_.stopped = true;
      // Renewed before any claim: a worker that stalled renews (or learns it lost) its claims
      // before it takes more.
      if (catalog_.SharesWork() && Clock::now() - last_heartbeat_ >= heartbeat_every) {
        FERRY_RETURN_IF_ERROR(Heartbeat());
      }
      // Items dispatched and not yet recorded stay few: workers that fail fast cannot run
      // through the whole list before the outcomes that would stop the run are read. The
      // window is refilled once half of it is done, so each commit of intents covers many
      // items while every stream still has one.
      std::vector<Work> batch;
      const bool refill = in_flight_ <= max_in_flight_ / 2;
      while (refill && more && !stopping && in_flight_ + int64_t(batch.size()) < max_in_flight_) {
        Item item;
        Result<ItemFeed::Got> next = feed.Next(item);
        if (!next.ok()) return next.status();
        if (*next == ItemFeed::Got::kEnd) more = false;
        if (*next != ItemFeed::Got::kItem) break;
        FERRY_RETURN_IF_ERROR(Dispatch(std::move(item), batch));
      }

      if (!batch.empty()) {
        // The intents are durable before any of these writes begins.
        FERRY_RETURN_IF_ERROR(Commit(/*durable=*/true));
        FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
        in_transaction_ = true;
        // In flight from here: an error before this point (the catalog lost) leaves nothing
        // that Execute would wait for.
        in_flight_ += int64_t(batch.size());
        for (Work& work : batch) exchange_.Push(std::move(work));
      }
      if (stopping) {
        more = false;
        in_flight_ -= int64_t(exchange_.Withdraw());
      }
      for (Done& done : exchange_.Collect(std::chrono::milliseconds(50))) {
        FERRY_RETURN_IF_ERROR(Record(done));
      }
      if (Clock::now() - last_commit > std::chrono::milliseconds(200)) {
        FERRY_RETURN_IF_ERROR(Commit());
        FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
        in_transaction_ = true;
        last_commit = Clock::now();
        Report();
      }
    }
    return Status::Ok();
  }

  // Renews this worker's claims. A renewal that comes later than three quarters of a lease
  // after the last (the process stalled) or finds a claim lost stops the worker: another may
  // take its items, and it must not write any more.
  Status Heartbeat() {
    const auto sent = Clock::now();
    if (last_heartbeat_ != Clock::time_point{} && sent - last_heartbeat_ > options_.lease * 3 / 4) {
      return Status(Code::kInternal,
                    fmt::format("this worker could not renew its claims for {:.0f}s, most of its "
                                "lease of {}s (stalled?): stopping, so that it writes nothing "
                                "another worker may have taken over",
                                std::chrono::duration<double>(sent - last_heartbeat_).count(),
                                options_.lease.count()));
    }
    Result<int> live = catalog_.Heartbeat(progress_.items_done, progress_.bytes_done);
    if (!live.ok()) return live.status();
    if (options_.live_workers) options_.live_workers(*live);
    last_heartbeat_ = sent;
    return Status::Ok();
  }

  // Records the item's write intent and adds it to `batch`, or (a folder with contents, which
  // needs no marker) records it as copied.
  Status Dispatch(Item item, std::vector<Work>& batch) {
    if (item.kind == storage::Kind::kFolder) {
      // A folder with contents exists through their names; only an empty one needs a marker.
      Result<bool> has_contents = catalog_.HasDescendants(item.path);
      if (!has_contents.ok()) return has_contents.status();
      if (*has_contents) {
        item.state = ItemState::kCopied;
        item.reason = "represented by its contents";
        item.cause.clear();
        item.write_intent.clear();  // nothing is written for it
        item.last_run = report_.run;
        ++report_.folders;
        return catalog_.UpdateItem(item);
      }
    }
    std::string earlier = std::move(item.write_intent);
    item.write_intent = fmt::format("{}/{}", report_.run, item.id);
    FERRY_RETURN_IF_ERROR(catalog_.UpdateItem(item));
    batch.push_back({std::move(item), std::move(earlier)});
    return Status::Ok();
  }

  Status Record(Done& done) {
    --in_flight_;
    if (done.result.outcome == UploadOutcome::kFailed &&
        done.result.error.code() == Code::kCancelled) {
      // Stopped by the operator while the throttle held it: the item stays as it was.
      report_.stopped = true;
      return Status::Ok();
    }
    if (done.item.kind == storage::Kind::kFile) ++progress_.items_done;
    Item& item = done.item;
    const UploadResult& r = done.result;
    item.write_intent.clear();  // the outcome is recorded: no blob may claim this write now
    const bool replaced = !item.target_etag.empty();
    item.attempts += 1;
    item.last_run = report_.run;
    report_.bytes_sent += int64_t(r.bytes_sent);
    report_.blocks_reused += r.blocks_reused;
    progress_.bytes_done += int64_t(item.size);
    Logged logged;
    switch (r.outcome) {
      case UploadOutcome::kCopied:
      case UploadOutcome::kAdopted:
        logged = Copied(item, r, replaced);
        break;
      case UploadOutcome::kConflict:
        item.state = ItemState::kConflict;
        item.cause = "conflict: the target holds a different blob";
        item.reason = r.detail;
        logged = {"conflict", {{"target", r.detail}}};
        ++report_.conflicts;
        break;
      case UploadOutcome::kVanished:
        logged = Vanished(item, replaced);
        break;
      case UploadOutcome::kChanging:
        item.state = ItemState::kFailed;
        item.cause = "source: kept changing while read";
        item.reason = r.error.ok() ? "changed while read" : r.error.message();
        logged = {"failed", {{"error", item.reason}}};
        ++report_.failed;
        break;
      case UploadOutcome::kFailed:
        logged = Failed(item, r.error);
        break;
    }
    if (r.outcome != UploadOutcome::kFailed) consecutive_target_failures_ = 0;
    if (item.state == ItemState::kFailed || item.state == ItemState::kConflict ||
        item.state == ItemState::kVanished) {
      ++progress_.errors[item.cause];
    }
    FERRY_RETURN_IF_ERROR(catalog_.UpdateItem(item));
    return catalog_.AppendEvent(report_.run, item.path, logged.event, JsonText(logged.detail));
  }

  // What the event log says about one outcome.
  struct Logged {
    std::string event;
    nlohmann::json detail = nlohmann::json::object();
  };

  Logged Copied(Item& item, const UploadResult& r, bool replaced) {
    const bool adopted = r.outcome == UploadOutcome::kAdopted;
    item.state = ItemState::kCopied;
    item.target_etag = r.etag;
    item.kept_blob = false;  // ferry's own blob now
    item.md5 = r.md5;
    if (item.kind == storage::Kind::kFile) {
      item.size = r.size;
      item.mtime_ns = r.mtime_ns;
      item.source_etag = r.source_etag;
      item.content_type = r.content_type;
    }
    if (r.ctime_ns != 0 || r.inode != 0) {  // the version copied, as the next scan sees it
      item.ctime_ns = r.ctime_ns;
      item.inode = r.inode;
    }
    item.reason = adopted ? "already in the target" : "";
    item.cause.clear();
    Logged logged{adopted    ? "adopted"
                  : replaced ? "recopied"
                             : "copied",
                  {{"size", item.size}, {"etag", r.etag}}};
    if (r.md5) logged.detail["md5"] = Md5Hex(*r.md5);
    if (r.blocks_reused) logged.detail["blocks_reused"] = r.blocks_reused;
    if (item.kind == storage::Kind::kFolder) {
      ++report_.folders;
    } else if (item.kind == storage::Kind::kSymlink) {
      ++report_.links;
    } else {
      (adopted ? report_.adopted : report_.copied) += 1;
    }
    if (r.metadata_only) ++report_.metadata_only;
    if (replaced) {
      ++report_.replaced;
      report_.replaced_bytes += int64_t(item.size);
    }
    report_.bytes += int64_t(item.size);
    return logged;
  }

  Logged Vanished(Item& item, bool replaced) {
    ++report_.vanished;
    if (replaced) {  // its blob is still there: recorded as deleted at the source
      item.state = ItemState::kSourceDeleted;
      item.cause.clear();
      item.reason = "deleted at the source";
      return {"source-deleted"};
    }
    item.state = ItemState::kVanished;
    item.cause = kCauseVanishedInFlight;  // open until a complete listing confirms it
    item.reason = "gone from the source while it was being copied";
    return {"vanished"};
  }

  Logged Failed(Item& item, const Status& error) {
    // Item after item failing for a reason that is the target's, not the item's (down,
    // unreachable, throttling without end, access revoked or expired, container gone): stop
    // instead of failing everything that is left.
    if (TargetWide(error) &&
        ++consecutive_target_failures_ >= std::max(8, options_.engine.workers())) {
      report_.unreachable = error.message();
    }
    item.state = ItemState::kFailed;
    item.cause = CauseOf(error);
    item.reason = error.ToString();
    ++report_.failed;
    return {"failed", {{"error", item.reason}, {"attempt", item.attempts}}};
  }

  // Outcomes alone may be committed lazily (`durable` false): lost with a crash of the
  // catalog's server, they are repeated, and adopted through the intents committed before.
  // Intents are durable before the writes they announce begin.
  Status Commit(bool durable = false) {
    if (!in_transaction_) return Status::Ok();
    in_transaction_ = false;
    return durable ? catalog_.CommitTransaction() : catalog_.CommitTransactionLazily();
  }

  void Report() {
    progress_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    auto& samples = report_.samples;
    samples.push_back(
        {progress_.seconds, double(progress_.bytes_done), double(progress_.items_done)});
    if (samples.size() > 240) {  // keep every other point: bounded, still spanning the run
      std::vector<std::array<double, 3>> half;
      for (size_t i = 0; i < samples.size(); i += 2) half.push_back(samples[i]);
      samples.swap(half);
    }
    if (options_.progress) options_.progress(progress_);
  }

  catalog::Catalog& catalog_;
  const CopyOptions& options_;
  CopyReport& report_;
  TaskPool blocks_;
  transfer::BufferPool buffers_;
  transfer::Uploader uploader_;
  Exchange exchange_;
  CopyProgress progress_;
  const int64_t max_in_flight_;
  int64_t in_flight_ = 0;
  int consecutive_target_failures_ = 0;
  bool in_transaction_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_heartbeat_{};  // when the last renewal was sent
};

}  // namespace

int64_t SyncOfShare(const catalog::Run& run) {
  if (catalog::StageNamed(run.stage) != catalog::Stage::kCopy) return 0;
  nlohmann::json summary = nlohmann::json::parse(run.summary_json, nullptr, false);
  if (!summary.is_object() || !summary.contains("for_sync")) return 0;
  return summary["for_sync"].is_number_integer() ? summary["for_sync"].get<int64_t>() : 0;
}

Result<CopyReport> Copy(catalog::Catalog& catalog, storage::Store& source, storage::Store& target,
                        const CopyOptions& options) {
  auto start = Clock::now();
  CopyReport report;
  report.run = options.run;
  if (options.run == 0) {
    Result<int64_t> run = catalog.BeginRun(catalog::Stage::kCopy);
    if (!run.ok()) return run.status();
    report.run = *run;
  }
  std::map<std::string, uint64_t> causes_before;
  if (options.retry_causes) causes_before = options.retry_causes();
  const double throttled_before =
      options.engine_stats ? options.engine_stats().throttled_seconds : 0;
  Status status;
  {
    CopyRun copy(catalog, source, target, options, report);
    status = copy.Execute();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.retry_causes) {
    for (const auto& [cause, n] : options.retry_causes()) {
      uint64_t delta = n - causes_before[cause];
      if (delta == 0) continue;
      report.retries_by_cause[cause] = delta;
      report.retries += delta;
    }
  }
  if (options.engine_stats) {
    report.engine = options.engine_stats();
    report.engine.throttled_seconds -= throttled_before;
  }
  if (!report.retries_by_cause.empty()) {
    // The audit log must hold what happened: a failed append fails the run.
    Status logged = catalog.AppendEvent(report.run, "", "retries",
                                        JsonText(nlohmann::json(report.retries_by_cause)));
    if (status.ok()) status = logged;
  }
  catalog::Run record;
  record.id = report.run;
  record.files = report.copied + report.adopted;
  record.bytes = report.bytes;
  record.failed = report.failed + report.conflicts;
  record.outcome = !status.ok()        ? "failed"
                   : report.stopped    ? "stopped"
                   : record.failed > 0 ? "failed items"
                                       : "done";
  nlohmann::json summary{{"copied", report.copied},
                         {"adopted", report.adopted},
                         {"folders", report.folders},
                         {"links", report.links},
                         {"failed", report.failed},
                         {"conflicts", report.conflicts},
                         {"vanished", report.vanished},
                         {"bytes_sent", report.bytes_sent},
                         {"blocks_reused", report.blocks_reused},
                         {"metadata_only", report.metadata_only},
                         {"retries", report.retries},
                         {"retries_by_cause", report.retries_by_cause},
                         {"samples", report.samples},
                         {"throttled_seconds", report.engine.throttled_seconds},
                         {"streams", EngineJson(report.engine)},
                         {"seconds", report.seconds}};
  if (options.for_sync != 0) summary["for_sync"] = options.for_sync;
  record.summary_json = JsonText(summary);
  if (options.run != 0) {
    if (!status.ok()) return status;
    return report;
  }
  Status ended = catalog.EndRun(record);
  if (!status.ok()) return status;
  if (!ended.ok()) return ended;
  return report;
}

}  // namespace ferry::migration
