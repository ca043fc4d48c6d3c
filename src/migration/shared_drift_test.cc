// A sync's drift check shared among processes on a PostgreSQL catalog (a real server the test
// starts), against an in-memory target: the leader and a helper each check parts of the
// target's listing, a part whose claim ran out is taken over, and every finding is recorded
// once.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <nlohmann/json.hpp>

#include "catalog/postgres.h"
#include "migration/drift.h"
#include "storage/memory_store.h"
#include "support/gate.h"
#include "support/postgres.h"
#include "support/status_matchers.h"

namespace ferry::testing {
namespace {

using catalog::Catalog;
using catalog::Item;
using catalog::ItemState;

// A memory target whose listing of one prefix waits at a gate until the test opens it.
class GatedStore : public storage::MemoryStore {
 public:
  explicit GatedStore(std::string gated) : gated_(std::move(gated)) {}
  Result<std::unique_ptr<storage::Lister>> List(std::string_view prefix,
                                                storage::ListOptions options) override {
    if (prefix == gated_) gate.Pass();
    return MemoryStore::List(prefix, options);
  }

  Gate gate;

 private:
  const std::string gated_;
};

TEST(SharedDriftCheck, TheLeaderAndAHelperCheckPartsAndATakenOverPartCountsOnce) {
  const std::string database = Postgres::Global().NewDatabase("shared_drift");
  const std::string url = database + "?migration=sync";
  catalog::Config config;
  config.source = "/data";
  ASSERT_OK(Catalog::Create(url, config));
  ASSERT_OK_AND_ASSIGN(auto leader, Catalog::Open(url));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(url));

  // Three folders of 50 subfolders (too many to split further: each is a part), and two files
  // at the top; all copied by ferry.
  GatedStore target("a/");
  std::vector<std::string> paths{"top.txt", "zz.txt"};
  for (const char* top : {"a", "b", "c"}) {
    for (int s = 0; s < 50; ++s) {
      for (int f = 0; f < 2; ++f) paths.push_back(fmt::format("{}/s{:02d}/f{}", top, s, f));
    }
  }
  ASSERT_OK(leader->BeginTransaction());
  for (const std::string& path : paths) {
    ASSERT_OK_AND_ASSIGN(storage::WriteResult written,
                         target.Write(path, http::Body::FromString(path), {}));
    Item item;
    item.path = path;
    item.size = path.size();
    item.state = ItemState::kCopied;
    item.target_etag = written.etag;
    ASSERT_OK(leader->InsertItem(item));
  }
  ASSERT_OK(leader->CommitTransaction());
  // Someone else's doing, in every part and at the top.
  for (const char* changed : {"a/s07/f1", "b/s10/f0", "c/s20/f1", "top.txt"}) {
    ASSERT_OK(target.Write(changed, http::Body::FromString("theirs"), {}));
  }
  ASSERT_OK(target.Delete("b/s11/f1", storage::Condition::None()));
  for (const char* stranger : {"a/s00/new", "c/s49/new", "stranger.txt"}) {
    ASSERT_OK(target.Write(stranger, http::Body::FromString("theirs"), {}));
  }

  ASSERT_OK_AND_ASSIGN(int64_t run, leader->BeginRun(catalog::Stage::kSync));
  migration::DriftOptions options;
  options.shared = true;
  options.split = migration::Split::kAlways;  // a target this small is checked alone in auto
  ASSERT_TRUE(migration::DriftIsShared(*leader, target, options));
  std::vector<std::string> found_by_leader;
  options.on_finding = [&](const migration::Finding& f) { found_by_leader.push_back(f.path); };
  auto checked = std::async(std::launch::async,
                            [&] { return migration::CheckDrift(*leader, target, run, options); });
  OpenAtExit open_at_exit(target.gate);
  // The leader checked the top and waits in the listing of its first part, a/. A helper that
  // died took b/; another helper checks what is left: c/.
  ASSERT_TRUE(target.gate.AwaitReached([&] { return Ended(checked); }))
      << "the check ended before its first part: " << checked.get().status().ToString();
  ASSERT_EQ(Got(helper->OpenDriftCheckRun()), run);
  ASSERT_OK_AND_ASSIGN(auto dead, Catalog::OpenForReading(url));
  EXPECT_EQ(Got(dead->ClaimDriftPart(run, std::chrono::seconds(60))),
            (std::optional<catalog::DriftPart>{{"b/", ""}}));
  migration::DriftOptions helping;
  std::vector<std::string> found_by_helper;
  helping.on_finding = [&](const migration::Finding& f) { found_by_helper.push_back(f.path); };
  ASSERT_OK_AND_ASSIGN(migration::DriftReport helped,
                       migration::HelpCheckDrift(*helper, target, run, helping));
  EXPECT_EQ(helped.parts_checked, 1);
  EXPECT_EQ(helped.changed, 1);
  EXPECT_EQ(helped.unexpected, 1);
  EXPECT_EQ(found_by_helper, (std::vector<std::string>{"c/s20/f1", "c/s49/new"}));
  // The dead helper's claim runs out; the leader goes on with a/, then takes b/ over.
  ASSERT_OK_AND_ASSIGN(auto db, catalog::PgConnection::Connect(database));
  ASSERT_OK(db->Run(
      "UPDATE ferry_drift_parts SET lease_until = clock_timestamp() - interval '1 second' WHERE "
      "prefix = 'b/'"));
  target.gate.Open();
  ASSERT_OK_AND_ASSIGN(migration::DriftReport report, checked.get());

  EXPECT_EQ(report.parts, 3);
  EXPECT_EQ(report.parts_checked, 2) << "a/, and b/ taken over from the helper that died";
  EXPECT_EQ(report.changed, 5) << "every part's and the top's, once";
  EXPECT_EQ(report.unexpected, 3);
  std::sort(found_by_leader.begin(), found_by_leader.end());
  EXPECT_EQ(found_by_leader, (std::vector<std::string>{"a/s00/new", "a/s07/f1", "b/s10/f0",
                                                       "b/s11/f1", "stranger.txt", "top.txt"}));
  for (const char* conflict : {"a/s07/f1", "b/s10/f0", "b/s11/f1", "c/s20/f1", "top.txt"}) {
    EXPECT_EQ(Got(leader->FindItem(conflict))->state, ItemState::kConflict) << conflict;
  }
  EXPECT_EQ(Got(leader->FindItem("b/s10/f1"))->state, ItemState::kCopied);
  EXPECT_EQ(Got(leader->CountItems(ItemState::kConflict, std::nullopt)), 5);

  // Each finding logged once, naming the process that checked it.
  std::map<std::string, int> logged;
  ASSERT_OK_AND_ASSIGN(auto events, leader->Events());
  catalog::Event e;
  while (Got(events.Next(e))) {
    if (e.kind != "conflict" && e.kind != "unexpected-blob") continue;
    ++logged[e.path];
    EXPECT_TRUE(nlohmann::json::parse(e.detail_json).contains("checker")) << e.detail_json;
  }
  EXPECT_EQ(logged.size(), 8u);
  for (const auto& [path, n] : logged) EXPECT_EQ(n, 1) << path;
  EXPECT_EQ(Got(leader->DriftCheckTotals(run)).parts, 0) << "closed";
}

// A migration of `paths` copied to `target`, on a PostgreSQL catalog; `changed` then overwritten
// by someone else. The leader's catalog, and a sync run begun in it.
std::unique_ptr<Catalog> CopiedTo(storage::MemoryStore& target, const std::string& url,
                                  const std::vector<std::string>& paths,
                                  const std::vector<std::string>& changed, int64_t& run) {
  catalog::Config config;
  config.source = "/data";
  EXPECT_OK(Catalog::Create(url, config));
  Result<std::unique_ptr<Catalog>> leader = Catalog::Open(url);
  EXPECT_OK(leader);
  if (!leader.ok()) return nullptr;
  EXPECT_OK((*leader)->BeginTransaction());
  for (const std::string& path : paths) {
    Result<storage::WriteResult> written = target.Write(path, http::Body::FromString(path), {});
    EXPECT_OK(written);
    Item item;
    item.path = path;
    item.size = path.size();
    item.state = ItemState::kCopied;
    item.target_etag = written.ok() ? written->etag : "";
    EXPECT_OK((*leader)->InsertItem(item));
  }
  EXPECT_OK((*leader)->CommitTransaction());
  for (const std::string& path : changed) {
    EXPECT_OK(target.Write(path, http::Body::FromString("theirs"), {}));
  }
  Result<int64_t> begun = (*leader)->BeginRun(catalog::Stage::kSync);
  EXPECT_OK(begun);
  run = begun.ok() ? *begun : 0;
  return std::move(leader).value();
}

// A root level of more than a page is read whole and split by its folders; a hundred folders of
// one blob each cost more as parts than as one page, and are checked in one process.
TEST(SharedDriftCheck, ARootOfManyPagesIsSplitByItsFoldersAndSmallFoldersAreNot) {
  const std::string database = Postgres::Global().NewDatabase("drift_plans");
  migration::DriftOptions options;
  options.shared = true;
  options.split = migration::Split::kAlways;  // a target this small is checked alone in auto

  storage::MemoryStore paged;
  paged.level_page_size = 10;  // the root's 12 folders and its blob are two pages
  std::vector<std::string> paths{"top.txt"};
  for (int d = 0; d < 12; ++d) {
    for (int f = 0; f < 3; ++f) paths.push_back(fmt::format("d{:02d}/f{}", d, f));
  }
  int64_t run = 0;
  auto leader = CopiedTo(paged, database + "?migration=paged", paths, {"d03/f1", "top.txt"}, run);
  ASSERT_NE(leader, nullptr);
  ASSERT_OK_AND_ASSIGN(migration::DriftReport split,
                       migration::CheckDrift(*leader, paged, run, options));
  EXPECT_EQ(split.parts, 12);
  EXPECT_EQ(split.parts_checked, 12);
  EXPECT_EQ(split.changed, 2);
  EXPECT_EQ(Got(leader->CountItems(ItemState::kConflict, std::nullopt)), 2);

  storage::MemoryStore small;
  paths.clear();
  for (int d = 0; d < 100; ++d) paths.push_back(fmt::format("d{:03d}/sub/f", d));
  leader = CopiedTo(small, database + "?migration=small", paths, {"d042/sub/f"}, run);
  ASSERT_NE(leader, nullptr);
  ASSERT_OK_AND_ASSIGN(migration::DriftReport whole,
                       migration::CheckDrift(*leader, small, run, options));
  EXPECT_EQ(whole.parts, 0) << "checked in one process";
  EXPECT_EQ(whole.changed, 1);
  EXPECT_EQ(Got(leader->FindItem("d042/sub/f"))->state, ItemState::kConflict);
}

}  // namespace
}  // namespace ferry::testing
