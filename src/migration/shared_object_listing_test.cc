// A scan of an object source shared among processes on a PostgreSQL catalog (a real server the
// test starts), against in-memory stores: the scan plans the listing by prefix, it and its
// helpers list the parts, a part whose lister died is taken over from its last batch, and a
// part that cannot be listed is never taken for deleted.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <thread>

#include "migration/scan.h"
#include "migration/shared_listing.h"
#include "storage/memory_store.h"
#include "support/gate.h"
#include "support/postgres.h"
#include "support/status_matchers.h"

namespace ferry::testing {
namespace {

using catalog::Catalog;
using catalog::ItemState;

// The value of `result`, or (with the error reported) a default one.
template <typename T>
T Value(Result<T> result) {
  EXPECT_OK(result);
  return result.ok() ? std::move(result).value() : T{};
}

// A listing that gives `good` entries of another, then fails.
class FailingLister : public storage::Lister {
 public:
  FailingLister(std::unique_ptr<storage::Lister> inner, int good)
      : inner_(std::move(inner)), good_(good) {}
  Result<bool> Next(storage::Entry& entry) override {
    if (good_-- <= 0) return Status(Code::kIo, "HTTP 500 InternalError (after retries)");
    return inner_->Next(entry);
  }

 private:
  std::unique_ptr<storage::Lister> inner_;
  int good_;
};

// A listing whose first entry comes third (out of byte order).
class LateFirstLister : public storage::Lister {
 public:
  explicit LateFirstLister(std::unique_ptr<storage::Lister> inner) : inner_(std::move(inner)) {}
  Result<bool> Next(storage::Entry& entry) override {
    if (!started_) {
      started_ = true;
      storage::Entry e;
      for (int i = 0; i < 3; ++i) {
        Result<bool> more = inner_->Next(e);
        if (!more.ok() || !*more) break;
        held_.push_back(e);
      }
      if (held_.size() == 3) std::rotate(held_.begin(), held_.begin() + 1, held_.end());
    }
    if (next_ < held_.size()) {
      entry = held_[next_++];
      return true;
    }
    return inner_->Next(entry);
  }

 private:
  std::unique_ptr<storage::Lister> inner_;
  bool started_ = false;
  std::vector<storage::Entry> held_;
  size_t next_ = 0;
};

// A memory source whose flat listing of one prefix waits until the test lets it go on, fails
// after a few entries, or comes out of byte order.
class SourceStore : public storage::MemoryStore {
 public:
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options) override {
    Result<std::unique_ptr<storage::Lister>> inner = MemoryStore::List(prefix, options);
    if (!inner.ok()) return inner;
    if (!failing.empty() && prefix == failing) {
      return std::unique_ptr<storage::Lister>(
          new FailingLister(std::move(inner).value(), failing_after));
    }
    if (!unordered.empty() && prefix == unordered) {
      return std::unique_ptr<storage::Lister>(new LateFirstLister(std::move(inner).value()));
    }
    if ((gate_root && prefix.empty()) || (!gated.empty() && prefix == gated)) gate.Pass();
    return inner;
  }

  std::string gated, failing, unordered;
  bool gate_root = false;  // the flat listing of the whole source waits too
  int failing_after = 3;   // entries the failing prefix's listing gives first
  Gate gate;
};

// Three folders of 50 subfolders of two blobs (too many subfolders to split further: each
// folder is a part), and two blobs at the top.
std::vector<std::string> Layout() {
  std::vector<std::string> paths{"top.txt", "zz.txt"};
  for (const char* top : {"a", "b", "c"}) {
    for (int s = 0; s < 50; ++s) {
      for (int f = 0; f < 2; ++f) paths.push_back(fmt::format("{}/s{:02d}/f{}", top, s, f));
    }
  }
  return paths;
}

void Fill(storage::MemoryStore& store, const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    ASSERT_OK(store.Write(path, http::Body::FromString(path), {}));
  }
}

// A migration of an object source on a PostgreSQL catalog: the scanning process's catalog and a
// helper's, the source and a memory target.
class SharedObjectListing : public ::testing::Test {
 protected:
  // The migration, in a database of its own named after `name`, of a source of `source_paths`.
  void Begin(const std::string& name, std::vector<std::string> source_paths = Layout()) {
    url = Postgres::Global().NewDatabase(name) + "?migration=scan";
    catalog::Config config;
    config.source = "https://account.blob.core.windows.net/source";
    ASSERT_OK(Catalog::Create(url, config));
    ASSERT_OK_AND_ASSIGN(scanning, Catalog::Open(url));
    ASSERT_OK_AND_ASSIGN(helping, Catalog::OpenForReading(url));
    paths = std::move(source_paths);
    Fill(source, paths);
  }

  std::string url;
  std::unique_ptr<Catalog> scanning, helping;
  SourceStore source;
  std::vector<std::string> paths;
  storage::MemoryStore target;
};

// A scan of `source` (one part at a time) begun on another thread, and the run whose listing it
// opened, once the scan waits at the gate in its listing of the source (0 if it ended before).
// The gate is opened when it goes, or the scan would never end.
class GatedScan {
 public:
  GatedScan(Catalog& catalog, SourceStore& source, const storage::Store& target) : source_(source) {
    done = std::async(std::launch::async, [&] {
      migration::ScanOptions options;
      options.list_concurrency = 1;
      return migration::Scan(catalog, source, target, options);
    });
    if (source.gate.AwaitReached([&] { return Ended(done); })) {
      run = Value(catalog.OpenListingRun());
    } else {
      ADD_FAILURE() << "the scan ended before the gate: " << done.get().status().ToString();
    }
  }
  GatedScan(const GatedScan&) = delete;
  GatedScan& operator=(const GatedScan&) = delete;
  ~GatedScan() { source_.gate.Open(); }

  std::future<Result<migration::ScanReport>> done;
  int64_t run = 0;

 private:
  SourceStore& source_;
};

// A lister (a process of its own) that claims b/ for a second, records `paths` of it as one
// batch, and dies.
void DieAfterOneBatchOfB(const std::string& url, int64_t run,
                         const std::vector<std::string>& paths) {
  Result<std::unique_ptr<Catalog>> dying = Catalog::OpenForReading(url);
  ASSERT_OK(dying);
  EXPECT_EQ(Value((*dying)->ClaimFolders(run, 1, std::chrono::seconds(1), false)),
            (std::vector<catalog::FolderClaim>{{"b/", 0, 0, ""}}));
  std::vector<storage::Entry> batch(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) batch[i].path = paths[i];
  EXPECT_TRUE(Value(
      (*dying)->RecordPart(run, {"b/", batch, paths.back(), false}, std::chrono::seconds(1))));
}

// How many items the catalog holds in `state`.
int64_t Count(Catalog& catalog, ItemState state) {
  return Value(catalog.CountItems(state, std::nullopt));
}

TEST_F(SharedObjectListing, TheScanAndAHelperListPartsAndADeadListersPartIsTakenOver) {
  ASSERT_NO_FATAL_FAILURE(Begin("object_listing"));
  source.gated = "a/";
  ASSERT_TRUE(migration::ListingIsShared(*scanning, source));

  // The scan plans, claims a/ (one part at a time) and waits in its listing; a lister records
  // one batch of b/ and dies.
  GatedScan scanned(*scanning, source, target);
  const int64_t run = scanned.run;
  ASSERT_NE(run, 0);
  DieAfterOneBatchOfB(url, run, {"b/s00/f0", "b/s00/f1"});

  // A helper lists c/, then b/ once the dead lister's claim ran out, from where it stopped.
  migration::SharedListingOptions help;
  auto helped = std::async(std::launch::async,
                           [&] { return migration::ListShared(*helping, source, run, help); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Value(scanning->FoldersLeft(run)) > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  source.gate.Open();
  ASSERT_OK_AND_ASSIGN(migration::ScanReport report, scanned.done.get());
  ASSERT_OK_AND_ASSIGN(migration::SharedListingReport listed, helped.get());
  EXPECT_EQ(listed.folders, 2) << "b/ and c/";
  EXPECT_EQ(listed.entries, 100 + 98) << "c/ whole, b/ after the dead lister's batch";
  EXPECT_EQ(report.files, int64_t(paths.size()));
  EXPECT_EQ(report.added, int64_t(paths.size()));
  EXPECT_EQ(Count(*scanning, ItemState::kPending), int64_t(paths.size()));
  for (const std::string& path : paths) {
    EXPECT_TRUE(Value(scanning->FindItem(path)).has_value()) << path;
  }
  EXPECT_EQ(Value(helping->OpenListingRun()), 0) << "the listing is closed";
}

// What a helper cannot list goes to the scanning process, which lists it; what the scanning
// process cannot list fails the scan, and no item is taken for deleted.
TEST_F(SharedObjectListing, APartThatCannotBeListedIsNeverTakenForDeleted) {
  ASSERT_NO_FATAL_FAILURE(Begin("object_listing_fails"));
  source.gated = "a/";
  // The helper's view of the source fails in b/ (a network of its own, a proxy).
  SourceStore helper_source;
  helper_source.failing = "b/";
  Fill(helper_source, paths);
  ASSERT_TRUE(migration::ListingIsShared(*scanning, source));

  GatedScan scanned(*scanning, source, target);
  const int64_t run = scanned.run;
  ASSERT_NE(run, 0);
  migration::SharedListingOptions help;
  auto helped = std::async(std::launch::async, [&] {
    return migration::ListShared(*helping, helper_source, run, help);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Value(scanning->FoldersLeft(run)) > 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  source.gate.Open();
  ASSERT_OK_AND_ASSIGN(migration::ScanReport report, scanned.done.get());
  ASSERT_OK_AND_ASSIGN(migration::SharedListingReport listed, helped.get());
  EXPECT_EQ(listed.folders, 1) << "c/";
  EXPECT_EQ(listed.given_back, 1) << "b/";
  EXPECT_NE(listed.first_difference.find("'b/' could not be listed"), std::string::npos)
      << listed.first_difference;
  EXPECT_EQ(report.files, int64_t(paths.size())) << "b/ listed by the scanning process";
  EXPECT_EQ(Count(*scanning, ItemState::kPending), int64_t(paths.size()));

  // The next scan's own listing of b/ fails part way (split, though so small a source would
  // not be on its own): the scan fails, and nothing of b/ (nor a blob deleted meanwhile in c/)
  // is taken for deleted.
  ASSERT_OK(source.Delete("c/s00/f0", storage::Condition::None()));
  source.gated.clear();
  source.failing = "b/";
  migration::ScanOptions split;
  split.split = migration::Split::kAlways;
  Result<migration::ScanReport> failed = migration::Scan(*scanning, source, target, split);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("cannot list 'b/'"), std::string::npos)
      << failed.status().ToString();
  EXPECT_EQ(Count(*scanning, ItemState::kPending), int64_t(paths.size()));
  EXPECT_EQ(Count(*scanning, ItemState::kVanished), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::Run> runs, scanning->Runs());
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back().outcome, "failed") << "the last run";
}

// A part taken over is listed again from its start, what was recorded skipped: a listing out of
// byte order fails the scan there as it does in one process, rather than skip a path that came
// late (it would be taken for deleted).
TEST_F(SharedObjectListing, AListingOutOfByteOrderFailsWhereAPartIsTakenOver) {
  ASSERT_NO_FATAL_FAILURE(Begin("object_listing_order"));
  source.gated = "a/";
  source.unordered = "b/";  // b/s00/f1, b/s01/f0, b/s00/f0, ...
  ASSERT_TRUE(migration::ListingIsShared(*scanning, source));
  GatedScan scanned(*scanning, source, target);
  ASSERT_NE(scanned.run, 0);
  DieAfterOneBatchOfB(url, scanned.run, {"b/s00/f1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // its claim runs out
  source.gate.Open();
  Result<migration::ScanReport> report = scanned.done.get();
  ASSERT_FALSE(report.ok()) << "b/s00/f0 came after b/s01/f0 and was never recorded";
  EXPECT_NE(report.status().message().find("not in byte order"), std::string::npos)
      << report.status().ToString();
}

// A re-scan of a source too small for parts to pay off lists it alone, and its listing stays
// open with nothing to hand out while it does: a helper that comes lists nothing and ends well
// (a listing closed at once passed helpers by, which waited for one and failed).
TEST_F(SharedObjectListing, AHelperOfAListingNotSplitListsNothingAndEnds) {
  ASSERT_NO_FATAL_FAILURE(Begin("object_listing_unsplit"));
  ASSERT_OK(migration::Scan(*scanning, source, target, migration::ScanOptions{}));
  source.gate_root = true;
  GatedScan scanned(*scanning, source, target);
  ASSERT_NE(scanned.run, 0) << "the listing is open while the scan lists alone";
  ASSERT_OK_AND_ASSIGN(
      migration::SharedListingReport listed,
      migration::ListShared(*helping, source, scanned.run, migration::SharedListingOptions{}));
  EXPECT_EQ(listed.folders, 0);
  EXPECT_EQ(listed.entries, 0);
  source.gate.Open();
  ASSERT_OK_AND_ASSIGN(migration::ScanReport report, scanned.done.get());
  EXPECT_EQ(report.files, int64_t(paths.size()));
  EXPECT_EQ(report.vanished, 0);
  EXPECT_EQ(Value(scanning->OpenListingRun()), 0) << "closed once merged";
}

// A small source, or one whose root is all blobs, is listed by the scan alone, as before.
TEST_F(SharedObjectListing, ASourceNotWorthSplittingIsListedByTheScanAlone) {
  ASSERT_NO_FATAL_FAILURE(Begin("object_listing_alone", {"a/1", "b.txt", "c.txt"}));
  source.failing = "a/";  // a listing of its own would fail: the plan lists levels, the scan ""
  source.failing_after = 0;
  ASSERT_OK_AND_ASSIGN(migration::ScanReport report,
                       migration::Scan(*scanning, source, target, migration::ScanOptions{}));
  EXPECT_EQ(report.files, 3);
  storage::MemoryStore s3;
  s3.lists_after = true;  // an S3 server's level listings may leave prefixes out
  EXPECT_FALSE(migration::ListingIsShared(*scanning, s3));
}

}  // namespace
}  // namespace ferry::testing
