#include "storage/split_list.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <vector>

#include "base/task_pool.h"

namespace ferry::storage {

namespace {

constexpr size_t kMaxChildren = 1000;  // a level with more sub-prefixes is listed flat
// Below the listing's prefix, a level's first page holds at most this many results: more, and
// the level is listed flat, so the rest of a page would be read for nothing (S3's page; Azure's
// is 5,000). The prefix's own level is read a whole page: one request, and a level of a few
// thousand blobs beside big folders is still split.
constexpr int kLevelPage = 1000;
// Parts the plan aims at: 4 per stream, and below a first level, at most twice that.
constexpr size_t kMaxHeldEntries = 50000;  // the levels' own entries held while planning
constexpr int kMaxDepth = 4;               // levels split below the listing's prefix
constexpr size_t kStreamBuffer = 10000;    // entries a stream reads ahead of the reader

// A part of a plan while it is made: entries of a level, a level not split yet, or a prefix to
// list flat.
struct PlanPiece {
  enum class Type { kEntries, kLevel, kFlat };
  Type type;
  std::string prefix;          // kLevel, kFlat
  std::vector<Entry> entries;  // kEntries
};

// The level's entries and sub-prefixes in byte order: the paths under "dir/" all lie between the
// entries before "dir/" and those after it.
void Interleave(LevelPage page, std::vector<PlanPiece>& out) {
  size_t e = 0, p = 0;
  while (e < page.entries.size() || p < page.prefixes.size()) {
    if (p == page.prefixes.size() ||
        (e < page.entries.size() && page.entries[e].path < page.prefixes[p])) {
      if (out.empty() || out.back().type != PlanPiece::Type::kEntries) {
        out.push_back({PlanPiece::Type::kEntries, "", {}});
      }
      out.back().entries.push_back(std::move(page.entries[e++]));
    } else {
      out.push_back({PlanPiece::Type::kLevel, std::move(page.prefixes[p++]), {}});
    }
  }
}

}  // namespace

Result<std::optional<std::vector<PlannedPart>>> PlanListing(Store& store, const std::string& prefix,
                                                            bool metadata, size_t enough,
                                                            size_t most, TaskPool& pool) {
  std::vector<PlanPiece> plan{{PlanPiece::Type::kLevel, prefix, {}}};
  size_t held = 0;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    size_t parts = 0, levels = 0;
    for (const PlanPiece& piece : plan) {
      if (piece.type != PlanPiece::Type::kEntries) ++parts;
      if (piece.type == PlanPiece::Type::kLevel) ++levels;
    }
    if (parts > most) return std::optional<std::vector<PlannedPart>>();
    if (levels == 0 || (depth > 0 && parts >= enough)) break;
    std::vector<std::future<Result<LevelPage>>> pages;
    for (const PlanPiece& piece : plan) {
      if (piece.type != PlanPiece::Type::kLevel) continue;
      auto read = std::make_shared<std::promise<Result<LevelPage>>>();
      pages.push_back(read->get_future());
      pool.Submit([&store, read, metadata, depth, level = piece.prefix] {
        read->set_value(store.ListLevel(
            level, "",
            ListOptions{.metadata = metadata, .page_size = depth == 0 ? 0 : kLevelPage}));
      });
    }
    // The plan as it is, kept whole in case this level is not split after all.
    std::vector<PlanPiece> before = plan;
    std::vector<PlanPiece> next;
    size_t page_index = 0;
    Status failed;
    for (PlanPiece& piece : plan) {
      if (piece.type != PlanPiece::Type::kLevel) {
        next.push_back(std::move(piece));
        continue;
      }
      Result<LevelPage> page = pages[page_index++].get();
      if (page.ok() && !page->unlisted.empty()) {
        page = Status(Code::kIo, "cannot list '" + page->unlisted.front().first +
                                     "': " + page->unlisted.front().second);
      }
      if (!page.ok()) {
        if (failed.ok()) failed = page.status();
        continue;
      }
      if (!page->next.empty() || page->prefixes.size() > kMaxChildren ||
          held + page->entries.size() > kMaxHeldEntries) {
        next.push_back({PlanPiece::Type::kFlat, std::move(piece.prefix), {}});
        continue;
      }
      held += page->entries.size();
      Interleave(std::move(page).value(), next);
    }
    if (!failed.ok()) return failed;
    // A level too many: folders too small to pay for a request each (500 folders of 100
    // objects cost 500 requests where 50 pages would do). The levels stay whole.
    size_t split = 0;
    for (const PlanPiece& piece : next) split += piece.type != PlanPiece::Type::kEntries;
    if (depth > 0 && split > 2 * enough) {
      plan = std::move(before);  // its levels go flat below
      break;
    }
    plan = std::move(next);
  }
  std::optional<std::vector<PlannedPart>> parts(std::in_place);
  size_t flat = 0;
  for (PlanPiece& piece : plan) {
    if (piece.type == PlanPiece::Type::kEntries) {
      parts->push_back({false, "", std::move(piece.entries)});
    } else {
      parts->push_back({true, std::move(piece.prefix), {}});
      ++flat;
    }
  }
  if (flat > most) return std::optional<std::vector<PlannedPart>>();
  return parts;
}

namespace {

// The flat listing of one sub-prefix, read on a pool thread and handed over through a bounded
// queue.
class Stream {
 public:
  // Lists the paths under `prefix`, after options.after, before `end` ("": to the end).
  Stream(Store& store, std::string prefix, ListOptions options, std::string end)
      : store_(store), prefix_(std::move(prefix)), options_(options), end_(std::move(end)) {}

  // On a pool thread: lists the prefix until the end, an error, or Cancel.
  void Run() {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
    }
    Result<std::unique_ptr<Lister>> lister = store_.List(prefix_, options_);
    if (!lister.ok()) return Finish(lister.status());
    Entry entry;
    std::string last;
    while (true) {
      Result<bool> more = (*lister)->Next(entry);
      if (!more.ok()) return Finish(more.status());
      if (!*more) return Finish(Status::Ok());
      if (!last.empty() && entry.path <= last) {
        return Finish(Status(Code::kRefused, "the listing is not in byte order ('" + entry.path +
                                                 "' after '" + last + "')"));
      }
      last = entry.path;
      if (!end_.empty() && entry.path >= end_) return Finish(CheckPast(**lister));
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queue_.size() < kStreamBuffer || cancelled_; });
      if (cancelled_) return;
      queue_.push_back(std::move(entry));
      cv_.notify_all();
    }
  }

  // The next entry, waiting for it.
  Result<bool> Next(Entry& entry) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      entry = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return true;
    }
    if (!status_.ok()) return status_;
    return false;
  }

  // Past the end of the range: the next listed paths must be too, or the service does not list
  // in byte order and a path of this range may come later (a merge would take it for gone).
  Status CheckPast(Lister& lister) {
    Entry entry;
    for (int i = 0; i < 100; ++i) {
      Result<bool> more = lister.Next(entry);
      if (!more.ok() || !*more) return Status::Ok();
      if (entry.path < end_) {
        return Status(Code::kRefused, "the listing is not in byte order ('" + entry.path +
                                          "' after '" + end_ +
                                          "'): it cannot be read in parallel ranges");
      }
    }
    return Status::Ok();
  }

  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  void Finish(Status status) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }

  Store& store_;
  const std::string prefix_;
  const ListOptions options_;
  const std::string end_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  bool done_ = false, cancelled_ = false;
  Status status_;
};

// A part of the listing, in order: entries of a level, a level not split yet, or a sub-prefix
// listed flat (or a range of paths, after one path and before another).
struct Piece {
  enum class Type { kEntries, kLevel, kFlat };
  Type type;
  std::string prefix;              // kLevel, kFlat
  std::vector<Entry> entries;      // kEntries
  std::string after, end;          // kFlat, a range: after this path and before that
  std::shared_ptr<Stream> stream;  // kFlat, once started
};

class SplitLister : public Lister {
 public:
  SplitLister(Store& store, std::string prefix, ListOptions options, int streams,
              std::unique_ptr<Lister> flat)
      : store_(store),
        prefix_(std::move(prefix)),
        options_(options),
        streams_(streams),
        flat_(std::move(flat)),
        pool_(streams) {
    options_.concurrency = 1;  // each part is one stream
  }
  ~SplitLister() override {
    for (Piece& piece : plan_) {
      if (piece.stream) piece.stream->Cancel();
    }
  }

  Result<bool> Next(Entry& entry) override {
    if (flat_) {
      Result<bool> more = flat_->Next(entry);
      if (!more.ok() || !*more || served_flat_ || flat_->FullyFetched()) {
        served_flat_ = true;  // one page is all there is: it is the listing
        return more;
      }
      flat_.reset();  // more than a page: split (this entry comes again, in order)
    }
    if (!planned_) {
      planned_ = true;
      FERRY_RETURN_IF_ERROR(Plan());
    }
    while (current_ < plan_.size()) {
      Start();
      Piece& piece = plan_[current_];
      if (piece.type == Piece::Type::kEntries) {
        if (index_ < piece.entries.size()) {
          entry = std::move(piece.entries[index_++]);
          return true;
        }
        piece.entries = {};
      } else {
        Result<bool> more = piece.stream->Next(entry);
        if (!more.ok() || *more) return more;
        piece.stream.reset();
      }
      ++current_;
      index_ = 0;
    }
    return false;
  }

  bool FullyFetched() const override { return served_flat_; }

 private:
  // Splits the prefix's levels, breadth first, into entries and sub-prefixes to list flat.
  Status Plan() {
    Result<std::optional<std::vector<PlannedPart>>> parts =
        PlanListing(store_, prefix_, options_.metadata, 4 * size_t(streams_), SIZE_MAX, pool_);
    if (!parts.ok()) return parts.status();
    for (PlannedPart& part : **parts) {  // never more than SIZE_MAX parts
      if (part.flat) {
        plan_.push_back({Piece::Type::kFlat, std::move(part.prefix), {}, "", "", nullptr});
      } else {
        plan_.push_back({Piece::Type::kEntries, "", std::move(part.entries), "", "", nullptr});
      }
    }
    if (store_.ListsAfter()) ToRanges();
    return Status::Ok();
  }

  // Where a listing can start after a path (S3), the plan's sub-prefixes only mark where each
  // stream starts, and each lists everything up to where the next starts: what the levels
  // listed is listed again, and what they left out (some servers' level listings miss deeper
  // prefixes) is still listed. What is complete depends only on the flat listing.
  void ToRanges() {
    std::vector<std::string> starts;
    for (Piece& piece : plan_) {
      // The listing's own prefix (a level listed flat whole) starts where the first range does.
      if (piece.type == Piece::Type::kFlat && piece.prefix != prefix_) {
        starts.push_back(std::move(piece.prefix));
      }
    }
    plan_.clear();
    for (size_t i = 0; i <= starts.size(); ++i) {
      plan_.push_back({Piece::Type::kFlat,
                       prefix_,
                       {},
                       i == 0 ? "" : starts[i - 1],
                       i < starts.size() ? starts[i] : "",
                       nullptr});
    }
  }

  // Keeps the next `streams_` sub-prefixes from the reader's place being listed.
  void Start() {
    int running = 0;
    for (size_t i = current_; i < plan_.size() && running < streams_; ++i) {
      Piece& piece = plan_[i];
      if (piece.type != Piece::Type::kFlat) continue;
      ++running;
      if (piece.stream) continue;
      ListOptions options = options_;
      options.after = piece.after;
      piece.stream = std::make_shared<Stream>(store_, piece.prefix, options, piece.end);
      pool_.Submit([stream = piece.stream] { stream->Run(); });
    }
  }

  Store& store_;
  const std::string prefix_;
  ListOptions options_;
  const int streams_;
  std::unique_ptr<Lister> flat_;
  bool served_flat_ = false;
  bool planned_ = false;
  std::vector<Piece> plan_;
  size_t current_ = 0;
  size_t index_ = 0;
  TaskPool pool_;  // last: joins before the plan's streams go
};

}  // namespace

std::unique_ptr<Lister> SplitListing(Store& store, std::string prefix, ListOptions options,
                                     int streams, std::unique_ptr<Lister> flat) {
  return std::make_unique<SplitLister>(store, std::move(prefix), options, streams, std::move(flat));
}

}  // namespace ferry::storage
