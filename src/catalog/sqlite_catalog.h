// The catalog of a migration folder: one SQLite database (catalog.db) in WAL mode, and a lock file
// that one writing process holds at a time.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/sqlite.h"

namespace ferry::catalog {

// 2: items have ctime_ns, inode, write_intent, kept_blob; 3: source_etag, content_type.
inline constexpr int kSchemaVersion = 3;
inline constexpr const char* kCatalogFile = "catalog.db";
inline constexpr const char* kLockFile = "lock";

class SqliteCatalog final : public Catalog {
 public:
  // Creates DIR (which must not exist, or be empty) with a new catalog holding `config`.
  static Result<std::unique_ptr<Catalog>> Create(const std::string& dir, const Config& config);
  // Opens the migration in DIR; with `lock`, takes the migration's lock (a second process that
  // wants it is refused), without it reads only.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& dir, bool lock);
  ~SqliteCatalog() override;

  std::string ScratchDir() const override { return location_; }
  Result<int64_t> CreatedNs() override;
  Result<std::string> GetMeta(const std::string& key) override;
  Status SetMeta(const std::string& key, const std::string& value) override;
  Result<int64_t> BeginRun(Stage stage) override;
  Status EndRun(const Run& run) override;
  Result<std::vector<Run>> Runs() override;
  Result<ItemCursor> Items(const std::vector<ItemState>& states) override;
  Result<ItemCursor> ItemsBetween(const std::string& from, const std::string& before) override;
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
  SqliteCatalog() = default;
  Status Upgrade(const std::string& db_path);
  Status Prepare();
  Status LoadConfig();
  Result<std::unique_ptr<Database>> OpenReader();

  int lock_fd_ = -1;
  Database db_;
  bool unchanging_ = false;  // opened to read a folder this process cannot write to
  std::string last_event_hash_;
  Statement insert_item_, update_item_, insert_event_;
};

}  // namespace ferry::catalog
