#include "migration/shared_listing.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/task_pool.h"

namespace ferry::migration {

bool ListingIsShared(catalog::Catalog& catalog, storage::Store& source) {
  // Of object stores, those whose level listings name every prefix: S3 servers may leave some
  // out (storage::SplitListing lists S3 in ranges instead), and a prefix left out would read as
  // deleted.
  return catalog.SharesListing() && (source.IsFolderTree() || !source.ListsAfter());
}

int PartsAtOnce(int concurrency) { return concurrency > 0 ? concurrency : 4; }

namespace {

constexpr int kClaim = 16;        // folders claimed, listed and recorded at a time
constexpr int kListedAtOnce = 4;  // folders of a batch listed at once

// One folder's level, as it is to be recorded: what the filter takes, and the folders to list
// next (all but those it excludes, as a scan of one process walks them). With `device` (a
// helper's), folders on another device are mount points on this machine: left to the scanner.
catalog::ListedFolder ListFolder(storage::Store& source, const std::string& folder,
                                 const SharedListingOptions& options,
                                 std::optional<uint64_t> device, Status& fatal) {
  catalog::ListedFolder listed;
  listed.folder = folder;
  Result<storage::LevelPage> page =
      source.ListLevel(folder.empty() ? "" : folder + "/", "",
                       storage::ListOptions{.metadata = false, .concurrency = options.concurrency});
  if (!page.ok()) {
    if (folder.empty()) fatal = page.status();  // no root: nothing can be said
    listed.error = page.status().message();
    return listed;
  }
  std::map<std::string, uint64_t> devices;
  for (storage::Entry& entry : page->entries) {
    if (entry.kind == storage::Kind::kFolder) devices[entry.path] = entry.device;
    if (options.filter.Included(entry.path, entry.kind == storage::Kind::kFolder)) {
      listed.entries.push_back(std::move(entry));
    }
  }
  listed.unlisted = std::move(page->unlisted);
  for (std::string& prefix : page->prefixes) {
    prefix.pop_back();  // "dir/" -> "dir"
    if (options.filter.Excluded(prefix)) continue;
    auto it = devices.find(prefix);
    if (device && it != devices.end() && it->second != *device) {
      listed.scanner_subfolders.push_back(std::move(prefix));
    } else {
      listed.subfolders.push_back(std::move(prefix));
    }
  }
  return listed;
}

// The claimed folder as this machine sees it, or why it is not the one the scan's listing saw.
Result<storage::Entry> AsRecorded(storage::Store& source, const catalog::FolderClaim& claim) {
  Result<storage::Entry> now = source.Stat(claim.path);
  if (!now.ok()) return now.status();
  if (now->kind != storage::Kind::kFolder || now->inode != claim.inode ||
      now->mtime_ns != claim.mtime_ns) {
    return Status(Code::kRefused,
                  fmt::format("'{}' is inode {} modified {} here, and inode {} modified {} in "
                              "the scan's listing",
                              claim.path, now->inode, now->mtime_ns, claim.inode, claim.mtime_ns));
  }
  return now;
}

// Whether the scan of `run` went on past its listing (it merged it, and may still be at work: a
// sync copies next) rather than ending without it.
Result<bool> ScanWentOn(catalog::Catalog& catalog, int64_t run) {
  Result<int64_t> open = catalog.OpenListingRun();
  if (!open.ok()) return open.status();
  if (*open == run) return true;
  Result<std::vector<catalog::Run>> runs = catalog.Runs();
  if (!runs.ok()) return runs.status();
  for (const catalog::Run& r : *runs) {
    if (r.id != run) continue;
    // Still marked running, it went on only if its process still holds the migration: one
    // that died mid-listing left its run so until the next process opens the migration.
    if (r.outcome == "running") return catalog.RunHoldsMigration(run);
    return catalog::WentThrough(r.outcome);
  }
  return false;
}

constexpr size_t kPartBatch = 5000;  // entries of a part recorded at a time, at most
constexpr auto kPartBatchTime = std::chrono::seconds(5);  // ... or after this long

// What the parts being listed tell the thread that records them: a batch is ready.
struct Wake {
  std::mutex mu;
  std::condition_variable cv;
};

// One part of an object store's listing (a prefix), listed flat on a pool thread and handed to
// the recording thread a batch at a time; the listing waits while its last batch is unrecorded.
class PartListing {
 public:
  PartListing(catalog::FolderClaim claim, std::shared_ptr<Wake> wake)
      : claim_(std::move(claim)), wake_(std::move(wake)) {
    recorded_to_ = claim_.listed_to;
  }

  const std::string& prefix() const { return claim_.path; }

  // On a pool thread: lists the prefix after what was recorded of it, until the end, an error
  // or Cancel.
  void Run(storage::Store& source, const Filter& filter) {
    try {
      List(source, filter);
    } catch (const std::exception& e) {  // never a part held and renewed with no one listing it
      Fail(Status(Code::kInternal, fmt::format("listing '{}': {}", claim_.path, e.what())));
    }
  }

  // The batch to record, if one is ready; or the error that ended the listing.
  std::optional<Result<catalog::ListedPart>> Take() {
    std::lock_guard lock(wake_->mu);
    if (ready_) {
      ready_ = false;
      wake_->cv.notify_all();
      return Result<catalog::ListedPart>(std::move(batch_));
    }
    if (!status_.ok()) return Result<catalog::ListedPart>(status_);
    return std::nullopt;
  }

  void Cancel() {
    std::lock_guard lock(wake_->mu);
    cancelled_ = true;
    wake_->cv.notify_all();
  }

  // The recording thread's account of the part: how far it was recorded, and when.
  std::string recorded_to_;
  std::chrono::steady_clock::time_point recorded_at_ = std::chrono::steady_clock::now();

 private:
  void List(storage::Store& source, const Filter& filter) {
    Result<std::unique_ptr<storage::Lister>> lister =
        source.List(claim_.path,
                    storage::ListOptions{.metadata = source.KindsNeedMetadata(), .concurrency = 1});
    if (!lister.ok()) return Fail(lister.status());
    std::vector<storage::Entry> pending;
    std::string last = claim_.listed_to;  // how far the part is listed
    std::string previous;                 // the path listed before this one
    auto since = std::chrono::steady_clock::now();
    storage::Entry entry;
    while (true) {
      if (Cancelled()) return;
      Result<bool> more = (*lister)->Next(entry);
      if (!more.ok()) return Fail(more.status());
      if (!*more) return HandOff(std::move(pending), last, /*done=*/true);
      if (!entry.path.starts_with(claim_.path)) {
        return Fail(Status(
            Code::kIo, fmt::format("the listing of '{}' returned '{}'", claim_.path, entry.path)));
      }
      // Every path in order, those skipped below too: a path that came out of order before where
      // the part was recorded to would otherwise be skipped, and taken for deleted.
      if (!previous.empty() && entry.path <= previous) {
        return Fail(
            Status(Code::kRefused, fmt::format("the listing is not in byte order ('{}' after '{}')",
                                               entry.path, previous)));
      }
      previous = entry.path;
      // Listed and recorded by the process that held the part before.
      if (!claim_.listed_to.empty() && entry.path <= claim_.listed_to) continue;
      last = entry.path;
      if (filter.Included(entry.path, entry.kind == storage::Kind::kFolder)) {
        pending.push_back(std::move(entry));
      }
      if (pending.size() >= kPartBatch ||
          std::chrono::steady_clock::now() - since >= kPartBatchTime) {
        HandOff(std::move(pending), last, /*done=*/false);
        pending.clear();
        since = std::chrono::steady_clock::now();
      }
    }
  }

  bool Cancelled() {
    std::lock_guard lock(wake_->mu);
    return cancelled_;
  }

  void HandOff(std::vector<storage::Entry> entries, const std::string& last, bool done) {
    std::unique_lock lock(wake_->mu);
    wake_->cv.wait(lock, [&] { return !ready_ || cancelled_; });
    if (cancelled_) return;
    batch_ = {claim_.path, std::move(entries), last, done};
    ready_ = true;
    wake_->cv.notify_all();
  }

  void Fail(Status status) {
    std::lock_guard lock(wake_->mu);
    status_ = std::move(status);
    wake_->cv.notify_all();
  }

  const catalog::FolderClaim claim_;
  std::shared_ptr<Wake> wake_;
  // Under wake_->mu:
  catalog::ListedPart batch_;
  bool ready_ = false;
  bool cancelled_ = false;
  Status status_;
};

// Whether a helper should go on listing the open listing of `run`: nullopt while it is open;
// else the report (the scan went on past its listing), or why it stops.
std::optional<Result<SharedListingReport>> ListingOver(catalog::Catalog& catalog, int64_t run,
                                                       const SharedListingReport& report,
                                                       bool check_open) {
  if (check_open) {
    Result<int64_t> open = catalog.OpenListingRun();
    if (!open.ok()) return Result<SharedListingReport>(open.status());
    if (*open == run) return std::nullopt;
  }
  Result<bool> on = ScanWentOn(catalog, run);
  if (!on.ok()) return Result<SharedListingReport>(on.status());
  if (*on) return Result<SharedListingReport>(report);
  return Result<SharedListingReport>(
      Status(Code::kInvalidInput,
             fmt::format("the scan of run {} ended before its listing was merged (stopped, failed "
                         "or its process gone): run the scan again",
                         run)));
}

// ListShared for an object store: the scan recorded the plan (the levels' entries, and the
// prefixes as folders to list); each process claims prefixes, as many as it lists at once, and
// lists each flat, recording a batch at a time. A part a helper cannot list goes back to the
// scanning process, whose view of the source is the reference; one the scanning process cannot
// list fails the listing, as it fails a listing in one process.
Result<SharedListingReport> ListParts(catalog::Catalog& catalog, storage::Store& source,
                                      int64_t run, const SharedListingOptions& options) {
  SharedListingReport report;
  const size_t streams = size_t(PartsAtOnce(options.concurrency));
  auto wake = std::make_shared<Wake>();
  std::vector<std::shared_ptr<PartListing>> active;
  TaskPool pool{int(streams)};
  // However it returns, the parts still listed stop (one waiting to hand a batch over would
  // keep the pool from joining).
  struct CancelAtExit {
    std::vector<std::shared_ptr<PartListing>>& parts;
    ~CancelAtExit() {
      for (const auto& part : parts) part->Cancel();
    }
  } cancel_at_exit{active};
  auto stopped = [&] { return options.stop && options.stop->load(); };
  auto give_back = [&](bool to_scanner) {
    std::vector<std::string> back;
    for (const auto& part : active) {
      part->Cancel();
      back.push_back(part->prefix());
    }
    (void)catalog.ReleaseFolders(run, back, to_scanner);
    active.clear();
  };
  auto checked = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  while (true) {
    if (stopped()) {
      give_back(/*to_scanner=*/false);  // to the others, at once
      return Status(Code::kCancelled, "stopped");
    }
    if (!options.scanner && std::chrono::steady_clock::now() - checked >= std::chrono::seconds(1)) {
      checked = std::chrono::steady_clock::now();
      std::optional<Result<SharedListingReport>> over =
          ListingOver(catalog, run, report, /*check_open=*/true);
      if (over) {
        give_back(/*to_scanner=*/false);
        return *over;
      }
    }
    if (active.size() < streams) {
      Result<std::vector<catalog::FolderClaim>> claimed =
          catalog.ClaimFolders(run, int(streams - active.size()), options.lease, options.scanner);
      if (!claimed.ok()) {
        give_back(false);
        return claimed.status();
      }
      for (catalog::FolderClaim& claim : *claimed) {
        // A part of its own whose claim ran out while it lists it: the claim is its again. It
        // goes on, unless another process recorded more of the part meanwhile (took it over,
        // then stopped): then it starts again from there, as any process taking it over does.
        auto same = std::find_if(active.begin(), active.end(),
                                 [&](const auto& part) { return part->prefix() == claim.path; });
        if (same != active.end()) {
          if ((*same)->recorded_to_ == claim.listed_to) continue;
          (*same)->Cancel();
          active.erase(same);
        }
        auto part = std::make_shared<PartListing>(std::move(claim), wake);
        active.push_back(part);
        pool.Submit([part, &source, &options] { part->Run(source, options.filter); });
      }
    }
    if (active.empty()) {
      Result<int64_t> left = catalog.FoldersLeft(run);
      if (!left.ok()) return left.status();
      if (*left == 0) {
        if (options.scanner) return report;
        return *ListingOver(catalog, run, report, /*check_open=*/false);
      }
      // Others are listing the last ones: wait for them (or for their claims to run out).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    {
      std::unique_lock lock(wake->mu);
      wake->cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    for (size_t i = 0; i < active.size();) {
      const std::shared_ptr<PartListing> held = active[i];  // kept while give_back empties active
      PartListing& part = *held;
      std::optional<Result<catalog::ListedPart>> batch = part.Take();
      const bool renew =
          !batch && std::chrono::steady_clock::now() - part.recorded_at_ >= options.lease / 4;
      if (!batch && !renew) {
        ++i;
        continue;
      }
      if (batch && !batch->ok()) {
        if (options.scanner) {
          give_back(false);
          return Status(batch->status().code(), fmt::format("cannot list '{}': {}", part.prefix(),
                                                            batch->status().message()));
        }
        // Not listed here: the scanning process lists it, from where it was recorded.
        FERRY_RETURN_IF_ERROR(catalog.ReleaseFolders(run, {part.prefix()}, /*to_scanner=*/true));
        ++report.given_back;
        if (report.first_difference.empty()) {
          report.first_difference =
              fmt::format("'{}' could not be listed: {}", part.prefix(), batch->status().message());
        }
        active.erase(active.begin() + long(i));
        continue;
      }
      // A batch, or (none for a quarter of the lease) no entries, to keep the claim.
      catalog::ListedPart record =
          batch ? std::move(**batch)
                : catalog::ListedPart{part.prefix(), {}, part.recorded_to_, false};
      Result<bool> kept = catalog.RecordPart(run, record, options.lease);
      if (!kept.ok()) {
        give_back(false);
        return kept.status();
      }
      part.recorded_at_ = std::chrono::steady_clock::now();
      if (!*kept || record.done) {
        // Done, or taken over by another process (its claim ran out): the other goes on from
        // what was recorded last.
        part.Cancel();
        if (*kept) ++report.folders;
        active.erase(active.begin() + long(i));
      } else {
        part.recorded_to_ = record.listed_to;
        ++i;
      }
      if (*kept) {
        report.entries += int64_t(record.entries.size());
        if (options.progress) options.progress(report.folders, report.entries);
      }
    }
  }
}

}  // namespace

Result<SharedListingReport> ListShared(catalog::Catalog& catalog, storage::Store& source,
                                       int64_t run, const SharedListingOptions& options) {
  if (!source.IsFolderTree()) return ListParts(catalog, source, run, options);
  SharedListingReport report;
  TaskPool pool(kListedAtOnce);
  auto stopped = [&] { return options.stop && options.stop->load(); };
  auto gone = [&] {
    return Status(Code::kInvalidInput,
                  fmt::format("the scan of run {} ended before its listing was merged (stopped, "
                              "failed or its process gone): run the scan again",
                              run));
  };
  bool root = options.scanner;
  while (true) {
    if (stopped()) return Status(Code::kCancelled, "stopped");
    if (!options.scanner) {
      Result<int64_t> open = catalog.OpenListingRun();
      if (!open.ok()) return open.status();
      if (*open != run) {
        Result<bool> on = ScanWentOn(catalog, run);
        if (!on.ok()) return on.status();
        return *on ? report : Result<SharedListingReport>(gone());
      }
    }
    std::vector<catalog::FolderClaim> claimed;
    if (root) {
      claimed.push_back({"", 0, 0});
      root = false;
    } else {
      Result<std::vector<catalog::FolderClaim>> got =
          catalog.ClaimFolders(run, kClaim, options.lease, options.scanner);
      if (!got.ok()) return got.status();
      claimed = std::move(got).value();
    }
    if (claimed.empty()) {
      Result<int64_t> left = catalog.FoldersLeft(run);
      if (!left.ok()) return left.status();
      if (*left == 0) {
        if (options.scanner) return report;
        Result<bool> on = ScanWentOn(catalog, run);
        if (!on.ok()) return on.status();
        return *on ? report : Result<SharedListingReport>(gone());
      }
      // Others are listing the last ones: wait for them (or for their claims to run out).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // A helper lists what it can show to be the folder the scan's listing saw; the rest goes
    // back, for the scanning process.
    std::vector<std::optional<uint64_t>> devices(claimed.size());
    if (!options.scanner) {
      std::vector<catalog::FolderClaim> mine;
      std::vector<std::string> back;
      for (const catalog::FolderClaim& claim : claimed) {
        Result<storage::Entry> here = AsRecorded(source, claim);
        if (here.ok()) {
          devices[mine.size()] = here->device;
          mine.push_back(claim);
          continue;
        }
        back.push_back(claim.path);
        if (report.first_difference.empty()) report.first_difference = here.status().message();
      }
      FERRY_RETURN_IF_ERROR(catalog.ReleaseFolders(run, back, /*to_scanner=*/true));
      report.given_back += int64_t(back.size());
      claimed = std::move(mine);
      if (claimed.empty()) continue;
    }
    std::vector<catalog::ListedFolder> batch(claimed.size());
    std::vector<Status> fatal(claimed.size());
    std::vector<std::future<void>> listing;
    for (size_t i = 0; i < claimed.size(); ++i) {
      listing.push_back(pool.Submit([&, i] {
        if (!stopped()) {
          batch[i] = ListFolder(source, claimed[i].path, options, devices[i], fatal[i]);
        }
      }));
    }
    for (auto& done : listing) done.get();
    if (stopped()) {
      std::vector<std::string> back;
      for (const catalog::FolderClaim& claim : claimed) back.push_back(claim.path);
      (void)catalog.ReleaseFolders(run, back, /*to_scanner=*/false);  // to the others, at once
      return Status(Code::kCancelled, "stopped");
    }
    for (const Status& st : fatal) {
      if (!st.ok()) return st;
    }
    Result<int> recorded = catalog.RecordFolders(run, batch);
    if (!recorded.ok()) return recorded.status();
    report.folders += *recorded;
    for (const catalog::ListedFolder& f : batch) report.entries += int64_t(f.entries.size());
    if (options.progress) options.progress(report.folders, report.entries);
  }
}

}  // namespace ferry::migration
