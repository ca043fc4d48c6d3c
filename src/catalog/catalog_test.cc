#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "support/temp_dir.h"

namespace ferry::catalog {
namespace {

using testing::TempDir;

Config SampleConfig() {
  Config c;
  c.source = "/data/share";
  c.target = "https://acct.blob.core.windows.net/archive/share";
  c.exclude = {"*.tmp"};
  c.tier = "Cool";
  c.symlinks = SymlinkPolicy::kKeep;
  return c;
}

Item FileItem(std::string path, uint64_t size) {
  Item item;
  item.path = std::move(path);
  item.size = size;
  item.mtime_ns = 1'700'000'000'000'000'000;
  return item;
}

void RunSql(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(handle);
}

TEST(Catalog, CreateStoresTheConfigurationAndOpenReadsItBack) {
  TempDir dir;
  {
    auto created = Catalog::Create(dir.Sub("m"), SampleConfig());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  auto opened = Catalog::Open(dir.Sub("m"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->config().target, SampleConfig().target);
  EXPECT_EQ((*opened)->config().exclude, std::vector<std::string>{"*.tmp"});
  EXPECT_EQ((*opened)->config().tier, "Cool");
  EXPECT_EQ((*opened)->config().symlinks, SymlinkPolicy::kKeep);
}

TEST(Catalog, RefusesAnExistingMigrationAndANonEmptyFolder) {
  TempDir dir;
  ASSERT_TRUE(Catalog::Create(dir.Sub("m"), SampleConfig()).ok());
  auto again = Catalog::Create(dir.Sub("m"), SampleConfig());
  EXPECT_EQ(again.status().code(), Code::kInvalidInput);
  EXPECT_NE(again.status().message().find("already a migration"), std::string::npos);
  testing::WriteFile(dir.Sub("busy/file"), "x");
  EXPECT_EQ(Catalog::Create(dir.Sub("busy"), SampleConfig()).status().code(), Code::kInvalidInput);
}

TEST(Catalog, OpenExplainsWhatIsWrongWithTheFolder) {
  TempDir dir;
  auto missing = Catalog::Open(dir.Sub("nope"));
  EXPECT_NE(missing.status().message().find("ferry init"), std::string::npos);
  auto not_migration = Catalog::Open(dir.path());
  EXPECT_NE(not_migration.status().message().find("not a ferry migration"), std::string::npos);
}

TEST(Catalog, ACatalogFromANewerFerryIsRefused) {
  TempDir dir;
  ASSERT_TRUE(Catalog::Create(dir.Sub("m"), SampleConfig()).ok());
  RunSql(dir.Sub("m/catalog.db"), "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto opened = Catalog::Open(dir.Sub("m"));
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("newer ferry"), std::string::npos);
}

TEST(Catalog, ASecondWriterIsRefusedButReadersAreNot) {
  TempDir dir;
  auto first = Catalog::Create(dir.Sub("m"), SampleConfig());
  ASSERT_TRUE(first.ok());
  auto second = Catalog::Open(dir.Sub("m"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another ferry process"), std::string::npos);
  EXPECT_TRUE(Catalog::OpenForReading(dir.Sub("m")).ok());
  first->reset();
  EXPECT_TRUE(Catalog::Open(dir.Sub("m")).ok()) << "the lock goes with the process that held it";
}

TEST(Catalog, ItemsComeBackInPathByteOrderAndFilteredByState) {
  TempDir dir;
  auto catalog = std::move(Catalog::Create(dir.Sub("m"), SampleConfig())).value();
  ASSERT_TRUE(catalog->BeginTransaction().ok());
  for (const char* path : {"b", "a/x", "a-b", "a", "é", "B"}) {
    Item item = FileItem(path, 10);
    ASSERT_TRUE(catalog->InsertItem(item).ok());
    EXPECT_GT(item.id, 0);
  }
  ASSERT_TRUE(catalog->CommitTransaction().ok());
  auto found = catalog->FindItem("a-b");
  ASSERT_TRUE(found.ok() && found->has_value());
  Item updated = **found;
  updated.state = ItemState::kCopied;
  updated.md5 = Md5::Of("x");
  updated.target_etag = "\"0x1\"";
  ASSERT_TRUE(catalog->UpdateItem(updated).ok());

  auto cursor = catalog->Items();
  ASSERT_TRUE(cursor.ok());
  std::vector<std::string> paths;
  Item item;
  while (*cursor->Next(item)) paths.push_back(item.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"B", "a", "a-b", "a/x", "b", "é"}));

  auto copied = catalog->Items({ItemState::kCopied});
  ASSERT_TRUE(copied.ok());
  ASSERT_TRUE(*copied->Next(item));
  EXPECT_EQ(item.path, "a-b");
  EXPECT_EQ(item.md5, Md5::Of("x"));
  EXPECT_EQ(item.target_etag, "\"0x1\"");
  EXPECT_FALSE(*copied->Next(item));

  EXPECT_TRUE(*catalog->HasDescendants("a"));
  EXPECT_FALSE(*catalog->HasDescendants("a/x"));
  EXPECT_FALSE(*catalog->HasDescendants("a-"));
}

TEST(Catalog, ACursorKeepsItsSnapshotWhileTheWriterChangesRows) {
  TempDir dir;
  auto catalog = std::move(Catalog::Create(dir.Sub("m"), SampleConfig())).value();
  Item a = FileItem("a", 1), c = FileItem("c", 1);
  ASSERT_TRUE(catalog->InsertItem(a).ok());
  ASSERT_TRUE(catalog->InsertItem(c).ok());
  auto cursor = catalog->Items();
  ASSERT_TRUE(cursor.ok());
  Item item;
  ASSERT_TRUE(*cursor->Next(item));
  Item b = FileItem("b", 1);
  ASSERT_TRUE(catalog->InsertItem(b).ok());
  ASSERT_TRUE(*cursor->Next(item));
  EXPECT_EQ(item.path, "c") << "a row written after the cursor opened is not seen";
}

TEST(Catalog, EventsFormAHashChain) {
  TempDir dir;
  auto catalog = std::move(Catalog::Create(dir.Sub("m"), SampleConfig())).value();
  ASSERT_TRUE(catalog->AppendEvent(1, "a", "discovered", "{}").ok());
  ASSERT_TRUE(catalog->AppendEvent(1, "a", "copied", R"({"size":1})").ok());
  catalog.reset();
  auto reopened = std::move(Catalog::Open(dir.Sub("m"))).value();
  ASSERT_TRUE(reopened->AppendEvent(2, "b", "discovered", "{}").ok());
  reopened.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.Sub("m/catalog.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(
      db, "SELECT run, time_ns, path, kind, detail, prev_hash, hash FROM events ORDER BY id", -1,
      &stmt, nullptr);
  std::string previous(64, '0');
  int events = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    auto text = [&](int i) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)));
    };
    EXPECT_EQ(text(5), previous);
    std::string content = previous + "\n" + text(0) + "\n" + text(1) + "\n" + text(2) + "\n" +
                          text(3) + "\n" + text(4);
    EXPECT_EQ(text(6), HexEncode(Sha256(content)));
    previous = text(6);
    ++events;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(events, 3);
}

TEST(Catalog, ARunLeftRunningByACrashShowsAsInterrupted) {
  TempDir dir;
  {
    auto catalog = std::move(Catalog::Create(dir.Sub("m"), SampleConfig())).value();
    ASSERT_TRUE(catalog->BeginRun("copy").ok());
  }
  auto catalog = std::move(Catalog::Open(dir.Sub("m"))).value();
  auto runs = catalog->Runs();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].outcome, "interrupted");
}

TEST(Catalog, ErrorGroupsCountByCauseWithExamples) {
  TempDir dir;
  auto catalog = std::move(Catalog::Create(dir.Sub("m"), SampleConfig())).value();
  for (int i = 0; i < 5; ++i) {
    Item item = FileItem("denied/" + std::to_string(i), 1);
    item.state = ItemState::kFailed;
    item.cause = "source: Permission denied";
    item.reason = "cannot open";
    ASSERT_TRUE(catalog->InsertItem(item).ok());
  }
  Item link = FileItem("link", 0);
  link.state = ItemState::kSkipped;
  link.cause = "symbolic link";
  ASSERT_TRUE(catalog->InsertItem(link).ok());
  Item fine = FileItem("fine", 0);
  fine.state = ItemState::kCopied;
  ASSERT_TRUE(catalog->InsertItem(fine).ok());
  auto groups = catalog->ErrorGroups(2);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].cause, "source: Permission denied");
  EXPECT_EQ((*groups)[0].items, 5);
  EXPECT_EQ((*groups)[0].examples.size(), 2u);
  EXPECT_EQ((*groups)[1].state, ItemState::kSkipped);
}

}  // namespace
}  // namespace ferry::catalog
