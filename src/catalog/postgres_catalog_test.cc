// The PostgreSQL catalog against a real server started by the test: the catalog conformance
// suite unchanged, and what is particular to a shared database.
#include "catalog/postgres_catalog.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include "support/catalog_conformance.h"
#include "support/postgres.h"
#include "support/status_matchers.h"

namespace ferry::testing {
namespace {

using catalog::Catalog;

// Each test gets a database of its own; each location is another migration in it.
class PostgresHost : public CatalogHost {
 public:
  PostgresHost() : url_(Postgres::Global().NewDatabase("conformance")) {}
  std::string NewLocation() override {
    return fmt::format("{}?migration=m{}&connect_timeout=10", url_, ++n_);
  }

 private:
  std::string url_;
  int n_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Postgres, CatalogConformance,
                         ::testing::Values(CatalogBackend{
                             "postgres", [] { return std::make_unique<PostgresHost>(); }}),
                         [](const auto& info) { return info.param.name; });

TEST(PostgresLocation, NamesAMigrationAndNeverAPassword) {
  auto where = catalog::ParsePostgresLocation(
      "postgresql://ferry@db.example:5432/migrations?sslmode=require&migration=share-1");
  ASSERT_OK(where);
  EXPECT_EQ(where->migration, "share-1");
  EXPECT_EQ(where->conninfo, "postgresql://ferry@db.example:5432/migrations?sslmode=require");
  for (const char* bad :
       {"postgresql://ferry@db/m", "postgresql://ferry@db/m?migration=",
        "postgresql://ferry@db/m?migration=Has_Upper", "postgresql://ferry:secret@db/m?migration=a",
        "postgresql://ferry@db/m?migration=a&password=secret"}) {
    auto refused = catalog::ParsePostgresLocation(bad);
    EXPECT_EQ(refused.status().code(), Code::kInvalidInput) << bad;
    EXPECT_EQ(refused.status().message().find("secret"), std::string::npos) << bad;
  }
}

TEST(PostgresCatalog, MigrationsShareADatabaseWithoutSeeingEachOther) {
  std::string url = Postgres::Global().NewDatabase("shared");
  catalog::Config config;
  config.source = "/data/a";
  ASSERT_OK_AND_ASSIGN(auto a, Catalog::Create(url + "?migration=a", config));
  config.source = "/data/b";
  ASSERT_OK_AND_ASSIGN(auto b, Catalog::Create(url + "?migration=b", config));
  catalog::Item item;
  item.path = "same/path";
  ASSERT_OK(a->InsertItem(item));
  ASSERT_OK(b->InsertItem(item));
  ASSERT_OK(a->AppendEvent(1, "same/path", "discovered", "{}"));
  EXPECT_EQ(*b->CountItems(catalog::ItemState::kPending), 1);
  EXPECT_TRUE(b->CheckChain()->intact);
  EXPECT_EQ(b->CheckChain()->events, 0) << "a's events are not b's";
  EXPECT_NE(a->config().id, b->config().id);
  EXPECT_EQ(b->config().source, "/data/b");
}

TEST(PostgresCatalog, ANameThatIsNotUtf8IsAClearErrorAndTheTransactionKeepsNothing) {
  ASSERT_OK_AND_ASSIGN(
      auto catalog, Catalog::Create(Postgres::Global().NewDatabase("utf8") + "?migration=u", {}));
  ASSERT_OK(catalog->BeginTransaction());
  catalog::Item good;
  good.path = "good";
  ASSERT_OK(catalog->InsertItem(good));
  catalog::Item bad;
  bad.path = "bad\xff";
  Status refused = catalog->InsertItem(bad);
  EXPECT_EQ(refused.code(), Code::kInvalidInput);
  EXPECT_NE(refused.message().find("bad\\xff"), std::string::npos) << refused.message();
  ASSERT_OK(catalog->CommitTransaction());
  EXPECT_EQ(*catalog->CountItems(catalog::ItemState::kPending), 1);
}

TEST(PostgresCatalog, ANulCharacterIsRefusedInANameAndDroppedFromAMessage) {
  ASSERT_OK_AND_ASSIGN(auto catalog,
                       Catalog::Create(Postgres::Global().NewDatabase("nul") + "?migration=n", {}));
  ASSERT_OK(catalog->BeginTransaction());
  catalog::Item bad;
  bad.path = std::string("bad\0name", 8);
  Status refused = catalog->InsertItem(bad);
  EXPECT_EQ(refused.code(), Code::kInvalidInput);
  EXPECT_NE(refused.message().find("NUL"), std::string::npos) << refused.message();
  catalog::Item good;
  good.path = "good";
  ASSERT_OK(catalog->InsertItem(good));
  good.state = catalog::ItemState::kFailed;
  good.reason = std::string("read error\0 at offset 7", 23);
  ASSERT_OK(catalog->UpdateItem(good));
  ASSERT_OK(catalog->CommitTransaction()) << "one odd message does not lose the batch";
  ASSERT_OK_AND_ASSIGN(auto found, catalog->FindItem("good"));
  EXPECT_EQ(found->reason, "read error at offset 7");
}

// A new database holding migration `name` whose tables `sql` then changes (as another ferry
// would have left them); a connection to it, for the test to look (null, the test failed).
std::unique_ptr<catalog::PgConnection> TablesLeftAs(const std::string& url, const std::string& name,
                                                    const std::string& sql) {
  Result<std::unique_ptr<Catalog>> created = Catalog::Create(url + "?migration=" + name, {});
  if (!created.ok()) {
    ADD_FAILURE() << created.status().ToString();
    return nullptr;
  }
  created->reset();
  Result<std::unique_ptr<catalog::PgConnection>> db = catalog::PgConnection::Connect(url);
  Status changed = db.ok() ? (*db)->Run(sql) : db.status();
  if (!changed.ok()) {
    ADD_FAILURE() << changed.ToString();
    return nullptr;
  }
  return std::move(db).value();
}

int64_t SchemaVersion(catalog::PgConnection& db) {
  Result<catalog::PgResult> version = db.Exec("SELECT max(version) FROM ferry_schema");
  EXPECT_TRUE(version.ok()) << version.status().ToString();
  return version.ok() ? version->Int(0, 0) : -1;
}

TEST(PostgresCatalog, TablesOfAnOlderFerryAreBroughtUpToDate) {
  std::string url = Postgres::Global().NewDatabase("older");
  // As the second schema left them.
  auto db = TablesLeftAs(url, "o",
                         "DROP FUNCTION ferry_log_head(text); DROP INDEX ferry_items_work; UPDATE "
                         "ferry_schema SET version = 2");
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(url + "?migration=o"));
  ASSERT_OK(opened->AppendEvent(1, "", "note", "{}")) << "the log's function is there again";
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion);
}

TEST(PostgresCatalog, TablesOfSchemaFourGainWhatEarlyOnesLacked) {
  std::string url = Postgres::Global().NewDatabase("four");
  auto db = TablesLeftAs(url, "f",
                         "ALTER TABLE ferry_listing_folders DROP COLUMN scanner_only; UPDATE "
                         "ferry_schema SET version = 4");
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(url + "?migration=f"));
  ASSERT_OK_AND_ASSIGN(catalog::PgResult column,
                       db->Exec("SELECT count(*) FROM information_schema.columns WHERE "
                                "table_name = 'ferry_listing_folders' AND column_name = "
                                "'scanner_only'"));
  EXPECT_EQ(column.Int(0, 0), 1);
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion);
}

TEST(PostgresCatalog, TablesOfSchemaFiveGainTheTableOfASharedDriftCheck) {
  std::string url = Postgres::Global().NewDatabase("five");
  auto db =
      TablesLeftAs(url, "v", "DROP TABLE ferry_drift_parts; UPDATE ferry_schema SET version = 5");
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(url + "?migration=v"));
  ASSERT_OK_AND_ASSIGN(int64_t run, opened->BeginRun(catalog::Stage::kSync));
  ASSERT_OK(opened->OpenDriftCheck(run, {"a/", "b/"}));
  ASSERT_OK_AND_ASSIGN(catalog::DriftTotals totals, opened->DriftCheckTotals(run));
  EXPECT_EQ(totals.parts, 2);
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion);
}

// Tables in use (an older ferry still at work) are not brought up to date under it: the
// upgrade would wait behind its transactions, and every statement behind the upgrade.
TEST(PostgresCatalog, AnUpgradeWhileTheTablesAreInUseGivesUpAndSaysWhy) {
  std::string url = Postgres::Global().NewDatabase("busy_upgrade");
  const std::string location = url + "?migration=b";
  auto db = TablesLeftAs(url, "b", "UPDATE ferry_schema SET version = 4");
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto older, catalog::PgConnection::Connect(url));
  ASSERT_OK(older->Run("BEGIN; UPDATE ferry_items SET state = state WHERE false"));

  auto opening = std::async(std::launch::async, [&] { return Catalog::Open(location); });
  if (opening.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the upgrade still waits for the older ferry after a minute";
    ASSERT_OK(older->Run("COMMIT"));  // lets it through, to end the test
    opening.wait();
    return;
  }
  Result<std::unique_ptr<Catalog>> refused = opening.get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kRefused) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("older ferry still working"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(SchemaVersion(*db), 4) << "nothing changed";

  ASSERT_OK(older->Run("COMMIT"));
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(location));
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion);
}

// What a ferry of one version does on a database assumes every process on it follows the same
// rules (a sync's helpers, who holds a migration alone): an older ferry refuses tables a newer
// one has brought up to date, however it opens them.
TEST(PostgresCatalog, TablesOfANewerFerryAreRefusedByEveryOpen) {
  std::string url = Postgres::Global().NewDatabase("newer");
  const std::string location = url + "?migration=n";
  auto db = TablesLeftAs(
      url, "n",
      fmt::format("UPDATE ferry_schema SET version = {}", catalog::kPostgresSchemaVersion + 1));
  ASSERT_NE(db, nullptr);
  using Opening = std::function<Result<std::unique_ptr<Catalog>>()>;
  for (const auto& [how, open] : std::vector<std::pair<std::string, Opening>>{
           {"open", [&] { return Catalog::Open(location); }},
           {"read", [&] { return Catalog::OpenForReading(location); }},
           {"work", [&] { return Catalog::OpenAsWorker(location); }},
           {"create", [&] { return Catalog::Create(url + "?migration=other", {}); }}}) {
    Result<std::unique_ptr<Catalog>> opened = open();
    ASSERT_FALSE(opened.ok()) << how;
    EXPECT_EQ(opened.status().code(), Code::kInvalidInput) << how;
    EXPECT_NE(opened.status().message().find("newer ferry"), std::string::npos)
        << how << ": " << opened.status().ToString();
  }
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion + 1) << "left as it was";
}

TEST(PostgresCatalog, AFailedWriteFailsTheCommitAndTheChainStaysWhole) {
  ASSERT_OK_AND_ASSIGN(
      auto catalog, Catalog::Create(Postgres::Global().NewDatabase("failed") + "?migration=f", {}));
  catalog::Item first;
  first.path = "same";
  ASSERT_OK(catalog->InsertItem(first));
  ASSERT_OK(catalog->AppendEvent(1, "same", "discovered", "{}"));
  ASSERT_OK(catalog->BeginTransaction());
  ASSERT_OK(catalog->AppendEvent(1, "same", "changed", "{}"));
  catalog::Item twin;
  twin.path = "same";  // a second row for one path: refused by the database
  EXPECT_OK(catalog->InsertItem(twin)) << "queued; its answer comes later";
  EXPECT_FALSE(catalog->FindItem("other").ok()) << "the next read brings the refusal";
  EXPECT_FALSE(catalog->CommitTransaction().ok()) << "and the commit does not pretend";
  ASSERT_OK(catalog->AppendEvent(1, "same", "copied", "{}"));
  ASSERT_OK_AND_ASSIGN(catalog::ChainCheck chain, catalog->CheckChain());
  EXPECT_TRUE(chain.intact) << chain.problem;
  EXPECT_EQ(chain.events, 2) << "the rolled-back event is not in the chain";
}

TEST(PostgresCatalog, OneProcessWritesAMigrationAtATime) {
  std::string location = Postgres::Global().NewDatabase("locked") + "?migration=one";
  ASSERT_OK_AND_ASSIGN(auto writer, Catalog::Create(location, {}));
  auto second = Catalog::Open(location);
  EXPECT_EQ(second.status().code(), Code::kInvalidInput);
  EXPECT_NE(second.status().message().find("another ferry process"), std::string::npos);
  EXPECT_OK(Catalog::OpenForReading(location));
  writer.reset();
  EXPECT_OK(Catalog::Open(location));
}

// ---- Workers that share a migration's copy ----

// A migration with `n` pending files named f000..., and its location.
std::string MigrationWithItems(const std::string& name, int n) {
  std::string location = Postgres::Global().NewDatabase(name) + "?migration=w";
  auto created = Catalog::Create(location, {});
  EXPECT_OK(created);
  EXPECT_OK((*created)->BeginTransaction());
  for (int i = 0; i < n; ++i) {
    catalog::Item item;
    item.path = fmt::format("f{:03}", i);
    EXPECT_OK((*created)->InsertItem(item));
  }
  EXPECT_OK((*created)->CommitTransaction());
  return location;
}

std::unique_ptr<Catalog> Worker(const std::string& location, std::chrono::seconds lease) {
  auto worker = Catalog::OpenAsWorker(location);
  EXPECT_OK(worker);
  if (!worker.ok()) return nullptr;
  auto run = (*worker)->BeginRun(catalog::Stage::kCopy);
  EXPECT_OK(run);
  EXPECT_OK((*worker)->JoinWork(*run, lease));
  return std::move(worker).value();
}

const std::vector<catalog::ItemState> kWork{catalog::ItemState::kPending,
                                            catalog::ItemState::kFailed};

std::vector<catalog::Item> Claim(Catalog& worker, int max) {
  EXPECT_OK(worker.BeginTransaction());
  auto claimed = worker.ClaimItems(kWork, max);
  EXPECT_OK(claimed);
  EXPECT_OK(worker.CommitTransaction());
  return claimed.ok() ? *claimed : std::vector<catalog::Item>();
}

TEST(PostgresWorkers, ClaimNoItemTwiceAndShutOutAProcessThatWantsTheMigrationAlone) {
  std::string location = MigrationWithItems("claims", 100);
  auto a = Worker(location, std::chrono::seconds(60));
  auto b = Worker(location, std::chrono::seconds(60));
  ASSERT_TRUE(a && b);
  std::set<std::string> seen;
  int64_t held_by_b = 0;
  for (int round = 0; round < 4; ++round) {
    for (Catalog* w : {a.get(), b.get()}) {
      std::vector<catalog::Item> claimed = Claim(*w, 15);
      EXPECT_LE(claimed.size(), 15u);
      if (w == b.get()) held_by_b += int64_t(claimed.size());
      for (const catalog::Item& item : claimed) {
        EXPECT_TRUE(seen.insert(item.path).second) << item.path << " claimed twice";
      }
    }
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(held_by_b, 45) << "15, 15, 15, and none left after a's last 10";
  EXPECT_TRUE(Claim(*a, 10).empty());
  EXPECT_EQ(*a->HeldElsewhere(kWork), held_by_b);
  auto alone = Catalog::Open(location);
  EXPECT_EQ(alone.status().code(), Code::kInvalidInput) << "workers hold it";
  ASSERT_OK_AND_ASSIGN(auto workers, a->Workers());
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_TRUE(workers[0].live && workers[1].live);
  ASSERT_OK_AND_ASSIGN(int live, a->Heartbeat(5, 500));
  EXPECT_EQ(live, 2);
}

TEST(PostgresWorkers, ASilentWorkersItemsComeFreeWhenItsLeaseRunsOut) {
  std::string location = MigrationWithItems("silent", 20);
  auto silent = Worker(location, std::chrono::seconds(2));  // connected, never renews
  auto survivor = Worker(location, std::chrono::seconds(60));
  ASSERT_TRUE(silent && survivor);
  ASSERT_EQ(Claim(*silent, 20).size(), 20u);
  EXPECT_TRUE(Claim(*survivor, 20).empty()) << "still under the silent worker's lease";
  EXPECT_EQ(*survivor->HeldElsewhere(kWork), 20) << "so the survivor waits";
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(*survivor->HeldElsewhere(kWork), 0);
  EXPECT_EQ(Claim(*survivor, 50).size(), 20u) << "the lease ran out: the survivor takes them";
  ASSERT_OK_AND_ASSIGN(auto workers, survivor->Workers());
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_FALSE(workers[1].live) << "the silent one is not live";
}

TEST(PostgresWorkers, AWorkerWhoseConnectionClosedIsDeadAtOnce) {
  std::string location = MigrationWithItems("dead", 20);
  auto dying = Worker(location, std::chrono::seconds(60));
  auto survivor = Worker(location, std::chrono::seconds(60));
  ASSERT_TRUE(dying && survivor);
  ASSERT_EQ(Claim(*dying, 20).size(), 20u);
  EXPECT_EQ(*survivor->HeldElsewhere(kWork), 20);
  dying.reset();  // its connection closes, as with a kill -9 or a restarted server
  // The server notices the closed connection in a moment, not at once.
  std::vector<catalog::Item> taken;
  for (int i = 0; i < 50 && taken.empty(); ++i) {
    taken = Claim(*survivor, 50);
    if (taken.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(taken.size(), 20u) << "long before its 60 s lease ran out";
  ASSERT_OK_AND_ASSIGN(auto workers, survivor->Workers());
  EXPECT_FALSE(workers[1].live);
}

TEST(PostgresWorkers, AnOutcomeForAnItemAnotherWorkerTookOverIsNotRecorded) {
  std::string location = MigrationWithItems("taken", 1);
  auto slow = Worker(location, std::chrono::seconds(1));
  auto other = Worker(location, std::chrono::seconds(60));
  ASSERT_TRUE(slow && other);
  std::vector<catalog::Item> mine = Claim(*slow, 1);
  ASSERT_EQ(mine.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // cut off past its lease
  EXPECT_TRUE(Claim(*slow, 1).empty()) << "never its own again: its upload may be running";
  std::vector<catalog::Item> theirs = Claim(*other, 1);
  ASSERT_EQ(theirs.size(), 1u) << "the lease ran out";
  EXPECT_FALSE(slow->Heartbeat(0, 0).ok()) << "a renewal finds the claim gone";

  ASSERT_OK(slow->BeginTransaction());
  mine[0].state = catalog::ItemState::kConflict;
  ASSERT_OK(slow->UpdateItem(mine[0]));
  ASSERT_OK(slow->AppendEvent(1, mine[0].path, "conflict", "{}"));
  Status refused = slow->CommitTransaction();
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("taken over by another worker"), std::string::npos)
      << refused.message();

  ASSERT_OK(other->BeginTransaction());
  theirs[0].state = catalog::ItemState::kCopied;
  ASSERT_OK(other->UpdateItem(theirs[0]));
  ASSERT_OK(other->CommitTransaction());
  ASSERT_OK_AND_ASSIGN(auto item, other->FindItem(mine[0].path));
  EXPECT_EQ(item->state, catalog::ItemState::kCopied) << "the slow worker's outcome is not kept";
  ASSERT_OK_AND_ASSIGN(catalog::ChainCheck chain, other->CheckChain());
  EXPECT_TRUE(chain.intact);
  EXPECT_EQ(chain.events, 2) << "the two workers' own events; no conflict event";
}

TEST(PostgresWorkers, AnItemAWorkerTriedIsLeftToTheNextPassAndGivenBackClaimsGoAtOnce) {
  std::string location = MigrationWithItems("tried", 3);
  auto a = Worker(location, std::chrono::seconds(60));
  auto b = Worker(location, std::chrono::seconds(60));
  ASSERT_TRUE(a && b);
  std::vector<catalog::Item> claimed = Claim(*a, 2);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_OK(a->BeginTransaction());
  claimed[0].state = catalog::ItemState::kFailed;  // tried, its outcome recorded
  claimed[0].last_run = 1;
  ASSERT_OK_AND_ASSIGN(auto runs, a->Runs());
  claimed[0].last_run = runs[0].id;  // a's run
  ASSERT_OK(a->UpdateItem(claimed[0]));
  ASSERT_OK(a->CommitTransaction());
  ASSERT_EQ(Claim(*b, 5).size(), 1u) << "only the item nobody holds or tried";
  EXPECT_TRUE(Claim(*a, 5).empty()) << "a does not try its failure again in this run";
  EXPECT_EQ(*b->HeldElsewhere(kWork), 1) << "a still holds the other";
  ASSERT_OK(a->LeaveWork());
  std::vector<catalog::Item> given_back = Claim(*b, 5);
  ASSERT_EQ(given_back.size(), 2u) << "a left: its claim and its failure are free at once";
}

TEST(PostgresWorkers, ManyWritersKeepOneEventChain) {
  std::string location = MigrationWithItems("chain", 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&location, t] {
      auto w = Worker(location, std::chrono::seconds(60));
      if (!w) return;
      for (int batch = 0; batch < 20; ++batch) {
        EXPECT_OK(w->BeginTransaction());
        for (int i = 0; i < 10; ++i) {
          EXPECT_OK(
              w->AppendEvent(t + 1, fmt::format("t{}/{}", t, batch * 10 + i), "copied", "{}"));
        }
        EXPECT_OK(w->CommitTransaction());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK_AND_ASSIGN(auto reader, Catalog::OpenForReading(location));
  ASSERT_OK_AND_ASSIGN(catalog::ChainCheck chain, reader->CheckChain());
  EXPECT_TRUE(chain.intact) << chain.problem;
  EXPECT_EQ(chain.events, 3 * 200 + 3) << "every event, and each worker's own";
}

TEST(PostgresWorkers, AWorkerWaitsForAProcessThatHoldsTheMigrationAlone) {
  std::string location = MigrationWithItems("wait", 1);
  ASSERT_OK_AND_ASSIGN(auto alone, Catalog::Open(location));
  std::atomic<bool> waited = false, opened = false;
  std::thread worker([&] {
    auto w = Catalog::OpenAsWorker(location, [&] { waited = true; });
    EXPECT_OK(w);
    opened = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(waited);
  EXPECT_FALSE(opened) << "not while the migration is held alone";
  alone.reset();
  worker.join();
  EXPECT_TRUE(opened);
}

// The value of `result`, or (with the error reported) a default one.
template <typename T>
T Got(Result<T> result) {
  EXPECT_OK(result);
  return result.ok() ? std::move(result).value() : T{};
}

// A sync leads its copy: helpers join once the leader has joined, claim none of the items it
// holds, and claim nothing after it left; the copy is open only while the sync holds the
// migration.
TEST(PostgresWorkers, HelpersOfASyncsCopyClaimOnlyWhileItsLeaderWorks) {
  std::string location = MigrationWithItems("led", 30);
  ASSERT_OK_AND_ASSIGN(auto sync, Catalog::Open(location));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(location));
  EXPECT_EQ(Got(helper->RunningSync()), 0);
  ASSERT_OK_AND_ASSIGN(int64_t sync_run, sync->BeginRun(catalog::Stage::kSync));
  EXPECT_TRUE(Got(helper->RunHoldsMigration(sync_run)));
  EXPECT_EQ(Got(helper->RunningSync()), sync_run);
  EXPECT_EQ(Got(helper->OpenSharedCopy()), catalog::SharedCopy{}) << "not led yet";
  ASSERT_OK(sync->LeadCopy(sync_run));
  EXPECT_TRUE(sync->SharesWork());
  ASSERT_OK_AND_ASSIGN(int64_t lead_run, sync->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK(sync->JoinWork(lead_run, std::chrono::seconds(60)));
  const catalog::SharedCopy open{sync_run, lead_run};
  EXPECT_EQ(Got(helper->OpenSharedCopy()), open);
  EXPECT_EQ(Got(helper->RunningSync()), sync_run) << "its copy run is not a sync";

  ASSERT_OK(helper->HelpCopy(open));
  ASSERT_OK_AND_ASSIGN(int64_t help_run, helper->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK(helper->JoinWork(help_run, std::chrono::seconds(60)));
  std::set<std::string> seen;
  for (Catalog* w : {sync.get(), helper.get(), sync.get()}) {
    for (const catalog::Item& item : Claim(*w, 10)) {
      EXPECT_TRUE(seen.insert(item.path).second) << item.path << " claimed twice";
    }
  }
  EXPECT_EQ(seen.size(), 30u);
  // Items given back by the sync (as a stop does) are free again, but not to a helper once the
  // leader left.
  ASSERT_OK(sync->LeaveWork());
  EXPECT_FALSE(sync->SharesWork()) << "the sync goes on alone";
  EXPECT_TRUE(Claim(*helper, 50).empty()) << "the leader left: no more claims";
  EXPECT_EQ(Got(helper->OpenSharedCopy()), catalog::SharedCopy{});

  catalog::Run ended;
  ended.id = sync_run;
  ended.stage = "sync";
  ended.outcome = "done";
  ASSERT_OK(sync->EndRun(ended));
  EXPECT_FALSE(Got(helper->RunHoldsMigration(sync_run))) << "its run is over";
  EXPECT_EQ(Got(helper->RunningSync()), 0);
  ASSERT_OK_AND_ASSIGN(int64_t next, sync->BeginRun(catalog::Stage::kSync));
  sync.reset();  // its process is gone, the run still marked running
  bool released = false;
  for (int i = 0; i < 50 && !released; ++i) {
    released = !Got(helper->RunHoldsMigration(next));
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(released) << "a run whose process is gone holds nothing";
  EXPECT_EQ(Got(helper->RunningSync()), 0) << "nor is it a running sync";
}

// The helpers of a sync that died (or failed) mid-copy hold no lock: nobody holds the migration
// alone (a sync, a cutover) until they have recorded their last items.
TEST(PostgresWorkers, NobodyHoldsTheMigrationAloneWhileHelpersOfADeadSyncCopy) {
  std::string location = MigrationWithItems("orphans", 10);
  ASSERT_OK_AND_ASSIGN(auto sync, Catalog::Open(location));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(location));
  ASSERT_OK_AND_ASSIGN(int64_t sync_run, sync->BeginRun(catalog::Stage::kSync));
  ASSERT_OK(sync->LeadCopy(sync_run));
  ASSERT_OK_AND_ASSIGN(int64_t lead_run, sync->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK(sync->JoinWork(lead_run, std::chrono::seconds(60)));
  ASSERT_OK(helper->HelpCopy({sync_run, lead_run}));
  ASSERT_OK_AND_ASSIGN(int64_t help_run, helper->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK(helper->JoinWork(help_run, std::chrono::seconds(60)));
  ASSERT_EQ(Claim(*helper, 5).size(), 5u);
  sync.reset();  // killed mid-copy: its lock goes with its connection, in a moment
  Status refused;
  for (int i = 0; i < 50; ++i) {
    refused = Catalog::Open(location).status();
    if (refused.message().find("helped the last sync") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(refused.code(), Code::kRefused);
  EXPECT_NE(refused.message().find("1 process that helped the last sync"), std::string::npos)
      << refused.message();
  ASSERT_OK(helper->LeaveWork());
  EXPECT_OK(Catalog::Open(location)) << "its helper done, the migration is free";
}

TEST(PostgresCatalog, TablesOfSchemaSixGainHowFarAPartWasListed) {
  std::string url = Postgres::Global().NewDatabase("six");
  auto db = TablesLeftAs(url, "v",
                         "ALTER TABLE ferry_listing_folders DROP COLUMN listed_to; UPDATE "
                         "ferry_schema SET version = 6");
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(url + "?migration=v"));
  ASSERT_OK_AND_ASSIGN(int64_t run, opened->BeginRun(catalog::Stage::kScan));
  ASSERT_OK(opened->OpenListing(run));
  EXPECT_EQ(Got(opened->RecordFolders(run, {{"", {}, {}, {"a/"}, {}, ""}})), 1);
  EXPECT_EQ(Got(opened->ClaimFolders(run, 1, std::chrono::seconds(60), true)),
            (std::vector<catalog::FolderClaim>{{"a/", 0, 0, ""}}));
  EXPECT_TRUE(Got(opened->RecordPart(run, {"a/", {}, "a/9", false}, std::chrono::seconds(60))));
  EXPECT_EQ(SchemaVersion(*db), catalog::kPostgresSchemaVersion);
}

// A scan's listing shared by two processes: folders claimed once, a claim that ran out taken
// over (the slow lister's record is dropped), errors kept in place, the entries by path.
TEST(PostgresListing, FoldersAreClaimedOnceAndTheEntriesComeBackByPath) {
  std::string url = Postgres::Global().NewDatabase("listing") + "?migration=scan";
  catalog::Config config;
  config.source = "/data";
  ASSERT_OK(Catalog::Create(url, config));
  ASSERT_OK_AND_ASSIGN(auto scanner, Catalog::Open(url));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(url));
  ASSERT_TRUE(scanner->SharesListing());
  ASSERT_OK_AND_ASSIGN(int64_t run, scanner->BeginRun(catalog::Stage::kScan));
  ASSERT_OK(scanner->OpenListing(run));
  EXPECT_EQ(Got(helper->OpenListingRun()), run);

  auto entry = [](std::string path, storage::Kind kind) {
    storage::Entry e;
    e.path = std::move(path);
    e.kind = kind;
    e.size = kind == storage::Kind::kFile ? 5 : 0;
    e.inode = 0xfedcba9876543210ull;  // above INT64_MAX: kept as its bits
    e.mtime_ns = 1'700'000'000'123'456'789;
    e.etag = "\"tag\"";
    return e;
  };
  using storage::Kind;
  using Claims = std::vector<catalog::FolderClaim>;
  const auto minute = std::chrono::seconds(60);
  // The root is the scanner's: nobody claims it.
  EXPECT_EQ(Got(helper->ClaimFolders(run, 16, minute, false)), Claims{});
  EXPECT_EQ(Got(scanner->ClaimFolders(run, 16, minute, true)), Claims{});
  catalog::ListedFolder top{"",
                            {entry("a", Kind::kFolder), entry("b.txt", Kind::kFile),
                             entry("c", Kind::kFolder), entry("m", Kind::kFolder)},
                            {{"x", "Input/output error"}},
                            {"a", "c"},
                            {"m"},  // a mount point where a helper looked: the scanner's
                            ""};
  EXPECT_EQ(Got(scanner->RecordFolders(run, {top})), 1);
  EXPECT_EQ(Got(scanner->FoldersLeft(run)), 3);

  // Claimed with what the root's listing recorded; given back, free at once; given back to the
  // scanner, the scanner's alone.
  const uint64_t inode = 0xfedcba9876543210ull;
  const int64_t mtime = 1'700'000'000'123'456'789;
  EXPECT_EQ(Got(helper->ClaimFolders(run, 16, minute, false)),
            (Claims{{"a", inode, mtime}, {"c", inode, mtime}}));
  ASSERT_OK(helper->ReleaseFolders(run, {"a"}, /*to_scanner=*/false));
  ASSERT_OK(helper->ReleaseFolders(run, {"c"}, /*to_scanner=*/true));
  ASSERT_OK_AND_ASSIGN(auto slow, helper->ClaimFolders(run, 16, std::chrono::seconds(1), false));
  EXPECT_EQ(slow, (Claims{{"a", inode, mtime}})) << "not c, nor m: the scanner's";
  EXPECT_EQ(Got(scanner->ClaimFolders(run, 16, minute, true)),
            (Claims{{"c", inode, mtime}, {"m", inode, mtime}}));
  EXPECT_EQ(Got(scanner->RecordFolders(
                run, {{"c", {}, {}, {}, {}, "Permission denied"}, {"m", {}, {}, {}, {}, ""}})),
            2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // the helper's claim runs out
  EXPECT_EQ(Got(scanner->ClaimFolders(run, 16, minute, true)), (Claims{{"a", inode, mtime}}));
  catalog::ListedFolder a{"a", {entry("a/1", Kind::kFile)}, {}, {}, {}, ""};
  EXPECT_EQ(Got(scanner->RecordFolders(run, {a})), 1);
  catalog::ListedFolder late{"a", {entry("a/late", Kind::kFile)}, {}, {}, {}, ""};
  EXPECT_EQ(Got(helper->RecordFolders(run, {late})), 0) << "recorded already: dropped";
  EXPECT_EQ(Got(scanner->FoldersLeft(run)), 0);

  ASSERT_OK_AND_ASSIGN(auto lister, scanner->ListedEntries(run));
  std::vector<std::string> seen;
  storage::Entry e;
  while (true) {
    Result<bool> more = lister->Next(e);
    if (!more.ok()) {
      seen.push_back("error " + lister->Unlisted());
      continue;
    }
    if (!*more) break;
    seen.push_back(e.path);
    if (e.path == "b.txt") {
      EXPECT_EQ(e.kind, Kind::kFile);
      EXPECT_EQ(e.size, 5u);
      EXPECT_EQ(e.inode, 0xfedcba9876543210ull);
      EXPECT_EQ(e.etag, "\"tag\"");
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "a/1", "b.txt", "c", "error c/", "m", "error x"}));

  catalog::Run done;
  done.id = run;
  done.stage = "scan";
  done.outcome = "done";
  ASSERT_OK(scanner->EndRun(done));
  EXPECT_EQ(Got(helper->OpenListingRun()), 0) << "its scan is over";
  ASSERT_OK(scanner->CloseListing(run));
  ASSERT_OK_AND_ASSIGN(auto empty, scanner->ListedEntries(run));
  EXPECT_EQ(Got(empty->Next(e)), false);
}

// An object store's listing in parts (prefixes listed flat): a part is recorded a batch at a
// time with how far it was listed, only while it is still the recorder's; a part a slow process
// held past its lease is taken over from its last batch, and every entry is recorded once.
TEST(PostgresListing, APartIsRecordedABatchAtATimeByWhoeverHoldsIt) {
  std::string url = Postgres::Global().NewDatabase("parts") + "?migration=scan";
  catalog::Config config;
  config.source = "/data";
  ASSERT_OK(Catalog::Create(url, config));
  ASSERT_OK_AND_ASSIGN(auto scanner, Catalog::Open(url));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(url));
  ASSERT_OK_AND_ASSIGN(int64_t run, scanner->BeginRun(catalog::Stage::kScan));
  ASSERT_OK(scanner->OpenListing(run));
  auto entries = [](std::vector<std::string> paths) {
    std::vector<storage::Entry> out;
    for (std::string& path : paths) {
      storage::Entry e;
      e.path = std::move(path);
      e.size = 3;
      e.etag = "\"0x1\"";
      out.push_back(std::move(e));
    }
    return out;
  };
  catalog::ListedFolder plan{"", entries({"top.txt"}), {}, {"a/", "b/"}, {}, ""};
  EXPECT_EQ(Got(scanner->RecordFolders(run, {plan})), 1);

  using Claims = std::vector<catalog::FolderClaim>;
  const auto minute = std::chrono::seconds(60);
  EXPECT_FALSE(Got(helper->RecordPart(run, {"a/", entries({"a/0"}), "a/0", false}, minute)))
      << "never claimed: not its to record";
  EXPECT_EQ(Got(helper->ClaimFolders(run, 1, std::chrono::seconds(1), false)),
            (Claims{{"a/", 0, 0, ""}}));
  EXPECT_TRUE(Got(helper->RecordPart(run, {"a/", entries({"a/1", "a/2"}), "a/2", false},
                                     std::chrono::seconds(1))));
  EXPECT_EQ(Got(scanner->ClaimFolders(run, 16, minute, true)), (Claims{{"b/", 0, 0, ""}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // the helper's claim runs out
  EXPECT_EQ(Got(scanner->ClaimFolders(run, 16, minute, true)), (Claims{{"a/", 0, 0, "a/2"}}))
      << "taken over from the helper's last batch";
  EXPECT_FALSE(Got(helper->RecordPart(run, {"a/", entries({"a/3"}), "a/3", true}, minute)))
      << "no longer the helper's: nothing recorded";
  EXPECT_TRUE(Got(scanner->RecordPart(run, {"a/", entries({"a/3"}), "a/3", false}, minute)));
  EXPECT_TRUE(Got(scanner->RecordPart(run, {"a/", {}, "a/4", true}, minute)))
      << "a last batch the filter left empty";
  EXPECT_FALSE(Got(scanner->RecordPart(run, {"a/", entries({"a/5"}), "a/5", true}, minute)))
      << "done";
  EXPECT_EQ(Got(scanner->FoldersLeft(run)), 1);
  EXPECT_TRUE(Got(scanner->RecordPart(run, {"b/", entries({"b/1"}), "b/1", true}, minute)));
  EXPECT_EQ(Got(scanner->FoldersLeft(run)), 0);

  ASSERT_OK_AND_ASSIGN(auto lister, scanner->ListedEntries(run));
  std::vector<std::string> seen;
  storage::Entry e;
  while (Got(lister->Next(e))) {
    seen.push_back(e.path);
    EXPECT_EQ(e.etag, "\"0x1\"") << e.path;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a/1", "a/2", "a/3", "b/1", "top.txt"}));
}

// A sync's drift check in parts: each claimed by one process at a time; a batch is recorded
// with the part's progress only while the part is still the recorder's, so a part a slow
// process held past its lease and another took over is recorded once, by the one that holds it.
TEST(PostgresDriftCheck, APartIsRecordedOnceByWhoeverHoldsIt) {
  std::string url = Postgres::Global().NewDatabase("drift") + "?migration=sync";
  catalog::Config config;
  config.source = "/data";
  ASSERT_OK(Catalog::Create(url, config));
  ASSERT_OK_AND_ASSIGN(auto leader, Catalog::Open(url));
  ASSERT_OK_AND_ASSIGN(auto helper, Catalog::OpenForReading(url));
  ASSERT_OK(leader->BeginTransaction());
  catalog::Item item;
  item.path = "b/1";
  item.state = catalog::ItemState::kCopied;
  ASSERT_OK(leader->InsertItem(item));
  ASSERT_OK(leader->CommitTransaction());
  ASSERT_OK_AND_ASSIGN(int64_t run, leader->BeginRun(catalog::Stage::kSync));
  EXPECT_EQ(Got(helper->OpenDriftCheckRun()), 0);
  ASSERT_OK(leader->OpenDriftCheck(run, {"a/", "b/"}));
  EXPECT_EQ(Got(helper->OpenDriftCheckRun()), run);

  using Part = std::optional<catalog::DriftPart>;
  const auto minute = std::chrono::seconds(60);
  EXPECT_EQ(Got(helper->ClaimDriftPart(run, std::chrono::seconds(1))), (Part{{"a/", ""}}));
  EXPECT_EQ(Got(leader->ClaimDriftPart(run, minute)), (Part{{"b/", ""}}));
  EXPECT_EQ(Got(leader->ClaimDriftPart(run, minute)), Part{}) << "both held";
  // A batch of a/ recorded by the helper, which keeps the part.
  ASSERT_OK(helper->BeginTransaction());
  EXPECT_EQ(Got(helper->HoldDriftPart(run, "a/", "a/5", 2, 1, false, std::chrono::seconds(1))),
            true);
  ASSERT_OK(helper->CommitTransaction());
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // the helper's claim runs out
  EXPECT_EQ(Got(leader->ClaimDriftPart(run, minute)), (Part{{"a/", "a/5"}}))
      << "taken over from where the helper recorded";

  // The helper's next batch of a/ is not recorded: its item update and event go with it.
  ASSERT_OK(helper->BeginTransaction());
  item.state = catalog::ItemState::kConflict;
  ASSERT_OK(helper->UpdateItem(item));
  ASSERT_OK(helper->AppendEvent(run, "a/7", "conflict", "{}"));
  EXPECT_EQ(Got(helper->HoldDriftPart(run, "a/", "a/9", 1, 0, true, minute)), false);
  ASSERT_OK(helper->RollbackTransaction());
  EXPECT_EQ(Got(leader->FindItem("b/1"))->state, catalog::ItemState::kCopied);

  // While the leader records a/, nobody can take it over.
  ASSERT_OK(leader->BeginTransaction());
  EXPECT_EQ(Got(leader->HoldDriftPart(run, "a/", "a/9", 1, 0, true, minute)), true);
  EXPECT_EQ(Got(helper->ClaimDriftPart(run, minute)), Part{});
  ASSERT_OK(leader->CommitTransaction());
  ASSERT_OK(leader->BeginTransaction());
  EXPECT_EQ(Got(leader->HoldDriftPart(run, "b/", "b/1", 0, 3, true, minute)), true);
  ASSERT_OK(leader->CommitTransaction());
  ASSERT_OK(helper->BeginTransaction());
  EXPECT_EQ(Got(helper->HoldDriftPart(run, "b/", "b/2", 1, 0, true, minute)), false)
      << "done, and never the helper's";
  ASSERT_OK(helper->RollbackTransaction());

  catalog::DriftTotals totals = Got(leader->DriftCheckTotals(run));
  EXPECT_EQ(totals.parts, 2);
  EXPECT_EQ(totals.left, 0);
  EXPECT_EQ(totals.changed, 3) << "the helper's first batch and the leader's";
  EXPECT_EQ(totals.unexpected, 4);
  EXPECT_EQ(Got(helper->OpenDriftCheckRun()), 0) << "no part left";
  int conflicts = 0;
  ASSERT_OK_AND_ASSIGN(auto events, leader->Events());
  catalog::Event e;
  while (Got(events.Next(e))) conflicts += e.kind == "conflict";
  EXPECT_EQ(conflicts, 0);
  ASSERT_OK(leader->CloseDriftCheck(run));
  EXPECT_EQ(Got(leader->DriftCheckTotals(run)).parts, 0);
}

TEST(PostgresCatalog, AnUnreachableServerIsAClearError) {
  auto refused = Catalog::Open(
      fmt::format("postgresql://ferry@127.0.0.1:{}/x?migration=m&connect_timeout=2", 1));
  EXPECT_EQ(refused.status().code(), Code::kInvalidInput);
  EXPECT_NE(refused.status().message().find("cannot connect to PostgreSQL"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace ferry::testing
