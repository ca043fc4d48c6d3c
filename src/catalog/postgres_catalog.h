// The catalog of a migration in a PostgreSQL database that several migrations (and, later, many
// workers) share: postgresql://USER@HOST:PORT/DB?migration=NAME. Every row carries its
// migration's name; ferry creates and versions its tables itself (ferry_schema), and takes a
// session advisory lock per migration for the one process that writes it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/postgres.h"

namespace ferry::catalog {

// The version of ferry's tables in a database (the ferry_schema table).
inline constexpr int kPostgresSchemaVersion = 1;

// True for a postgresql:// or postgres:// location.
bool IsPostgresLocation(std::string_view location);

struct PostgresLocation {
  std::string conninfo;   // the URI for libpq, without ferry's migration parameter
  std::string migration;  // [a-z0-9_-], 1 to 63 characters
};
// Splits `location`; Code::kInvalidInput saying what to write when it names no migration.
Result<PostgresLocation> ParsePostgresLocation(std::string_view location);

class PostgresCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<Catalog>> Create(const std::string& location, const Config& config);
  static Result<std::unique_ptr<Catalog>> Open(const std::string& location, bool lock);

  std::string ScratchDir() const override;
  Result<int64_t> CreatedNs() override;
  Result<std::string> GetMeta(const std::string& key) override;
  Status SetMeta(const std::string& key, const std::string& value) override;
  Result<int64_t> BeginRun(Stage stage) override;
  Status EndRun(const Run& run) override;
  Result<std::vector<Run>> Runs() override;
  Result<ItemCursor> Items(const std::vector<ItemState>& states) override;
  Result<std::optional<Item>> FindItem(std::string_view path) override;
  Result<bool> HasDescendants(std::string_view folder) override;
  Result<std::vector<StateTotals>> Totals() override;
  Result<int64_t> CountItems(ItemState state, std::optional<std::string_view> cause) override;
  Result<std::vector<ErrorGroup>> ErrorGroups(int examples_per_group) override;
  Result<EventCursor> Events(const EventFilter& filter) override;
  Result<std::vector<TrialBlob>> TrialBlobs(std::optional<std::string_view> prefix) override;
  Status RecordTrialBlob(const TrialBlob& blob) override;
  Status ForgetTrialBlob(std::string_view path) override;
  Status BeginTransaction() override;
  Status CommitTransaction() override;
  Status RollbackTransaction() override;
  Status InsertItem(Item& item) override;
  Status UpdateItem(const Item& item) override;
  Status AppendEvent(int64_t run, std::string_view path, std::string_view kind,
                     std::string_view detail_json) override;

 private:
  PostgresCatalog() = default;
  static Result<std::unique_ptr<PostgresCatalog>> Connect(const std::string& location);
  Status TakeLock();
  Status LoadConfig();
  Status LoadLastHash();
  // A write: queued inside a transaction (answered at the next read or the commit), else run.
  Status Write(std::string_view sql, const std::vector<PgParam>& params);
  // The next id for an item, from a block taken from the sequence 1,000 at a time.
  Result<int64_t> NextItemId();

  PostgresLocation where_;
  std::unique_ptr<PgConnection> db_;
  std::string last_event_hash_;
  bool in_transaction_ = false;
  std::vector<int64_t> free_ids_;  // taken from the sequence, not used yet (in reverse)
};

}  // namespace ferry::catalog
