#include "support/catalog_conformance.h"

#include <chrono>

#include "base/encoding.h"
#include "support/status_matchers.h"

namespace ferry::testing {

using catalog::Catalog;
using catalog::Config;
using catalog::Event;
using catalog::Item;
using catalog::ItemState;

namespace {

Config SampleConfig() {
  Config c;
  c.source = "/data/share";
  c.target = "https://acct.blob.core.windows.net/archive/share";
  c.include = {"projects/**"};
  c.exclude = {"*.tmp"};
  c.tier = "Cool";
  c.symlinks = catalog::SymlinkPolicy::kKeep;
  c.mode = catalog::DeleteMode::kMirror;
  c.target_sas = true;
  return c;
}

Item FileItem(std::string path, uint64_t size, ItemState state = ItemState::kPending) {
  Item item;
  item.path = std::move(path);
  item.size = size;
  item.mtime_ns = 1'700'000'000'000'000'000;
  item.state = state;
  return item;
}

// An item with every field set to something other than its default.
Item FullItem(std::string path) {
  Item item = FileItem(std::move(path), 123'456'789'012, ItemState::kConflict);
  item.kind = storage::Kind::kSymlink;
  item.ctime_ns = 1'700'000'000'123'456'789;
  item.inode = 9'000'000'000;
  item.source_etag = "\"9b2cf535f27731c974343645a3985328\"";
  item.content_type = "image/png";
  item.mode = 0100640;
  item.uid = 1001;
  item.gid = 2002;
  item.link_target = "../elsewhere";
  item.md5 = Md5::Of("content");
  item.reason = "the blob was changed by someone else";
  item.cause = "target changed";
  item.target_etag = "\"0x8DC\"";
  item.attempts = 3;
  item.last_run = 7;
  item.verified_ns = 1'700'000'001'000'000'000;
  item.verify_result = "ok";
  item.write_intent = "7/42";
  item.kept_blob = true;
  return item;
}

void ExpectSameItem(const Item& a, const Item& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.ctime_ns, b.ctime_ns);
  EXPECT_EQ(a.inode, b.inode);
  EXPECT_EQ(a.source_etag, b.source_etag);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.gid, b.gid);
  EXPECT_EQ(a.link_target, b.link_target);
  EXPECT_EQ(a.md5, b.md5);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.cause, b.cause);
  EXPECT_EQ(a.target_etag, b.target_etag);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.last_run, b.last_run);
  EXPECT_EQ(a.verified_ns, b.verified_ns);
  EXPECT_EQ(a.verify_result, b.verify_result);
  EXPECT_EQ(a.write_intent, b.write_intent);
  EXPECT_EQ(a.kept_blob, b.kept_blob);
}

std::vector<std::string> Paths(Catalog& catalog, const std::vector<ItemState>& states = {}) {
  std::vector<std::string> paths;
  EXPECT_OK(catalog.ForEachItem(states, [&](Item& item) {
    paths.push_back(item.path);
    return Status::Ok();
  }));
  return paths;
}

std::vector<Event> AllEvents(Catalog& catalog, const catalog::EventFilter& filter = {}) {
  std::vector<Event> events;
  Result<catalog::EventCursor> cursor = catalog.Events(filter);
  EXPECT_OK(cursor);
  if (!cursor.ok()) return events;
  Event e;
  while (true) {
    Result<bool> more = cursor->Next(e);
    EXPECT_OK(more);
    if (!more.ok() || !*more) return events;
    events.push_back(e);
  }
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<Catalog> CatalogConformance::NewCatalog(std::string* location) {
  std::string where = host_->NewLocation();
  if (location) *location = where;
  Result<std::unique_ptr<Catalog>> created = Catalog::Create(where, SampleConfig());
  EXPECT_OK(created);
  return created.ok() ? std::move(created).value() : nullptr;
}

TEST_P(CatalogConformance, CreateKeepsTheConfigurationAndGivesTheMigrationAnId) {
  std::string location;
  int64_t before = NowNs();
  std::string id;
  {
    auto created = NewCatalog(&location);
    ASSERT_NE(created, nullptr);
    id = created->config().id;
    EXPECT_EQ(id.size(), 32u);
  }
  ASSERT_OK_AND_ASSIGN(auto opened, Catalog::Open(location));
  const Config& c = opened->config();
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.source, SampleConfig().source);
  EXPECT_EQ(c.target, SampleConfig().target);
  EXPECT_TRUE(c.target_sas);
  EXPECT_EQ(c.include, SampleConfig().include);
  EXPECT_EQ(c.exclude, SampleConfig().exclude);
  EXPECT_EQ(c.tier, "Cool");
  EXPECT_EQ(c.symlinks, catalog::SymlinkPolicy::kKeep);
  EXPECT_EQ(c.mode, catalog::DeleteMode::kMirror);
  EXPECT_EQ(opened->location(), location);
  ASSERT_OK_AND_ASSIGN(int64_t created_ns, opened->CreatedNs());
  EXPECT_GE(created_ns, before);
  EXPECT_LE(created_ns, NowNs());
}

TEST_P(CatalogConformance, ALocationHoldsOneMigrationAndAnEmptyOneIsExplained) {
  std::string location;
  ASSERT_NE(NewCatalog(&location), nullptr);
  auto again = Catalog::Create(location, SampleConfig());
  EXPECT_EQ(again.status().code(), Code::kInvalidInput);
  EXPECT_NE(again.status().message().find("already a migration"), std::string::npos);

  std::string empty = host_->NewLocation();
  auto missing = Catalog::Open(empty);
  EXPECT_EQ(missing.status().code(), Code::kInvalidInput);
  EXPECT_NE(missing.status().message().find("ferry init"), std::string::npos)
      << missing.status().message();
  EXPECT_EQ(Catalog::OpenForReading(empty).status().code(), Code::kInvalidInput);
}

TEST_P(CatalogConformance, EveryFieldOfAnItemComesBackAsWritten) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  Item written = FullItem("dir/naïve name.txt");
  ASSERT_OK(catalog->InsertItem(written));
  EXPECT_GT(written.id, 0);
  ASSERT_OK_AND_ASSIGN(std::optional<Item> found, catalog->FindItem(written.path));
  ASSERT_TRUE(found.has_value());
  ExpectSameItem(*found, written);

  Item updated = FileItem(written.path, 5, ItemState::kCopied);
  updated.id = written.id;
  ASSERT_OK(catalog->UpdateItem(updated));
  ASSERT_OK_AND_ASSIGN(found, catalog->FindItem(written.path));
  ASSERT_TRUE(found.has_value());
  ExpectSameItem(*found, updated);  // every field replaced, the optional ones cleared

  ASSERT_OK_AND_ASSIGN(std::optional<Item> none, catalog->FindItem("dir/other"));
  EXPECT_FALSE(none.has_value());
}

TEST_P(CatalogConformance, ItemsComeBackInPathByteOrderAndFilteredByState) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK(catalog->BeginTransaction());
  for (const char* path : {"b", "a/x", "a-b", "a", "é", "B", "a0", "a/x/y"}) {
    Item item = FileItem(path, 10);
    ASSERT_OK(catalog->InsertItem(item));
  }
  ASSERT_OK(catalog->CommitTransaction());
  Item copied = FileItem("a-b", 10, ItemState::kCopied);
  copied.id = (*catalog->FindItem("a-b"))->id;
  ASSERT_OK(catalog->UpdateItem(copied));

  EXPECT_EQ(Paths(*catalog),
            (std::vector<std::string>{"B", "a", "a-b", "a/x", "a/x/y", "a0", "b", "é"}));
  EXPECT_EQ(Paths(*catalog, {ItemState::kCopied}), std::vector<std::string>{"a-b"});
  EXPECT_EQ(Paths(*catalog, {ItemState::kCopied, ItemState::kFailed}),
            std::vector<std::string>{"a-b"});
  EXPECT_TRUE(Paths(*catalog, {ItemState::kKept}).empty());

  EXPECT_TRUE(*catalog->HasDescendants("a"));
  EXPECT_TRUE(*catalog->HasDescendants("a/x"));
  EXPECT_FALSE(*catalog->HasDescendants("a/x/y"));
  EXPECT_FALSE(*catalog->HasDescendants("a-"));
  EXPECT_FALSE(*catalog->HasDescendants("B"));
}

// What a part of a split listing is compared with: the items between two paths, in byte order.
TEST_P(CatalogConformance, ItemsBetweenTwoPathsComeBackInByteOrder) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK(catalog->BeginTransaction());
  for (const char* path : {"b", "a/x", "a-b", "a", "é", "B", "a0", "a/x/y", "a/"}) {
    Item item = FileItem(path, 10);
    ASSERT_OK(catalog->InsertItem(item));
  }
  ASSERT_OK(catalog->CommitTransaction());
  auto between = [&](const std::string& from, const std::string& before) {
    std::vector<std::string> paths;
    Result<catalog::ItemCursor> cursor = catalog->ItemsBetween(from, before);
    EXPECT_OK(cursor);
    if (!cursor.ok()) return paths;
    Item item;
    while (true) {
      Result<bool> more = cursor->Next(item);
      EXPECT_OK(more);
      if (!more.ok() || !*more) break;
      paths.push_back(item.path);
    }
    return paths;
  };
  EXPECT_EQ(between("", ""),
            (std::vector<std::string>{"B", "a", "a-b", "a/", "a/x", "a/x/y", "a0", "b", "é"}));
  // The paths under "a/": from "a/", before "a0" ('/' + 1).
  EXPECT_EQ(between("a/", "a0"), (std::vector<std::string>{"a/", "a/x", "a/x/y"}));
  EXPECT_EQ(between("a/x/", "a/x0"), (std::vector<std::string>{"a/x/y"}));
  EXPECT_EQ(between("a0", ""), (std::vector<std::string>{"a0", "b", "é"}));
  EXPECT_EQ(between("", "a-b"), (std::vector<std::string>{"B", "a"}));
  EXPECT_TRUE(between("a/x/z", "a0").empty());
}

TEST_P(CatalogConformance, ACursorKeepsItsSnapshotWhileTheWriterChangesRows) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  Item a = FileItem("a", 1), c = FileItem("c", 1);
  ASSERT_OK(catalog->InsertItem(a));
  ASSERT_OK(catalog->InsertItem(c));
  ASSERT_OK_AND_ASSIGN(catalog::ItemCursor cursor, catalog->Items());
  Item item;
  ASSERT_TRUE(*cursor.Next(item));
  EXPECT_EQ(item.path, "a");
  Item b = FileItem("b", 1);
  ASSERT_OK(catalog->InsertItem(b));
  c.state = ItemState::kCopied;
  ASSERT_OK(catalog->UpdateItem(c));
  ASSERT_TRUE(*cursor.Next(item));
  EXPECT_EQ(item.path, "c") << "a row written after the cursor opened is not seen";
  EXPECT_EQ(item.state, ItemState::kPending) << "nor a change to a row";
  EXPECT_FALSE(*cursor.Next(item));
}

TEST_P(CatalogConformance, ARolledBackTransactionLeavesNothingAndACommittedOneLasts) {
  std::string location;
  auto catalog = NewCatalog(&location);
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK(catalog->BeginTransaction());
  Item kept = FileItem("kept", 1);
  ASSERT_OK(catalog->InsertItem(kept));
  ASSERT_OK(catalog->CommitTransaction());
  ASSERT_OK(catalog->BeginTransaction());
  Item lost = FileItem("lost", 1);
  ASSERT_OK(catalog->InsertItem(lost));
  kept.state = ItemState::kFailed;
  ASSERT_OK(catalog->UpdateItem(kept));
  ASSERT_OK(catalog->RollbackTransaction());
  // A lazy commit (one a crash of the database server may lose) is a commit like any other.
  ASSERT_OK(catalog->BeginTransaction());
  Item lazy = FileItem("lazy", 2);
  ASSERT_OK(catalog->InsertItem(lazy));
  lazy.state = ItemState::kCopied;
  ASSERT_OK(catalog->UpdateItem(lazy));
  ASSERT_OK(catalog->AppendEvent(1, "lazy", "copied", "{}"));
  ASSERT_OK(catalog->CommitTransactionLazily());
  catalog.reset();

  ASSERT_OK_AND_ASSIGN(auto reopened, Catalog::Open(location));
  EXPECT_EQ(Paths(*reopened), (std::vector<std::string>{"kept", "lazy"}));
  EXPECT_EQ((*reopened->FindItem("kept"))->state, ItemState::kPending);
  EXPECT_EQ((*reopened->FindItem("lazy"))->state, ItemState::kCopied);
  ASSERT_OK_AND_ASSIGN(catalog::ChainCheck chain, reopened->CheckChain());
  EXPECT_TRUE(chain.intact);
  EXPECT_EQ(chain.events, 1);
}

TEST_P(CatalogConformance, NotesAreKeptByKeyAndAMissingOneIsNotFound) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  EXPECT_EQ(catalog->GetMeta("cutover").status().code(), Code::kNotFound);
  ASSERT_OK(catalog->SetMeta("cutover", R"({"outcome":"refused"})"));
  ASSERT_OK(catalog->SetMeta("cutover", R"({"outcome":"done"})"));
  ASSERT_OK_AND_ASSIGN(std::string note, catalog->GetMeta("cutover"));
  EXPECT_EQ(note, R"({"outcome":"done"})");
}

TEST_P(CatalogConformance, RunsAreNumberedInOrderAndOneLeftRunningShowsAsInterrupted) {
  std::string location;
  auto catalog = NewCatalog(&location);
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK_AND_ASSIGN(int64_t scan, catalog->BeginRun(catalog::Stage::kScan));
  catalog::Run done{scan, "scan", 0, 0, "done", 10, 2048, 1, R"({"new":10})"};
  ASSERT_OK(catalog->EndRun(done));
  ASSERT_OK_AND_ASSIGN(int64_t copy, catalog->BeginRun(catalog::Stage::kCopy));
  EXPECT_GT(copy, scan);
  catalog.reset();  // the copy never ends: its process died

  ASSERT_OK_AND_ASSIGN(auto reopened, Catalog::Open(location));
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::Run> runs, reopened->Runs());
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, scan);
  EXPECT_EQ(runs[0].stage, "scan");
  EXPECT_EQ(runs[0].outcome, "done");
  EXPECT_EQ(runs[0].files, 10);
  EXPECT_EQ(runs[0].bytes, 2048);
  EXPECT_EQ(runs[0].failed, 1);
  EXPECT_EQ(runs[0].summary_json, R"({"new":10})");
  EXPECT_GT(runs[0].started_ns, 0);
  EXPECT_GE(runs[0].ended_ns, runs[0].started_ns);
  EXPECT_EQ(runs[1].stage, "copy");
  EXPECT_EQ(runs[1].outcome, "interrupted");
  EXPECT_EQ(runs[1].ended_ns, 0);
}

TEST_P(CatalogConformance, EventsChainTheirHashesAcrossProcessesAndFilter) {
  std::string location;
  auto catalog = NewCatalog(&location);
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK(catalog->AppendEvent(1, "a", "discovered", "{}"));
  ASSERT_OK(catalog->AppendEvent(1, "a", "copied", R"({"size":1})"));
  catalog.reset();
  ASSERT_OK_AND_ASSIGN(auto reopened, Catalog::Open(location));
  int64_t between = NowNs();
  ASSERT_OK(reopened->AppendEvent(2, "", "stopped", R"({"signal":"SIGINT"})"));

  std::vector<Event> events = AllEvents(*reopened);
  ASSERT_EQ(events.size(), 3u);
  std::string previous(64, '0');
  for (const Event& e : events) {
    EXPECT_EQ(e.prev_hash, previous);
    EXPECT_EQ(e.hash,
              catalog::EventHash(e.prev_hash, e.run, e.time_ns, e.path, e.kind, e.detail_json));
    previous = e.hash;
  }
  EXPECT_LT(events[0].id, events[1].id);
  EXPECT_EQ(events[2].kind, "stopped");
  EXPECT_EQ(events[2].detail_json, R"({"signal":"SIGINT"})");

  ASSERT_OK_AND_ASSIGN(catalog::ChainCheck check, reopened->CheckChain());
  EXPECT_TRUE(check.intact);
  EXPECT_EQ(check.events, 3);
  EXPECT_EQ(check.head_hash, previous);

  EXPECT_EQ(AllEvents(*reopened, {.run = 1}).size(), 2u);
  std::vector<Event> late = AllEvents(*reopened, {.since_ns = between});
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].run, 2);
}

TEST_P(CatalogConformance, AnnotationsAreLoggedForEveryRunBegunAfterThem) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK_AND_ASSIGN(int64_t before, catalog->BeginRun(catalog::Stage::kScan));
  catalog->AnnotateRuns("tls-verification-off", R"({"endpoint":"https://127.0.0.1"})");
  ASSERT_OK_AND_ASSIGN(int64_t first, catalog->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK_AND_ASSIGN(int64_t second, catalog->BeginRun(catalog::Stage::kVerify));
  EXPECT_TRUE(AllEvents(*catalog, {.run = before}).empty());
  for (int64_t run : {first, second}) {
    std::vector<Event> events = AllEvents(*catalog, {.run = run});
    ASSERT_EQ(events.size(), 1u) << "run " << run;
    EXPECT_EQ(events[0].kind, "tls-verification-off");
  }
}

TEST_P(CatalogConformance, TotalsCountsAndErrorGroupsAddUpByStateAndCause) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  for (int i = 0; i < 5; ++i) {
    Item item = FileItem("denied/" + std::to_string(i), 100, ItemState::kFailed);
    item.cause = "source: Permission denied";
    item.reason = "cannot open";
    ASSERT_OK(catalog->InsertItem(item));
  }
  Item link = FileItem("link", 0, ItemState::kSkipped);
  link.kind = storage::Kind::kSymlink;
  link.cause = "symbolic link";
  ASSERT_OK(catalog->InsertItem(link));
  Item vanished = FileItem("gone", 7, ItemState::kVanished);
  vanished.cause = "vanished during the copy";
  ASSERT_OK(catalog->InsertItem(vanished));
  for (int i = 0; i < 3; ++i) {
    Item fine = FileItem("fine/" + std::to_string(i), 1000, ItemState::kCopied);
    ASSERT_OK(catalog->InsertItem(fine));
  }
  Item folder = FileItem("fine", 0, ItemState::kCopied);
  folder.kind = storage::Kind::kFolder;
  ASSERT_OK(catalog->InsertItem(folder));

  ASSERT_OK_AND_ASSIGN(std::vector<catalog::StateTotals> totals, catalog->Totals());
  std::map<ItemState, std::pair<int64_t, int64_t>> by_state;
  std::map<ItemState, catalog::StateTotals> kinds;
  for (const auto& t : totals) {
    EXPECT_EQ(kinds.count(t.state), 0u) << "one entry per state";
    by_state[t.state] = {t.items, t.bytes};
    kinds.emplace(t.state, t);
  }
  EXPECT_EQ(by_state[ItemState::kFailed], std::make_pair(int64_t{5}, int64_t{500}));
  EXPECT_EQ(by_state[ItemState::kCopied], std::make_pair(int64_t{4}, int64_t{3000}));
  EXPECT_EQ(by_state[ItemState::kSkipped], std::make_pair(int64_t{1}, int64_t{0}));
  EXPECT_EQ(by_state.count(ItemState::kPending), 0u);
  // Counts by kind: the files, with folders and links apart.
  EXPECT_EQ(kinds.at(ItemState::kCopied).files, 3);
  EXPECT_EQ(kinds.at(ItemState::kCopied).folders, 1);
  EXPECT_EQ(kinds.at(ItemState::kSkipped).files, 0);
  EXPECT_EQ(kinds.at(ItemState::kSkipped).links, 1);
  EXPECT_EQ(kinds.at(ItemState::kFailed).files, 5);

  EXPECT_EQ(*catalog->CountItems(ItemState::kFailed), 5);
  EXPECT_EQ(*catalog->CountItems(ItemState::kVanished, "vanished during the copy"), 1);
  // Every item, counted no further than asked (5 failed, a link, a vanished one, 4 copied).
  EXPECT_EQ(*catalog->CountItemsUpTo(100), 11);
  EXPECT_EQ(*catalog->CountItemsUpTo(6), 6);
  EXPECT_EQ(*catalog->CountItems(ItemState::kVanished, "other"), 0);
  EXPECT_EQ(*catalog->CountItems(ItemState::kPending), 0);

  ASSERT_OK_AND_ASSIGN(std::vector<Catalog::ErrorGroup> groups, catalog->ErrorGroups(2));
  ASSERT_EQ(groups.size(), 2u) << "failed, conflict and skipped only";
  EXPECT_EQ(groups[0].state, ItemState::kFailed);
  EXPECT_EQ(groups[0].cause, "source: Permission denied");
  EXPECT_EQ(groups[0].items, 5);
  EXPECT_EQ(groups[0].bytes, 500);
  ASSERT_EQ(groups[0].examples.size(), 2u);
  EXPECT_EQ(groups[0].examples[0],
            std::make_pair(std::string("denied/0"), std::string("cannot open")));
  EXPECT_EQ(groups[1].state, ItemState::kSkipped);
  EXPECT_EQ(groups[1].cause, "symbolic link");
}

TEST_P(CatalogConformance, TrialBlobsAreRecordedByPrefixAndForgotten) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  ASSERT_OK(catalog->RecordTrialBlob({"trial-1/b", "trial-1", "\"e1\""}));
  ASSERT_OK(catalog->RecordTrialBlob({"trial-1/a", "trial-1", "\"e2\""}));
  ASSERT_OK(catalog->RecordTrialBlob({"trial-2/a", "trial-2", "\"e3\""}));
  ASSERT_OK(catalog->RecordTrialBlob({"trial-1/a", "trial-1", "\"e4\""}));  // written again
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::TrialBlob> one, catalog->TrialBlobs("trial-1"));
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[0].path, "trial-1/a");
  EXPECT_EQ(one[0].etag, "\"e4\"");
  EXPECT_EQ(one[1].path, "trial-1/b");
  ASSERT_OK(catalog->ForgetTrialBlob("trial-1/a"));
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::TrialBlob> all, catalog->TrialBlobs());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].path, "trial-1/b");
  EXPECT_EQ(all[1].path, "trial-2/a");
  EXPECT_EQ(all[1].prefix, "trial-2");
}

TEST_P(CatalogConformance, NoSignatureIsEverStored) {
  auto catalog = NewCatalog();
  ASSERT_NE(catalog, nullptr);
  const std::string url = "https://a.blob.core.windows.net/c/x?sv=2024&sig=SECRETSIG";
  Item item = FileItem("x", 1, ItemState::kFailed);
  item.reason = "PUT " + url + " failed";
  ASSERT_OK(catalog->InsertItem(item));
  ASSERT_OK_AND_ASSIGN(int64_t run, catalog->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK(catalog->AppendEvent(run, "x", "failed", R"({"url":")" + url + R"("})"));
  ASSERT_OK(
      catalog->EndRun({run, "copy", 0, 0, "failed items", 0, 0, 1, R"({"e":")" + url + "\"}"}));

  EXPECT_EQ((*catalog->FindItem("x"))->reason.find("SECRETSIG"), std::string::npos);
  for (const Event& e : AllEvents(*catalog)) {
    EXPECT_EQ(e.detail_json.find("SECRETSIG"), std::string::npos) << e.detail_json;
  }
  EXPECT_TRUE(catalog->CheckChain()->intact) << "the chain covers what was stored";
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::Run> runs, catalog->Runs());
  for (const catalog::Run& r : runs) {
    EXPECT_EQ(r.summary_json.find("SECRETSIG"), std::string::npos) << r.summary_json;
  }
}

TEST_P(CatalogConformance, AReaderSeesWhatTheWriterCommittedWhileItWorks) {
  std::string location;
  auto writer = NewCatalog(&location);
  ASSERT_NE(writer, nullptr);
  Item item = FileItem("a", 1, ItemState::kCopied);
  ASSERT_OK(writer->InsertItem(item));
  ASSERT_OK(writer->BeginRun(catalog::Stage::kCopy));
  ASSERT_OK_AND_ASSIGN(auto reader, Catalog::OpenForReading(location));
  EXPECT_EQ(reader->config().id, writer->config().id);
  EXPECT_EQ(Paths(*reader), std::vector<std::string>{"a"});
  ASSERT_OK_AND_ASSIGN(std::vector<catalog::Run> runs, reader->Runs());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, "running") << "a reader does not end the writer's run";
}

}  // namespace ferry::testing
