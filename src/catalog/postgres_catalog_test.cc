// The PostgreSQL catalog against a real server started by the test: the catalog conformance
// suite unchanged, and what is particular to a shared database.
#include "catalog/postgres_catalog.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

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

TEST(PostgresCatalog, AnUnreachableServerIsAClearError) {
  auto refused = Catalog::Open(
      fmt::format("postgresql://ferry@127.0.0.1:{}/x?migration=m&connect_timeout=2", 1));
  EXPECT_EQ(refused.status().code(), Code::kInvalidInput);
  EXPECT_NE(refused.status().message().find("cannot connect to PostgreSQL"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace ferry::testing
