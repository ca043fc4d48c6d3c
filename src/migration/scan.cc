#include "migration/scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>

#include "base/task_pool.h"
#include "base/text.h"
#include "migration/listing_plan.h"
#include "migration/safety.h"
#include "migration/shared_listing.h"

namespace ferry::migration {

using catalog::Item;
using catalog::ItemState;
using storage::Entry;
using storage::Kind;

namespace {
constexpr const char* kLastScanMeta = "last_scan_run";  // the note this stage owns
}  // namespace

bool HasBeenScanned(catalog::Catalog& catalog) { return catalog.GetMeta(kLastScanMeta).ok(); }

int SizeBucket(uint64_t size) {
  static constexpr uint64_t kLimits[] = {1,           4ull << 10,   64ull << 10, 1ull << 20,
                                         16ull << 20, 256ull << 20, 4ull << 30};
  for (int i = 0; i < 7; ++i) {
    if (size < kLimits[i]) return i;
  }
  return 7;
}

namespace {

constexpr int kBatch = 5000;

// Why an object store's key is no path ferry can copy: a leading '/', an empty part ("a//b"), or
// a "." or ".." part would name another item, or a place outside a folder target.
std::optional<std::string> NotAPath(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return fmt::format(
          "the name has an empty, '.' or '..' part, which no folder or blob "
          "path can hold ('{}')",
          part);
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Keeps the running totals of the folders above the current path and the ten largest closed.
class FolderSizes {
 public:
  void Add(std::string_view path, int64_t bytes) {
    // Close the folders that `path` is not inside; they will see nothing more.
    while (!stack_.empty() &&
           !(path.starts_with(stack_.back().path) && path.size() > stack_.back().path.size() &&
             path[stack_.back().path.size()] == '/')) {
      Close();
    }
    // Open the folders between the innermost open one and `path`.
    size_t from = stack_.empty() ? 0 : stack_.back().path.size() + 1;
    for (size_t slash = path.find('/', from); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      stack_.push_back({std::string(path.substr(0, slash)), 0, 0});
    }
    if (!stack_.empty()) {
      stack_.back().bytes += bytes;
      stack_.back().files += 1;
    }
  }

  std::vector<FolderSize> Finish() {
    while (!stack_.empty()) Close();
    std::vector<FolderSize> out;
    while (!top_.empty()) {
      out.push_back(top_.top());
      top_.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  void Close() {
    FolderSize done = stack_.back();
    stack_.pop_back();
    if (!stack_.empty()) {
      stack_.back().bytes += done.bytes;
      stack_.back().files += done.files;
    }
    top_.push(done);
    if (top_.size() > 10) top_.pop();
  }

  struct Smaller {
    bool operator()(const FolderSize& a, const FolderSize& b) const { return a.bytes > b.bytes; }
  };
  std::vector<FolderSize> stack_;
  std::priority_queue<FolderSize, std::vector<FolderSize>, Smaller> top_;
};

// With `sync --checksum`: the catalog's items in order, with the MD5s of the copied files the
// merge reaches next read ahead on a pool (a network share serves many reads at once, each a
// round trip or more), a window of them ahead of the merge.
class ChecksumReadAhead {
 public:
  ChecksumReadAhead(storage::Store& source, catalog::ItemCursor& items, int concurrency)
      : source_(source),
        items_(items),
        window_(4 * size_t(std::max(1, concurrency))),
        pool_(std::max(1, concurrency)) {}
  ~ChecksumReadAhead() {
    cancelled_->store(true);  // queued reads return at once; the pool joins its running ones
  }

  // The next item, as ItemCursor::Next.
  Result<bool> Next(Item& item) {
    reads_.erase(last_);  // the merge is past it: its read, if not taken, is not needed
    while (!done_ && buffered_.size() < window_) {
      Item next;
      Result<bool> more = items_.Next(next);
      if (!more.ok()) return more.status();
      if (!*more) {
        done_ = true;
        break;
      }
      if (next.kind == Kind::kFile && next.state == ItemState::kCopied && next.md5) Start(next);
      buffered_.push_back(std::move(next));
    }
    if (buffered_.empty()) return false;
    item = std::move(buffered_.front());
    buffered_.pop_front();
    last_ = item.path;
    return true;
  }

  // The MD5 of the source file at `path` now.
  Result<Md5Digest> Md5(const std::string& path) {
    auto it = reads_.find(path);
    if (it == reads_.end()) return storage::ReadMd5(source_, path);
    Result<Md5Digest> md5 = it->second.get();
    reads_.erase(it);
    // Not read ahead because it looked changed then: the merge, which saw it unchanged, reads it.
    if (md5.status().code() == Code::kPreconditionFailed) return storage::ReadMd5(source_, path);
    return md5;
  }

 private:
  // Reads the file if it is still the regular file the catalog knows (same size and mtime): a
  // file that changed is copied again anyway, and only a regular file is opened.
  void Start(const Item& item) {
    auto task = std::make_shared<std::packaged_task<Result<Md5Digest>()>>(
        [&source = source_, path = item.path, size = item.size, mtime = item.mtime_ns,
         cancelled = cancelled_]() -> Result<Md5Digest> {
          if (cancelled->load()) return Status(Code::kCancelled, "scan over");
          Result<storage::Entry> now = source.Stat(path);
          if (!now.ok() || now->kind != Kind::kFile || now->size != size ||
              now->mtime_ns != mtime) {
            return Status(Code::kPreconditionFailed, "not the version the catalog knows");
          }
          return storage::ReadMd5(source, path);
        });
    reads_[item.path] = task->get_future();
    pool_.Submit([task] { (*task)(); });
  }

  storage::Store& source_;
  catalog::ItemCursor& items_;
  const size_t window_;
  std::deque<Item> buffered_;
  bool done_ = false;
  std::string last_;
  std::map<std::string, std::future<Result<Md5Digest>>> reads_;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  TaskPool pool_;  // last: its tasks finish before the members they use go
};

class ScanMerge {
 public:
  // `listed`: the source's listing as processes that shared it recorded it; else the merge lists
  // the source itself.
  ScanMerge(catalog::Catalog& catalog, storage::Store& source, const storage::Store& target,
            const ScanOptions& options, ScanReport& report,
            std::unique_ptr<storage::Lister> listed = nullptr)
      : catalog_(catalog),
        source_(source),
        target_(target),
        options_(options),
        report_(report),
        listed_(std::move(listed)) {}

  // Merges in one transaction (committed in batches), and commits what was recorded whatever
  // happens: the next scan goes on from it.
  Status Run() {
    Result<catalog::ItemCursor> cursor = catalog_.Items();
    if (!cursor.ok()) return cursor.status();
    Result<std::unique_ptr<storage::Lister>> lister =
        listed_ ? std::move(listed_)
                : source_.List("", storage::ListOptions{.metadata = source_.KindsNeedMetadata(),
                                                        .concurrency = options_.list_concurrency});
    if (!lister.ok()) return lister.status();
    lister_ = storage::InByteOrder(std::move(lister).value(), "the source");
    if (options_.dry_run) {
      Status merged = Merge(*cursor);
      read_ahead_.reset();
      return merged;
    }
    FERRY_RETURN_IF_ERROR(catalog_.BeginTransaction());
    Status merged = Merge(*cursor);
    read_ahead_.reset();  // its reads are over before the cursor goes
    Status committed = catalog_.CommitTransaction();
    return merged.ok() ? committed : merged;
  }

  Status Merge(catalog::ItemCursor& items) {
    if (options_.sync && options_.checksum) {
      read_ahead_ =
          std::make_unique<ChecksumReadAhead>(source_, items, options_.checksum_concurrency);
    }
    auto next_known = [&](Item& item) {
      return read_ahead_ ? read_ahead_->Next(item) : items.Next(item);
    };
    Item known;
    Result<bool> has_known = next_known(known);
    if (!has_known.ok()) return has_known.status();
    Entry seen;
    Result<bool> has_seen = NextSource(seen);
    if (!has_seen.ok()) return has_seen.status();

    while (*has_seen || *has_known) {
      if (options_.stop && options_.stop->load()) {
        report_.stopped = true;  // nothing past here is known: no item is taken for gone
        break;
      }
      int order = !*has_known ? -1 : !*has_seen ? 1 : seen.path.compare(known.path);
      if (order < 0) {
        FERRY_RETURN_IF_ERROR(Added(seen));
      } else if (order == 0) {
        FERRY_RETURN_IF_ERROR(Seen(seen, known));
      } else {
        FERRY_RETURN_IF_ERROR(Gone(known));
      }
      if (order <= 0) {
        has_seen = NextSource(seen);
        if (!has_seen.ok()) return has_seen.status();
      }
      if (order >= 0) {
        has_known = next_known(known);
        if (!has_known.ok()) return has_known.status();
      }
      FERRY_RETURN_IF_ERROR(MaybeCommit());
    }
    report_.largest = folders_.Finish();
    return Status::Ok();
  }

  // Whether the listing could not say anything about `path`: it, or a folder above it, was
  // unreadable. REQUIRES: called with ascending paths.
  bool Unknown(const std::string& path) {
    // An unreadable "dir/" covers what is under dir; an unreadable entry "a/b" covers itself and,
    // since it may have been a folder, what is under it.
    auto under = [](const std::string& u) { return u.back() == '/' ? u : u + "/"; };
    auto covers = [&](const std::string& u) { return path == u || path.starts_with(under(u)); };
    // An entry whose whole range lies before `path` cannot cover any later path either.
    while (!unknown_.empty() && path > under(unknown_.front()) && !covers(unknown_.front())) {
      unknown_.pop_front();
    }
    for (const std::string& u : unknown_) {
      if (covers(u)) return true;
    }
    return false;
  }

 private:
  // The next source entry the migration takes, classified (links resolved per policy).
  Result<bool> NextSource(Entry& entry) {
    while (true) {
      Result<bool> more = lister_->Next(entry);
      if (!more.ok()) {
        // A folder (or entry) that cannot be read is recorded, and what it holds is unknown,
        // not gone; the walk goes on past it. Any other error ends the scan.
        std::string unlisted = lister_->Unlisted();
        if (unlisted.empty()) return more.status();
        unknown_.push_back(unlisted);
        ++report_.unreadable;
        if (report_.errors.size() < 100) report_.errors.push_back(more.status().message());
        if (options_.dry_run) continue;
        FERRY_RETURN_IF_ERROR(
            catalog_.AppendEvent(report_.run, unlisted, "scan-error",
                                 JsonText(nlohmann::json{{"error", more.status().message()}})));
        continue;
      }
      if (!*more) return false;
      if (!options_.filter.Included(entry.path, entry.kind == Kind::kFolder)) {
        // An excluded folder is not walked at all: a .snapshot tree of millions costs nothing.
        if (entry.kind == Kind::kFolder && options_.filter.Excluded(entry.path)) {
          lister_->SkipContents();
        }
        continue;
      }
      leaves_source_.clear();
      if (entry.kind == Kind::kSymlink && options_.symlinks == catalog::SymlinkPolicy::kFollow) {
        // A link to a file inside the source becomes that file; any other link stays a link,
        // skipped below.
        Result<Entry> target = source_.StatTarget(entry.path);
        if (target.ok() && target->kind == Kind::kFile) {
          entry = std::move(target).value();
        } else if (target.status().code() == Code::kRefused) {
          leaves_source_ = target.status().message();
        }
      }
      Tally(entry);
      return true;
    }
  }

  void Tally(const Entry& entry) {
    switch (entry.kind) {
      case Kind::kFile:
        ++report_.files;
        report_.bytes += int64_t(entry.size);
        ++report_.histogram[size_t(SizeBucket(entry.size))];
        folders_.Add(entry.path, int64_t(entry.size));
        break;
      case Kind::kFolder:
        ++report_.folders;
        break;
      case Kind::kSymlink:
        ++report_.links;
        break;
      case Kind::kSpecial:
        ++report_.specials;
        break;
    }
    if (options_.progress && (++seen_ % 1000) == 0) options_.progress(seen_, report_.bytes);
  }

  // Fills `item` from `entry` and decides whether it can be migrated.
  void Classify(const Entry& entry, Item& item) {
    item.path = entry.path;
    item.kind = entry.kind;
    item.size = entry.kind == Kind::kFolder ? 0 : entry.size;
    item.mtime_ns = entry.mtime_ns;
    item.ctime_ns = entry.ctime_ns;
    item.inode = entry.inode;
    item.source_etag = entry.etag;
    item.mode = entry.mode;
    item.uid = entry.uid;
    item.gid = entry.gid;
    item.link_target = entry.kind == Kind::kSymlink ? entry.link_target : "";
    item.state = ItemState::kPending;
    item.reason.clear();
    item.cause.clear();
    auto skip = [&](std::string cause, std::string reason) {
      item.state = ItemState::kSkipped;
      item.cause = std::move(cause);
      item.reason = std::move(reason);
    };
    // Names are strict UTF-8 whatever the target: the catalog, the log and every report carry
    // them as text.
    std::optional<std::string> unstorable =
        !Utf8Length(entry.path) ? std::optional<std::string>("the name is not valid UTF-8")
        : NotAPath(entry.path)  ? NotAPath(entry.path)
                                : target_.UnstorableReason(entry.path);
    if (auto why = unstorable) {
      skip("name the target cannot store", *why);
      ++report_.unstorable;
      if (report_.unstorable_examples.size() < 1000) {
        report_.unstorable_examples.emplace_back(entry.path, *why);
      }
    } else if (entry.kind == Kind::kSpecial) {
      skip("special file", "a FIFO, socket or device has no content to copy");
    } else if (entry.kind == Kind::kFile && entry.size > target_.MaxItemSize()) {
      skip("too large for the target",
           fmt::format("{} bytes is more than the target can hold in one item ({:.1f} TiB: {} "
                       "blocks of {} MiB)",
                       entry.size, double(target_.MaxItemSize()) / double(1ull << 40),
                       target_.MaxBlocks(), target_.MaxBlockSize() >> 20));
    } else if (entry.kind == Kind::kSymlink && source_.KindsNeedMetadata()) {
      skip("symbolic link",
           "a link blob (is_symlink) in an object store: ferry migrates links from folders only");
    } else if (entry.kind == Kind::kSymlink && !leaves_source_.empty()) {
      skip("link leaves the source", leaves_source_);
    } else if (entry.kind == Kind::kSymlink && options_.symlinks == catalog::SymlinkPolicy::kSkip) {
      skip("symbolic link", "links are skipped (--symlinks keep or follow migrates them)");
    } else if (entry.kind == Kind::kSymlink &&
               options_.symlinks == catalog::SymlinkPolicy::kFollow) {
      skip("symbolic link",
           "the link does not lead to a file (links to folders are not "
           "followed; broken links cannot be)");
    }
    if (item.state == ItemState::kSkipped) ++report_.skipped;
  }

  // Records `item` (inserted when new) and its event, unless this is a dry run.
  Status Record(Item& item, bool insert, std::string_view change, std::string_view event,
                const nlohmann::json& detail) {
    if (options_.on_change && !change.empty()) options_.on_change(change, item);
    if (options_.dry_run) return Status::Ok();
    item.last_run = report_.run;
    FERRY_RETURN_IF_ERROR(insert ? catalog_.InsertItem(item) : catalog_.UpdateItem(item));
    ++pending_writes_;
    return catalog_.AppendEvent(report_.run, item.path, event, JsonText(detail));
  }

  static bool Transfers(const Item& item) {
    return item.kind == Kind::kFile || item.kind == Kind::kSymlink;
  }

  Status Added(const Entry& entry) {
    Item item;
    Classify(entry, item);
    ++report_.added;
    bool skipped = item.state == ItemState::kSkipped;
    if (!skipped && Transfers(item)) {
      ++report_.delta_new;
      report_.delta_new_bytes += int64_t(item.size);
    }
    nlohmann::json detail{
        {"kind", storage::KindName(item.kind)}, {"size", item.size}, {"mtime_ns", item.mtime_ns}};
    if (skipped) detail["reason"] = item.reason;
    return Record(item, /*insert=*/true, skipped ? "skipped" : "new",
                  skipped ? "skipped" : "discovered", detail);
  }

  // True if the copied file's content differs from the catalog's MD5 (with --checksum).
  Result<bool> ContentDiffers(const Item& known) {
    if (!options_.checksum || known.kind != Kind::kFile || !known.md5) return false;
    Result<Md5Digest> now =
        read_ahead_ ? read_ahead_->Md5(known.path) : storage::ReadMd5(source_, known.path);
    if (!now.ok()) return now.status();
    return *now != *known.md5;
  }

  // Whether the entry is another version than the catalog's: size, mtime, kind, mode, the
  // change time and inode that betray bytes replaced with the old mtime put back (not compared
  // where the catalog has none yet), and an object's ETag.
  static bool Differs(const Entry& entry, const Item& known) {
    return entry.size != known.size || entry.mtime_ns != known.mtime_ns ||
           entry.kind != known.kind || entry.mode != known.mode ||
           (known.ctime_ns != 0 && entry.ctime_ns != known.ctime_ns) ||
           (known.inode != 0 && entry.inode != known.inode) ||
           (!known.source_etag.empty() && entry.etag != known.source_etag);
  }

  // An item recorded before the catalog kept change times and inodes gets them, quietly.
  Status Restamp(const Entry& entry, Item& known) {
    if (options_.dry_run || (known.ctime_ns != 0 && known.inode != 0) ||
        (entry.ctime_ns == 0 && entry.inode == 0)) {
      return Status::Ok();
    }
    known.ctime_ns = entry.ctime_ns;
    known.inode = entry.inode;
    ++pending_writes_;
    return catalog_.UpdateItem(known);
  }

  Status Seen(const Entry& entry, Item& known) {
    bool differs = Differs(entry, known);
    if (!differs) FERRY_RETURN_IF_ERROR(Restamp(entry, known));
    switch (known.state) {
      case ItemState::kConflict:
        return Status::Ok();  // waits for the operator (--overwrite or resolve)
      case ItemState::kKept:
        if (!differs || !options_.sync) return Status::Ok();
        [[fallthrough]];  // a new version at the source replaces the kept blob, as for copied
      case ItemState::kCopied:
      case ItemState::kSourceDeleted:
      case ItemState::kDeleted: {
        if (!differs && known.state == ItemState::kCopied && entry.kind == Kind::kFile) {
          Result<bool> content = ContentDiffers(known);
          if (!content.ok()) {  // unreadable now: unknown, and kept as it was
            ++report_.unreadable;
            if (report_.errors.size() < 100) report_.errors.push_back(content.status().message());
            return Status::Ok();
          }
          differs = *content;
        }
        bool back = known.state == ItemState::kSourceDeleted || known.state == ItemState::kDeleted;
        if (!differs && !back) return Status::Ok();
        if (!options_.sync) {
          if (differs) ++report_.changed_copied;
          return Status::Ok();  // a plain scan leaves copied items to sync
        }
        Item updated = known;
        Classify(entry, updated);
        if (known.state == ItemState::kDeleted) updated.target_etag.clear();  // blob is gone
        if (!differs && known.state == ItemState::kSourceDeleted) {
          updated.state = ItemState::kCopied;  // back as it was, and its blob never left
          updated.md5 = known.md5;
          return Record(updated, false, "", "reappeared", nlohmann::json::object());
        }
        // The old MD5 stays: if only the mtime moved, copy finds the same content and updates
        // the blob's metadata instead of sending the bytes again (not over a kept blob, which
        // holds other bytes).
        updated.md5 = known.md5;
        if (known.state == ItemState::kKept) updated.md5.reset();
        bool transfers = updated.state == ItemState::kPending && Transfers(updated);
        if (transfers) {
          ++report_.delta_changed;
          report_.delta_changed_bytes += int64_t(updated.size);
        }
        ++report_.changed;
        return Record(updated, false,
                      !transfers ? ""
                      : back     ? "new"
                                 : "changed",
                      back ? "reappeared" : "changed-at-source",
                      nlohmann::json{{"size", updated.size}, {"mtime_ns", updated.mtime_ns}});
      }
      default:
        break;
    }
    if (!differs && known.state != ItemState::kVanished) {
      if (known.state == ItemState::kSkipped) ++report_.skipped;
      return Status::Ok();
    }
    Item updated = known;
    Classify(entry, updated);
    if (known.state == ItemState::kFailed && updated.state == ItemState::kPending) {
      updated.state = ItemState::kFailed;  // keeps its error until the next copy retries it
      updated.reason = known.reason;
      updated.cause = known.cause;
    }
    updated.md5.reset();
    ++report_.changed;
    return Record(updated, false, "changed",
                  known.state == ItemState::kVanished ? "reappeared" : "changed-at-source",
                  nlohmann::json{{"size", updated.size}, {"mtime_ns", updated.mtime_ns}});
  }

  Status Gone(Item& known) {
    if (Unknown(known.path)) {
      ++report_.kept_unknown;  // unreadable, not gone: it stays as it was
      return Status::Ok();
    }
    if (known.state == ItemState::kVanished && known.cause == kCauseVanishedInFlight) {
      known.cause = "vanished";  // a complete listing confirms it is gone
      known.reason = "gone from the source before it was copied";
      return Record(known, false, "", "vanished", nlohmann::json{{"confirmed", true}});
    }
    if ((known.state == ItemState::kPending || known.state == ItemState::kFailed) &&
        !known.target_etag.empty() && options_.sync) {
      // Changed, then deleted before the new version went: its blob remains, as before.
      known.state = known.kept_blob ? ItemState::kKept : ItemState::kCopied;
      if (known.state == ItemState::kKept) {  // the kept blob stays, never deleted by ferry
        return Record(known, false, "", "source-deleted", nlohmann::json{{"kept_blob", true}});
      }
    }
    if (known.state == ItemState::kPending || known.state == ItemState::kFailed) {
      known.state = ItemState::kVanished;
      known.cause = "vanished";
      known.reason = "gone from the source before it was copied";
      ++report_.vanished;
      return Record(known, false, "vanished", "vanished", nlohmann::json::object());
    }
    if (known.state == ItemState::kSourceDeleted && options_.sync && !options_.dry_run) {
      // Still gone, by this complete listing: evidence this pass's deletions may rely on.
      known.last_run = report_.run;
      ++pending_writes_;
      return catalog_.UpdateItem(known);
    }
    if (known.state != ItemState::kCopied || !options_.sync) return Status::Ok();
    known.state = ItemState::kSourceDeleted;
    known.cause.clear();
    known.reason = "deleted at the source";
    if (Transfers(known) || !known.target_etag.empty()) {
      ++report_.delta_deleted;
      report_.delta_deleted_bytes += int64_t(known.size);
    }
    return Record(known, false, "deleted", "source-deleted", nlohmann::json::object());
  }

  Status MaybeCommit() {
    if (pending_writes_ < kBatch || options_.dry_run) return Status::Ok();
    pending_writes_ = 0;
    FERRY_RETURN_IF_ERROR(catalog_.CommitTransaction());
    return catalog_.BeginTransaction();
  }

  catalog::Catalog& catalog_;
  storage::Store& source_;
  const storage::Store& target_;
  const ScanOptions& options_;
  ScanReport& report_;
  std::unique_ptr<storage::Lister> listed_;
  std::unique_ptr<storage::Lister> lister_;
  std::unique_ptr<ChecksumReadAhead> read_ahead_;  // with sync --checksum
  FolderSizes folders_;
  int pending_writes_ = 0;
  int64_t seen_ = 0;
  // What the listing could not read, in listing order: "dir/" for a folder, or one path.
  std::deque<std::string> unknown_;
  // Why the link last listed may not be followed (it resolves outside the source), or empty.
  std::string leaves_source_;
};

}  // namespace

nlohmann::json DeltaJson(const ScanReport& s) {
  return {{"new", s.delta_new},         {"new_bytes", s.delta_new_bytes},
          {"changed", s.delta_changed}, {"changed_bytes", s.delta_changed_bytes},
          {"deleted", s.delta_deleted}, {"deleted_bytes", s.delta_deleted_bytes}};
}

nlohmann::json ScanReportJson(const ScanReport& r) {
  nlohmann::json histogram = nlohmann::json::array();
  for (size_t i = 0; i < r.histogram.size(); ++i) {
    histogram.push_back({{"bucket", ScanReport::kBucketNames[i]}, {"files", r.histogram[i]}});
  }
  nlohmann::json largest = nlohmann::json::array();
  for (const auto& f : r.largest) {
    largest.push_back({{"path", f.path}, {"bytes", f.bytes}, {"files", f.files}});
  }
  nlohmann::json unstorable = nlohmann::json::array();
  for (const auto& [path, why] : r.unstorable_examples) {
    unstorable.push_back({{"path", path}, {"reason", why}});
  }
  return {{"run", r.run},
          {"files", r.files},
          {"folders", r.folders},
          {"links", r.links},
          {"specials", r.specials},
          {"bytes", r.bytes},
          {"added", r.added},
          {"changed", r.changed},
          {"changed_since_copied", r.changed_copied},
          {"vanished", r.vanished},
          {"skipped", r.skipped},
          {"size_histogram", histogram},
          {"largest_folders", largest},
          {"unstorable_count", r.unstorable},
          {"unstorable", unstorable},
          {"unreadable_folders", r.errors},
          {"kept_unknown", r.kept_unknown},
          {"delta", DeltaJson(r)},
          {"seconds", r.seconds}};
}

namespace {

// The source's listing, shared with the processes that help (ferry scan or sync on other
// machines): this one lists folders too until none is left, then reads what all recorded.
Result<std::unique_ptr<storage::Lister>> ListTogether(catalog::Catalog& catalog,
                                                      storage::Store& source, int64_t run,
                                                      const ScanOptions& options) {
  // Open first: helpers wait for the plan's parts rather than give up while it is made.
  FERRY_RETURN_IF_ERROR(catalog.OpenListing(run));
  if (!source.IsFolderTree()) {
    // An object store's: split by prefix, when it is worth it (else the merge lists it here).
    Result<std::optional<SharedPlan>> planned =
        PlanSharedListing(source, source.KindsNeedMetadata(), catalog,
                          PartsAtOnce(options.list_concurrency), options.split);
    const bool alone = planned.ok() ? !*planned : planned.status().code() == Code::kUnsupported;
    if (alone) {
      // The listing stays open with nothing to list: a helper that comes finds that and is
      // done (one closed at once could pass a helper by, which would wait for it, then fail).
      Result<int> recorded = catalog.RecordFolders(run, {catalog::ListedFolder{}});
      if (!recorded.ok()) return recorded.status();
      return std::unique_ptr<storage::Lister>();
    }
    if (!planned.ok()) return planned.status();
    // The plan stands for the root: its levels' entries, and its prefixes as folders to list.
    catalog::ListedFolder root;
    for (storage::Entry& e : (*planned)->entries) {
      if (options.filter.Included(e.path, e.kind == Kind::kFolder)) root.entries.push_back(e);
    }
    root.subfolders = std::move((*planned)->prefixes);
    Result<int> recorded = catalog.RecordFolders(run, {root});
    if (!recorded.ok()) return recorded.status();
  }
  SharedListingOptions shared;
  shared.filter = options.filter;
  shared.scanner = true;
  shared.concurrency = options.list_concurrency;
  shared.stop = options.stop;
  shared.progress = [&](int64_t, int64_t entries) {
    if (options.progress) options.progress(entries, 0);
  };
  Result<SharedListingReport> listed = ListShared(catalog, source, run, shared);
  if (!listed.ok()) return listed.status();
  return catalog.ListedEntries(run);
}

}  // namespace

Result<ScanReport> Scan(catalog::Catalog& catalog, storage::Store& source,
                        const storage::Store& target, const ScanOptions& options) {
  auto start = std::chrono::steady_clock::now();
  ScanReport report;
  const bool own_run = !options.dry_run && options.run == 0;
  report.run = options.run;
  if (own_run) {
    Result<int64_t> run = catalog.BeginRun(catalog::Stage::kScan);
    if (!run.ok()) return run.status();
    report.run = *run;
  }
  Status status = CheckSourceIdentity(catalog, source, options.accept_source_change, report.run,
                                      options.dry_run);
  const bool shared = status.ok() && !options.dry_run && ListingIsShared(catalog, source);
  std::unique_ptr<storage::Lister> listed;
  if (shared) {
    Result<std::unique_ptr<storage::Lister>> together =
        ListTogether(catalog, source, report.run, options);
    if (together.ok()) {
      listed = std::move(together).value();
    } else {
      status = together.status();
      report.stopped = status.code() == Code::kCancelled;
    }
  }
  if (status.ok()) {
    ScanMerge merge(catalog, source, target, options, report, std::move(listed));
    status = merge.Run();
    if (status.ok() && report.stopped) status = Status(Code::kCancelled, "the scan was stopped");
  }
  // A listing that was merged is forgotten; one cut short stays open until the run ends, so
  // that its helpers learn from the run's outcome that it was never merged (the next scan's
  // listing forgets it).
  if (shared && status.ok()) status = catalog.CloseListing(report.run);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!own_run) {
    if (!status.ok()) return status;
    if (!options.dry_run) {
      FERRY_RETURN_IF_ERROR(catalog.SetMeta(kLastScanMeta, std::to_string(report.run)));
    }
    return report;
  }
  catalog::Run record;
  record.id = report.run;
  record.outcome = status.ok()                         ? "done"
                   : status.code() == Code::kCancelled ? "stopped"
                   : status.code() == Code::kRefused   ? "refused"
                                                       : "failed";
  record.files = report.files;
  record.bytes = report.bytes;
  record.summary_json = JsonText(ScanReportJson(report));
  if (!status.ok()) {
    FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
    return status;
  }
  FERRY_RETURN_IF_ERROR(catalog.EndRun(record));
  FERRY_RETURN_IF_ERROR(catalog.SetMeta(kLastScanMeta, std::to_string(report.run)));
  return report;
}

}  // namespace ferry::migration
