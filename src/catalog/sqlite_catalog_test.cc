// The SQLite catalog: the conformance suite, and what only a migration folder has (its lock, its
// schema version, its rows edited by hand).
#include "catalog/sqlite_catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "support/catalog_conformance.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace ferry::catalog {
namespace {

using testing::CatalogBackend;
using testing::CatalogConformance;
using testing::CatalogHost;
using testing::TempDir;

class FolderHost final : public CatalogHost {
 public:
  std::string NewLocation() override { return dir_.Sub("m" + std::to_string(++count_)); }

 private:
  TempDir dir_;
  int count_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, CatalogConformance,
                         ::testing::Values(CatalogBackend{
                             "sqlite", [] { return std::make_unique<FolderHost>(); }}),
                         [](const auto& info) { return info.param.name; });

Config MinimalConfig() {
  Config c;
  c.source = "/data/share";
  c.target = "https://acct.blob.core.windows.net/archive/share";
  return c;
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

TEST(SqliteCatalog, RefusesAFolderThatHoldsSomethingElse) {
  TempDir dir;
  testing::WriteFile(dir.Sub("busy/file"), "x");
  auto busy = Catalog::Create(dir.Sub("busy"), MinimalConfig());
  EXPECT_EQ(busy.status().code(), Code::kInvalidInput);
  EXPECT_NE(busy.status().message().find("not an empty folder"), std::string::npos);
  auto not_migration = Catalog::Open(dir.Sub("busy"));
  EXPECT_NE(not_migration.status().message().find("not a ferry migration"), std::string::npos);
  ASSERT_OK(Catalog::Create(dir.Sub("empty-is-fine"), MinimalConfig()));
}

TEST(SqliteCatalog, ACatalogFromANewerFerryIsRefused) {
  TempDir dir;
  ASSERT_OK(Catalog::Create(dir.Sub("m"), MinimalConfig()));
  RunSql(dir.Sub("m/catalog.db"), "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto opened = Catalog::Open(dir.Sub("m"));
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("newer ferry"), std::string::npos);
}

TEST(SqliteCatalog, ASchema2CatalogGetsTheObjectSourceColumns) {
  TempDir dir;
  ASSERT_OK(Catalog::Create(dir.Sub("m"), MinimalConfig()));
  RunSql(dir.Sub("m/catalog.db"),
         "ALTER TABLE items DROP COLUMN source_etag; ALTER TABLE items DROP COLUMN content_type; "
         "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Open(dir.Sub("m")));
  Item item;
  item.path = "a.txt";
  item.source_etag = "\"e\"";
  item.content_type = "text/plain";
  ASSERT_OK(catalog->InsertItem(item));
  ASSERT_OK_AND_ASSIGN(std::optional<Item> back, catalog->FindItem("a.txt"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->source_etag, "\"e\"");
  EXPECT_EQ(back->content_type, "text/plain");
}

TEST(SqliteCatalog, ASecondWriterIsRefusedButReadersAreNot) {
  TempDir dir;
  auto first = Catalog::Create(dir.Sub("m"), MinimalConfig());
  ASSERT_OK(first);
  auto second = Catalog::Open(dir.Sub("m"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another ferry process"), std::string::npos);
  EXPECT_OK(Catalog::OpenForReading(dir.Sub("m")));
  first->reset();
  EXPECT_OK(Catalog::Open(dir.Sub("m"))) << "the lock goes with the process that held it";
}

TEST(SqliteCatalog, AnEditedEventBreaksTheChainThere) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::Create(dir.Sub("m"), MinimalConfig()));
    for (int i = 0; i < 4; ++i) ASSERT_OK(catalog->AppendEvent(1, "a", "copied", "{}"));
  }
  RunSql(dir.Sub("m/catalog.db"), "UPDATE events SET detail = '{\"x\":1}' WHERE id = 3");
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::OpenForReading(dir.Sub("m")));
  ASSERT_OK_AND_ASSIGN(ChainCheck check, catalog->CheckChain());
  EXPECT_FALSE(check.intact);
  EXPECT_EQ(check.first_bad_id, 3);
  EXPECT_NE(check.problem.find("edited"), std::string::npos);
}

}  // namespace
}  // namespace ferry::catalog
