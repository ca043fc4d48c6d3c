// The catalog of a migration in a PostgreSQL database that several migrations and many workers
// share: postgresql://USER@HOST:PORT/DB?migration=NAME. Every row carries its migration's name;
// ferry creates and versions its tables itself (ferry_schema). A session advisory lock per
// migration is held alone by a process that works on the migration by itself (scan, sync,
// cutover...), or shared by the workers that copy it together, each claiming items with a lease
// (ferry_items.lease_run, lease_until) and registered with a heartbeat (ferry_workers). The event
// log stays one hash chain with many writers: a transaction's events are chained at its commit,
// under a transaction lock, after the head the database holds then.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/postgres.h"

namespace ferry::catalog {

// The version of ferry's tables in a database (the ferry_schema table).
// 2: worker leases; 3: ferry_log_head, the partial index of claimable items; 4: a scan's
// listing shared among processes (ferry_listing_folders, ferry_listing); 5: rules a ferry of 4
// does not follow (a sync's copy shared with helpers, the holder's lock, no holding a migration
// alone while a dead sync's helpers work), so that one refuses the tables, and the column
// ferry_listing_folders.scanner_only, which early tables of 4 lack; 6: a sync's drift check
// shared among processes (ferry_drift_parts).
inline constexpr int kPostgresSchemaVersion = 7;

// True for a postgresql:// or postgres:// location.
bool IsPostgresLocation(std::string_view location);

struct PostgresLocation {
  std::string conninfo;   // the URI for libpq, without ferry's migration parameter
  std::string migration;  // [a-z0-9_-], 1 to 63 characters
};
// Splits `location`; Code::kInvalidInput saying what to write when it names no migration.
Result<PostgresLocation> ParsePostgresLocation(std::string_view location);

// How a process holds a migration's lock: not at all (to read), alone, or shared with workers.
enum class Hold { kNone, kAlone, kShared };

class PostgresCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<Catalog>> Create(const std::string& location, const Config& config);
  // With Hold::kShared, waits for a process that holds the migration alone, calling `waiting`
  // first.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& location, Hold hold,
                                               const std::function<void()>& waiting = {});

  std::string ScratchDir() const override;
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
  Result<int64_t> CountItemsUpTo(int64_t most) override;
  Result<int64_t> CountItems(ItemState state, std::optional<std::string_view> cause) override;
  Result<std::vector<ErrorGroup>> ErrorGroups(int examples_per_group) override;
  Result<EventCursor> Events(const EventFilter& filter) override;
  Result<std::vector<TrialBlob>> TrialBlobs(std::optional<std::string_view> prefix) override;
  Status RecordTrialBlob(const TrialBlob& blob) override;
  Status ForgetTrialBlob(std::string_view path) override;
  Status BeginTransaction() override;
  Status CommitTransaction() override;
  Status CommitTransactionLazily() override;
  Status RollbackTransaction() override;
  Status InsertItem(Item& item) override;
  Status UpdateItem(const Item& item) override;
  Status AppendEvent(int64_t run, std::string_view path, std::string_view kind,
                     std::string_view detail_json) override;

  bool SharesWork() const override {
    return hold_ == Hold::kShared || lead_sync_ != 0 || helped_.copy_run != 0;
  }
  Status JoinWork(int64_t run, std::chrono::seconds lease) override;
  Result<std::vector<Item>> ClaimItems(const std::vector<ItemState>& states, int max) override;
  Result<int64_t> HeldElsewhere(const std::vector<ItemState>& states) override;
  Result<int> LiveWorkers() override;
  Result<int> Heartbeat(int64_t items, int64_t bytes) override;
  Status LeaveWork() override;
  Result<std::vector<WorkerInfo>> Workers() override;

  bool SharesListing() const override { return true; }
  Status OpenListing(int64_t run) override;
  Result<int64_t> OpenListingRun() override;
  Result<std::vector<FolderClaim>> ClaimFolders(int64_t run, int max, std::chrono::seconds lease,
                                                bool scanner) override;
  Status ReleaseFolders(int64_t run, const std::vector<std::string>& folders,
                        bool to_scanner) override;
  Result<int> RecordFolders(int64_t run, const std::vector<ListedFolder>& listed) override;
  Result<bool> RecordPart(int64_t run, const ListedPart& part, std::chrono::seconds lease) override;
  Result<int64_t> FoldersLeft(int64_t run) override;
  Result<std::unique_ptr<storage::Lister>> ListedEntries(int64_t run) override;
  Status CloseListing(int64_t run) override;
  Status LeadCopy(int64_t sync_run) override;
  Result<SharedCopy> OpenSharedCopy() override;
  Result<bool> RunHoldsMigration(int64_t run) override;
  Result<int64_t> RunningSync() override;
  Status HelpCopy(const SharedCopy& copy) override;
  Status OpenDriftCheck(int64_t run, const std::vector<std::string>& prefixes) override;
  Result<int64_t> OpenDriftCheckRun() override;
  Result<std::optional<DriftPart>> ClaimDriftPart(int64_t run, std::chrono::seconds lease) override;
  Result<bool> HoldDriftPart(int64_t run, const std::string& prefix, const std::string& checked_to,
                             int64_t changed, int64_t unexpected, bool done,
                             std::chrono::seconds lease) override;
  Status ReleaseDriftPart(int64_t run, const std::string& prefix) override;
  Result<DriftTotals> DriftCheckTotals(int64_t run) override;
  Status CloseDriftCheck(int64_t run) override;

 private:
  PostgresCatalog() = default;
  static Result<std::unique_ptr<PostgresCatalog>> Connect(const std::string& location);
  Status TakeLock();
  Status TakeSharedLock(const std::function<void()>& waiting);
  // Held alone, once it took the migration over from any earlier holder (see kHeldAlone).
  Status TakeHolderLock();
  Status LoadConfig();
  // For a process that helps (opened to read), from its first claim of a part or folder: the
  // server ends a transaction it leaves idle for 15 s.
  Status LimitIdleAsHelper();
  // Chains the events this transaction appended after the head the database holds, and writes
  // them. REQUIRES: in a transaction.
  Status WriteEvents();
  // Fails when an item this transaction updated as claimed is now claimed by another worker.
  Status CheckClaims();
  // Ends an open transaction that cannot commit, forgetting what it held.
  void Abandon();
  // A write: queued inside a transaction (answered at the next read or the commit), else run.
  Status Write(std::string_view sql, const std::vector<PgParam>& params);
  // A read, after the writes not sent yet.
  Result<PgResult> Query(std::string_view sql, const std::vector<PgParam>& params = {});
  // Queues the item rows not sent yet, many to a statement.
  Status Settle();
  // Outside a transaction: sends the rows now and waits for them.
  Status SendNow();
  // Forgets what the open transaction had not sent.
  void DropPending();
  // The next id for an item, from a block taken from the sequence 1,000 at a time.
  Result<int64_t> NextItemId();

  struct PendingEvent {
    int64_t run, time_ns;
    std::string path, kind, detail;
  };

  PostgresLocation where_;
  std::unique_ptr<PgConnection> db_;
  Hold hold_ = Hold::kNone;
  bool in_transaction_ = false;
  bool lazy_ = false;                 // the commit under way need not wait for the disk
  std::vector<int64_t> free_ids_;     // taken from the sequence, not used yet (in reverse)
  std::vector<PendingEvent> events_;  // appended in the open transaction, chained at its commit
  // Item rows of the open transaction not sent yet (Settle): inserted, and updated (the last
  // update of each; `release`: a worker gives the item back).
  struct Update {
    Item item;
    bool release = false;
  };
  std::vector<Item> inserts_;
  std::map<int64_t, size_t> inserted_at_;  // id: its place in inserts_
  std::map<int64_t, Update> updates_;
  // As a worker: its run, its lease, the items it holds, and those the open transaction updated.
  int64_t worker_run_ = 0;
  std::chrono::seconds lease_{0};
  std::chrono::steady_clock::time_point renewed_{};  // when its claims were last renewed
  std::optional<std::chrono::steady_clock::time_point> renewal_;  // one not committed yet
  // Records a renewal sent at `sent`: at once outside a transaction, else at its commit.
  void Renewed(std::chrono::steady_clock::time_point sent);
  std::set<int64_t> held_;
  std::set<int64_t> touched_;
  // A sync's copy shared with helpers: the sync this process leads it for (until it leaves the
  // work), or the copy this process helps.
  int64_t lead_sync_ = 0;
  SharedCopy helped_;
  // As a lister of a shared scan listing: the name its folder claims carry (set on first use).
  std::string lister_;
  bool idle_limited_ = false;  // a helper's transactions left idle are ended (LimitIdleAsHelper)
};

}  // namespace ferry::catalog
