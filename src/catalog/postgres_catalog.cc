#include "catalog/postgres_catalog.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/text.h"

namespace ferry::catalog {

namespace {

// Created once per database, under a transaction-scoped advisory lock so that two processes
// creating the first migration at once do not race.
constexpr int64_t kSchemaLockKey = 0x6665727279;  // "ferry"
// How long bringing the tables up to date waits for others to let go of them.
constexpr int kUpgradeWaitSeconds = 5;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ferry_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ferry_migrations (name TEXT PRIMARY KEY, created_ns BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ferry_meta (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (migration, key));
CREATE TABLE IF NOT EXISTS ferry_items (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  id BIGSERIAL PRIMARY KEY,
  path TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL,
  size BIGINT NOT NULL DEFAULT 0,
  mtime_ns BIGINT NOT NULL DEFAULT 0,
  mode BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  gid BIGINT NOT NULL DEFAULT 0,
  link_target TEXT,
  md5 BYTEA,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  cause TEXT NOT NULL DEFAULT '',
  target_etag TEXT NOT NULL DEFAULT '',
  attempts BIGINT NOT NULL DEFAULT 0,
  last_run BIGINT NOT NULL DEFAULT 0,
  verified_ns BIGINT NOT NULL DEFAULT 0,
  verify_result TEXT NOT NULL DEFAULT '',
  ctime_ns BIGINT NOT NULL DEFAULT 0,
  inode BIGINT NOT NULL DEFAULT 0,
  write_intent TEXT NOT NULL DEFAULT '',
  kept_blob BOOLEAN NOT NULL DEFAULT false,
  source_etag TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  UNIQUE (migration, path));
CREATE INDEX IF NOT EXISTS ferry_items_by_state ON ferry_items (migration, state);
CREATE TABLE IF NOT EXISTS ferry_runs (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  id BIGSERIAL PRIMARY KEY,
  stage TEXT NOT NULL,
  started_ns BIGINT NOT NULL,
  ended_ns BIGINT NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT 'running',
  files BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  summary TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS ferry_events (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  id BIGSERIAL PRIMARY KEY,
  run BIGINT NOT NULL,
  time_ns BIGINT NOT NULL,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ferry_events_by_migration ON ferry_events (migration, id);
CREATE TABLE IF NOT EXISTS ferry_trial_blobs (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  path TEXT COLLATE "C" NOT NULL,
  prefix TEXT NOT NULL,
  etag TEXT NOT NULL,
  PRIMARY KEY (migration, path));
-- Schema 2: workers that share a migration's copy.
ALTER TABLE ferry_items ADD COLUMN IF NOT EXISTS lease_run BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ferry_items ADD COLUMN IF NOT EXISTS lease_until TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS ferry_items_leased ON ferry_items (migration)
  WHERE lease_until IS NOT NULL;
-- Schema 3. The head of a migration's log, under the lock its writers take turns with (until their
-- commit); the head is read after the lock, in a snapshot of its own (a volatile function's
-- statements each take one, in READ COMMITTED).
CREATE OR REPLACE FUNCTION ferry_log_head(m TEXT) RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  head TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('ferry-log:' || m));
  SELECT hash INTO head FROM ferry_events WHERE migration = m ORDER BY id DESC LIMIT 1;
  RETURN head;
END
$f$;
-- What workers claim, by path, without walking the items already copied.
CREATE INDEX IF NOT EXISTS ferry_items_work ON ferry_items (migration, path)
  WHERE state IN ('pending', 'failed');
CREATE TABLE IF NOT EXISTS ferry_workers (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  run BIGINT NOT NULL,
  name TEXT NOT NULL,
  lease_seconds BIGINT NOT NULL,
  started_ns BIGINT NOT NULL,
  heartbeat_ns BIGINT NOT NULL,
  alive_until TIMESTAMPTZ NOT NULL,
  items BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  gone BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (migration, run));
-- Schema 4: a scan's listing shared among processes. The folders to list (claimed with a lease,
-- done once recorded), and what each listed: entries, or an error in place of what it hides
-- (kind 'unlisted': path "dir/" for a folder, "dir/name" for one entry).
CREATE TABLE IF NOT EXISTS ferry_listing_folders (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  run BIGINT NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  done BOOLEAN NOT NULL DEFAULT false,
  scanner_only BOOLEAN NOT NULL DEFAULT false,
  lister TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMPTZ,
  PRIMARY KEY (migration, run, path));
CREATE INDEX IF NOT EXISTS ferry_listing_folders_open
  ON ferry_listing_folders (migration, run, path) WHERE NOT done;
-- Schema 5: folders left to the scanning process (early tables of 4 were made without it).
ALTER TABLE ferry_listing_folders ADD COLUMN IF NOT EXISTS scanner_only BOOLEAN NOT NULL
  DEFAULT false;
CREATE TABLE IF NOT EXISTS ferry_listing (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  run BIGINT NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL,
  size BIGINT NOT NULL DEFAULT 0,
  mtime_ns BIGINT NOT NULL DEFAULT 0,
  ctime_ns BIGINT NOT NULL DEFAULT 0,
  inode BIGINT NOT NULL DEFAULT 0,
  mode BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  gid BIGINT NOT NULL DEFAULT 0,
  link_target TEXT NOT NULL DEFAULT '',
  etag TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (migration, run, path));
-- Schema 6: a sync's drift check shared among processes: the target's listing in parts (a
-- prefix each), claimed with a lease; how far each was checked, and what was found in it.
CREATE TABLE IF NOT EXISTS ferry_drift_parts (
  migration TEXT NOT NULL REFERENCES ferry_migrations (name),
  run BIGINT NOT NULL,
  prefix TEXT COLLATE "C" NOT NULL,
  done BOOLEAN NOT NULL DEFAULT false,
  checked_to TEXT COLLATE "C" NOT NULL DEFAULT '',
  changed BIGINT NOT NULL DEFAULT 0,
  unexpected BIGINT NOT NULL DEFAULT 0,
  checker TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMPTZ,
  PRIMARY KEY (migration, run, prefix));
CREATE INDEX IF NOT EXISTS ferry_drift_parts_open
  ON ferry_drift_parts (migration, run, prefix) WHERE NOT done;
-- Schema 7: an object store's listing shared among processes: a part (a prefix listed flat) is
-- recorded a batch at a time, and says how far it was listed.
ALTER TABLE ferry_listing_folders ADD COLUMN IF NOT EXISTS listed_to TEXT COLLATE "C" NOT NULL
  DEFAULT '';
)sql";

// The runs of live workers, as a subquery ($1: the migration): heard from within their lease,
// and connected (each holds a session lock of its own while its connection lives, so a worker
// killed, or lost with a restarted server, is dead at once).
constexpr const char* kLiveRuns =
    "SELECT w.run FROM ferry_workers w WHERE w.migration = $1 AND NOT w.gone AND w.alive_until > "
    "clock_timestamp() AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND "
    "l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = "
    "current_database()) AND l.classid = hashtext('ferry-worker:' || $1)::oid AND l.objid = "
    "(w.run % 2147483647)::oid AND l.objsubid = 2)";

// True while a process holds the migration alone and has taken it over ($1: the migration): it
// holds the holder's lock, which Open takes only once it has marked the runs of an earlier
// holder interrupted, so a run marked running is that process's. Not one that holds the
// migration for a moment to be refused. (pg_advisory_lock(bigint) keys split in two oids.)
constexpr const char* kHeldAlone =
    "EXISTS (SELECT 1 FROM pg_locks l, (SELECT hashtext('ferry-holder:' || $1)::bigint AS k) key "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.database "
    "= (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = "
    "((key.k >> 32) & 4294967295)::oid AND l.objid = (key.k & 4294967295)::oid AND "
    "l.objsubid = 1)";

// True while run $2 of migration $1 is running in the process that holds the migration alone.
const std::string kSyncHoldsMigration = fmt::format(
    "EXISTS (SELECT 1 FROM ferry_runs r WHERE r.migration = $1 AND r.id = $2 AND "
    "r.outcome = 'running') AND {}",
    kHeldAlone);

// The meta key under which a sync's shared copy says which runs helpers join.
constexpr const char* kSharedCopyKey = "shared_copy";

constexpr const char* kItemColumns =
    "id, path, kind, size, mtime_ns, mode, uid, gid, link_target, md5, state, reason, cause, "
    "target_etag, attempts, last_run, verified_ns, verify_result, ctime_ns, inode, write_intent, "
    "kept_blob, source_etag, content_type";
// kItemColumns, each as ferry_items.NAME (for a statement that joins another table).
std::string QualifiedItemColumns() {
  std::string out;
  std::string_view rest = kItemColumns;
  while (!rest.empty()) {
    size_t comma = rest.find(", ");
    out += (out.empty() ? "ferry_items." : ", ferry_items.") + std::string(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 2);
  }
  return out;
}
constexpr const char* kEventColumns = "id, run, time_ns, path, kind, detail, prev_hash, hash";

PgParam Int(int64_t v) { return std::to_string(v); }

void ReadItem(const PgResult& r, int row, Item& item) {
  item.id = r.Int(row, 0);
  item.path = r.Text(row, 1);
  item.kind = KindFromName(r.Text(row, 2)).value_or(storage::Kind::kFile);
  item.size = uint64_t(r.Int(row, 3));
  item.mtime_ns = r.Int(row, 4);
  item.mode = uint32_t(r.Int(row, 5));
  item.uid = uint32_t(r.Int(row, 6));
  item.gid = uint32_t(r.Int(row, 7));
  item.link_target = r.Text(row, 8);
  item.md5.reset();
  if (std::string md5 = r.IsNull(row, 9) ? "" : r.Bytes(row, 9); md5.size() == 16) {
    Md5Digest d;
    std::memcpy(d.data(), md5.data(), 16);
    item.md5 = d;
  }
  item.state = StateFromName(r.Text(row, 10)).value_or(ItemState::kPending);
  item.reason = r.Text(row, 11);
  item.cause = r.Text(row, 12);
  item.target_etag = r.Text(row, 13);
  item.attempts = int(r.Int(row, 14));
  item.last_run = r.Int(row, 15);
  item.verified_ns = r.Int(row, 16);
  item.verify_result = r.Text(row, 17);
  item.ctime_ns = r.Int(row, 18);
  item.inode = uint64_t(r.Int(row, 19));
  item.write_intent = r.Text(row, 20);
  item.kept_blob = r.Text(row, 21) == "t";
  item.source_etag = r.Text(row, 22);
  item.content_type = r.Text(row, 23);
}

// Every column after the path, in kItemColumns order.
std::vector<PgParam> ItemFields(const Item& item) {
  return {std::string(storage::KindName(item.kind)),
          Int(int64_t(item.size)),
          Int(item.mtime_ns),
          Int(int64_t(item.mode)),
          Int(int64_t(item.uid)),
          Int(int64_t(item.gid)),
          item.link_target,
          item.md5 ? PgParam(PgBytes(DigestBytes(*item.md5))) : std::nullopt,
          std::string(StateName(item.state)),
          RedactSecrets(item.reason),
          item.cause,
          item.target_etag,
          Int(item.attempts),
          Int(item.last_run),
          Int(item.verified_ns),
          item.verify_result,
          Int(item.ctime_ns),
          Int(int64_t(item.inode)),
          item.write_intent,
          std::string(item.kept_blob ? "true" : "false"),
          item.source_etag,
          item.content_type};
}

// Rows of one query, read a page at a time through a cursor on a connection of its own, in a
// read-only repeatable-read transaction: its snapshot is the one taken when it opened.
template <typename Row>
class PgRows final : public Cursor<Row>::Source {
 public:
  using Reader = void (*)(const PgResult&, int, Row&);
  PgRows(std::unique_ptr<PgConnection> db, Reader read) : db_(std::move(db)), read_(read) {}
  Status Open(const std::string& sql, const std::vector<PgParam>& params) {
    FERRY_RETURN_IF_ERROR(db_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    Result<PgResult> declared = db_->Exec("DECLARE rows NO SCROLL CURSOR FOR " + sql, params);
    return declared.status();
  }
  Result<bool> Next(Row& row) override {
    if (!page_ || index_ == page_->rows()) {
      if (done_) return false;
      Result<PgResult> page = db_->Exec("FETCH 1000 FROM rows");
      if (!page.ok()) return page.status();
      page_.emplace(std::move(page).value());
      index_ = 0;
      done_ = page_->rows() < 1000;
      if (page_->rows() == 0) return false;
    }
    read_(*page_, index_++, row);
    return true;
  }

 private:
  std::unique_ptr<PgConnection> db_;
  Reader read_;
  std::optional<PgResult> page_;
  int index_ = 0;
  bool done_ = false;
};

// " AND state IN ('pending', ...)" for `states`: literals (ferry's own names), so that the
// planner can use the partial index of the states workers claim.
std::string StatesIn(const std::vector<ItemState>& states) {
  std::string sql = " AND state IN (";
  for (size_t i = 0; i < states.size(); ++i) {
    sql += fmt::format("{}'{}'", i ? ", " : "", StateName(states[i]));
  }
  return sql + ")";
}

void ReadEvent(const PgResult& r, int row, Event& e) {
  e.id = r.Int(row, 0);
  e.run = r.Int(row, 1);
  e.time_ns = r.Int(row, 2);
  e.path = r.Text(row, 3);
  e.kind = r.Text(row, 4);
  e.detail_json = r.Text(row, 5);
  e.prev_hash = r.Text(row, 6);
  e.hash = r.Text(row, 7);
}

bool ValidMigrationName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

bool IsPostgresLocation(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

Result<PostgresLocation> ParsePostgresLocation(std::string_view location) {
  PostgresLocation out;
  size_t query = location.find('?');
  std::string_view base = location.substr(0, query);
  const Status has_password = InvalidInput(
      "a PostgreSQL location must not hold a password: put it in PGPASSWORD or ~/.pgpass");
  // USER:PASSWORD@ before the host, whatever the password holds ('?', '/', '@').
  std::string_view rest = location.substr(location.find("://") + 3);
  if (size_t at = rest.rfind('@');
      at != std::string_view::npos && rest.substr(0, at).find(':') != std::string_view::npos) {
    return has_password;
  }
  std::vector<std::string> kept;
  if (query != std::string_view::npos) {
    std::string_view rest = location.substr(query + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view param = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
      std::string_view key = param.substr(0, param.find('='));
      if (key.find('%') != std::string_view::npos || key == "password" || key == "sslpassword") {
        return has_password;  // libpq decodes keys: pass%77ord is a password too
      }
      if (key == "migration") {
        out.migration = std::string(param.substr(std::min(param.size(), key.size() + 1)));
      } else if (!param.empty()) {
        kept.emplace_back(param);
      }
    }
  }
  if (out.migration.empty()) {
    return InvalidInput(fmt::format(
        "'{}' names no migration: add ?migration=NAME (a database holds many migrations)",
        location));
  }
  if (!ValidMigrationName(out.migration)) {
    return InvalidInput(fmt::format(
        "migration name '{}': use 1 to 63 lower-case letters, digits, '-' and '_'", out.migration));
  }
  out.conninfo = std::string(base);
  for (size_t i = 0; i < kept.size(); ++i) out.conninfo += (i ? "&" : "?") + kept[i];
  return out;
}

Result<std::unique_ptr<PostgresCatalog>> PostgresCatalog::Connect(const std::string& location) {
  Result<PostgresLocation> where = ParsePostgresLocation(location);
  if (!where.ok()) return where.status();
  Result<std::unique_ptr<PgConnection>> db = PgConnection::Connect(where->conninfo);
  if (!db.ok()) return db.status();
  std::unique_ptr<PostgresCatalog> catalog(new PostgresCatalog());
  catalog->location_ = location;
  catalog->where_ = std::move(where).value();
  catalog->db_ = std::move(db).value();
  // The tables, created or checked under a lock of their own.
  PgConnection& pg = *catalog->db_;
  FERRY_RETURN_IF_ERROR(pg.Run("BEGIN"));
  FERRY_RETURN_IF_ERROR(
      pg.Exec("SELECT pg_advisory_xact_lock($1)", {Int(kSchemaLockKey)}).status());
  // Tables already at this version are left alone: their DDL would wait for every worker's
  // open transaction, and hold up every statement behind it.
  Result<PgResult> exists = pg.Exec("SELECT to_regclass('ferry_schema') IS NOT NULL");
  if (!exists.ok()) return exists.status();
  int64_t found = 0;
  if (exists->Text(0, 0) == "t") {
    Result<PgResult> version = pg.Exec("SELECT coalesce(max(version), 0) FROM ferry_schema");
    if (!version.ok()) return version.status();
    found = version->Int(0, 0);
  }
  if (found > kPostgresSchemaVersion) {
    (void)pg.Run("ROLLBACK");
    return InvalidInput(fmt::format(
        "this database's ferry tables are from a newer ferry (schema {}; this ferry reads up to "
        "{}): upgrade ferry",
        found, kPostgresSchemaVersion));
  }
  if (found < kPostgresSchemaVersion) {
    // Only while nothing else uses the tables: their DDL waits for the locks of every open
    // transaction on them, and would hold up every statement behind it for as long as an older
    // ferry still works (for ever, should that one wait on it in turn). Given up instead.
    Status created = pg.Run(fmt::format("SET LOCAL lock_timeout = '{}s'", kUpgradeWaitSeconds));
    if (created.ok()) created = pg.Run(kSchema);
    if (created.ok()) {
      created = pg.Exec("DELETE FROM ferry_schema").status();
    }
    if (created.ok()) {
      created =
          pg.Exec("INSERT INTO ferry_schema (version) VALUES ($1)", {Int(kPostgresSchemaVersion)})
              .status();
    }
    if (!created.ok()) {
      (void)pg.Run("ROLLBACK");
      if (found == 0) return created;
      return Status(Code::kRefused,
                    fmt::format("could not bring this database's ferry tables from schema {} to "
                                "{} ({}): is an older ferry still working on it? Stop every ferry "
                                "that uses the database, then run this again",
                                found, kPostgresSchemaVersion, created.message()));
    }
  }
  FERRY_RETURN_IF_ERROR(pg.Run("COMMIT"));
  return catalog;
}

Status PostgresCatalog::TakeLock() {
  Result<PgResult> locked =
      Query("SELECT pg_try_advisory_lock(hashtext('ferry:' || $1))", {where_.migration});
  if (!locked.ok()) return locked.status();
  if (locked->Text(0, 0) != "t") {
    return InvalidInput(
        fmt::format("another ferry process is working on migration '{}'; wait for it to finish",
                    where_.migration));
  }
  hold_ = Hold::kAlone;
  return Status::Ok();
}

Status PostgresCatalog::TakeHolderLock() {
  // Only a process that holds the migration alone takes it: it is free.
  Result<PgResult> locked =
      Query("SELECT pg_try_advisory_lock(hashtext('ferry-holder:' || $1))", {where_.migration});
  if (!locked.ok()) return locked.status();
  if (locked->Text(0, 0) != "t") {
    return InvalidInput(fmt::format(
        "another ferry process is taking over migration '{}'; wait for it", where_.migration));
  }
  return Status::Ok();
}

Status PostgresCatalog::TakeSharedLock(const std::function<void()>& waiting) {
  const std::vector<PgParam> key{where_.migration};
  Result<PgResult> locked =
      Query("SELECT pg_try_advisory_lock_shared(hashtext('ferry:' || $1))", key);
  if (!locked.ok()) return locked.status();
  if (locked->Text(0, 0) != "t") {
    if (waiting) waiting();
    FERRY_RETURN_IF_ERROR(
        Query("SELECT pg_advisory_lock_shared(hashtext('ferry:' || $1))", key).status());
  }
  hold_ = Hold::kShared;
  return Status::Ok();
}

Result<std::unique_ptr<Catalog>> PostgresCatalog::Create(const std::string& location,
                                                         const Config& config) {
  Result<std::unique_ptr<PostgresCatalog>> catalog = Connect(location);
  if (!catalog.ok()) return catalog.status();
  PostgresCatalog& c = **catalog;
  FERRY_RETURN_IF_ERROR(c.TakeLock());
  c.config_ = config;
  if (c.config_.id.empty()) c.config_.id = NewMigrationId();
  FERRY_RETURN_IF_ERROR(c.db_->Run("BEGIN"));
  Result<PgResult> inserted =
      c.db_->Exec("INSERT INTO ferry_migrations (name, created_ns) VALUES ($1, $2)",
                  {c.where_.migration, Int(NowUnixNs())});
  if (!inserted.ok()) {
    (void)c.db_->Run("ROLLBACK");
    if (inserted.status().code() == Code::kAlreadyExists) {
      return InvalidInput(fmt::format(
          "migration '{}' is already a migration in this database; name another, or run "
          "'ferry status {}'",
          c.where_.migration, location));
    }
    return inserted.status();
  }
  FERRY_RETURN_IF_ERROR(c.SetMeta("config", ConfigText(c.config_)));
  FERRY_RETURN_IF_ERROR(c.db_->Run("COMMIT"));
  FERRY_RETURN_IF_ERROR(c.TakeHolderLock());
  return std::unique_ptr<Catalog>(std::move(catalog).value());
}

Result<std::unique_ptr<Catalog>> PostgresCatalog::Open(const std::string& location, Hold hold,
                                                       const std::function<void()>& waiting) {
  Result<std::unique_ptr<PostgresCatalog>> catalog = Connect(location);
  if (!catalog.ok()) return catalog.status();
  PostgresCatalog& c = **catalog;
  Result<PgResult> exists =
      c.db_->Exec("SELECT 1 FROM ferry_migrations WHERE name = $1", {c.where_.migration});
  if (!exists.ok()) return exists.status();
  if (exists->rows() == 0) {
    return InvalidInput(fmt::format(
        "there is no migration '{}' in this database: create it with 'ferry init {} --source "
        "... --target ...'",
        c.where_.migration, location));
  }
  if (hold == Hold::kAlone) {
    FERRY_RETURN_IF_ERROR(c.TakeLock());
    // The helpers of a sync's copy hold no lock: a sync that ended without waiting for them
    // (it failed, or was killed) may leave them recording their last items. Nobody holds the
    // migration alone until they are done.
    Result<int> helpers = c.LiveWorkers();
    if (!helpers.ok()) return helpers.status();
    if (*helpers > 0) {
      return Status(
          Code::kRefused,
          fmt::format("{} that helped the last sync of migration '{}' {} still at work (that "
                      "sync ended without waiting for its helpers): wait for them to finish, "
                      "or stop them ('ferry status {}' lists them), then run this again",
                      Count(*helpers, "process", "processes"), c.where_.migration,
                      *helpers == 1 ? "is" : "are", location));
    }
  }
  if (hold == Hold::kShared) FERRY_RETURN_IF_ERROR(c.TakeSharedLock(waiting));
  FERRY_RETURN_IF_ERROR(c.LoadConfig());
  const std::vector<PgParam> m{c.where_.migration};
  if (hold == Hold::kAlone) {
    // With the lock held alone, no other process works on the migration: a run still marked
    // running was cut short, and no worker lives to hold a claim.
    FERRY_RETURN_IF_ERROR(c.db_->Run("BEGIN"));
    FERRY_RETURN_IF_ERROR(c.db_
                              ->Exec("UPDATE ferry_runs SET outcome = 'interrupted' WHERE "
                                     "migration = $1 AND outcome = 'running'",
                                     m)
                              .status());
    FERRY_RETURN_IF_ERROR(
        c.db_->Exec("UPDATE ferry_workers SET gone = true WHERE migration = $1 AND NOT gone", m)
            .status());
    FERRY_RETURN_IF_ERROR(c.db_
                              ->Exec("UPDATE ferry_items SET lease_until = NULL WHERE migration = "
                                     "$1 AND lease_until IS NOT NULL",
                                     m)
                              .status());
    FERRY_RETURN_IF_ERROR(c.db_->Run("COMMIT"));
    // Its runs are this process's from here (kHeldAlone).
    FERRY_RETURN_IF_ERROR(c.TakeHolderLock());
  }
  if (hold == Hold::kShared) {
    // The runs of workers that died (silent past their lease) were cut short.
    FERRY_RETURN_IF_ERROR(
        c.db_
            ->Exec(
                "UPDATE ferry_runs SET outcome = 'interrupted' WHERE migration = $1 AND outcome = "
                "'running' AND id IN (SELECT run FROM ferry_workers WHERE migration = $1 AND NOT "
                "gone AND alive_until < clock_timestamp())",
                m)
            .status());
  }
  return std::unique_ptr<Catalog>(std::move(catalog).value());
}

Status PostgresCatalog::LoadConfig() {
  Result<std::string> text = GetMeta("config");
  if (!text.ok()) return text.status();
  Result<Config> config = ConfigFromText(*text);
  if (!config.ok()) return config.status();
  config_ = std::move(config).value();
  return Status::Ok();
}

std::string PostgresCatalog::ScratchDir() const {
  std::error_code error;
  std::filesystem::path dir = std::filesystem::temp_directory_path(error) / ("ferry-" + config_.id);
  std::filesystem::create_directories(dir, error);
  return dir.string();
}

Result<int64_t> PostgresCatalog::CreatedNs() {
  Result<PgResult> r =
      Query("SELECT created_ns FROM ferry_migrations WHERE name = $1", {where_.migration});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return Status(Code::kNotFound, "the migration is gone from the database");
  return r->Int(0, 0);
}

Result<std::string> PostgresCatalog::GetMeta(const std::string& key) {
  Result<PgResult> r = Query("SELECT value FROM ferry_meta WHERE migration = $1 AND key = $2",
                             {where_.migration, key});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return Status(Code::kNotFound, fmt::format("no '{}' in the catalog", key));
  return r->Text(0, 0);
}

Status PostgresCatalog::SetMeta(const std::string& key, const std::string& value) {
  return db_
      ->Exec(
          "INSERT INTO ferry_meta (migration, key, value) VALUES ($1, $2, $3) "
          "ON CONFLICT (migration, key) DO UPDATE SET value = EXCLUDED.value",
          {where_.migration, key, value})
      .status();
}

Result<int64_t> PostgresCatalog::BeginRun(Stage stage) {
  Result<PgResult> r = Query(
      "INSERT INTO ferry_runs (migration, stage, started_ns) VALUES ($1, $2, $3) RETURNING id",
      {where_.migration, std::string(Name(stage)), Int(NowUnixNs())});
  if (!r.ok()) return r.status();
  int64_t run = r->Int(0, 0);
  FERRY_RETURN_IF_ERROR(AnnotateRun(run));
  return run;
}

Status PostgresCatalog::EndRun(const Run& run) {
  return db_
      ->Exec(
          "UPDATE ferry_runs SET ended_ns = $3, outcome = $4, files = $5, bytes = $6, "
          "failed = $7, summary = $8 WHERE migration = $1 AND id = $2",
          {where_.migration, Int(run.id), Int(NowUnixNs()), run.outcome, Int(run.files),
           Int(run.bytes), Int(run.failed), RedactSecrets(run.summary_json)})
      .status();
}

Result<std::vector<Run>> PostgresCatalog::Runs() {
  Result<PgResult> r = Query(
      "SELECT id, stage, started_ns, ended_ns, outcome, files, bytes, failed, summary FROM "
      "ferry_runs WHERE migration = $1 ORDER BY id",
      {where_.migration});
  if (!r.ok()) return r.status();
  std::vector<Run> runs;
  for (int i = 0; i < r->rows(); ++i) {
    runs.push_back(Run{r->Int(i, 0), r->Text(i, 1), r->Int(i, 2), r->Int(i, 3), r->Text(i, 4),
                       r->Int(i, 5), r->Int(i, 6), r->Int(i, 7), r->Text(i, 8)});
  }
  return runs;
}

Result<ItemCursor> PostgresCatalog::Items(const std::vector<ItemState>& states) {
  Result<std::unique_ptr<PgConnection>> reader = PgConnection::Connect(where_.conninfo);
  if (!reader.ok()) return reader.status();
  std::string sql = fmt::format("SELECT {} FROM ferry_items WHERE migration = $1{} ORDER BY path",
                                kItemColumns, states.empty() ? "" : StatesIn(states));
  std::vector<PgParam> params{where_.migration};
  auto rows = std::make_unique<PgRows<Item>>(std::move(reader).value(), &ReadItem);
  FERRY_RETURN_IF_ERROR(rows->Open(sql, params));
  return ItemCursor(std::move(rows));
}

Result<ItemCursor> PostgresCatalog::ItemsBetween(const std::string& from,
                                                 const std::string& before) {
  Result<std::unique_ptr<PgConnection>> reader = PgConnection::Connect(where_.conninfo);
  if (!reader.ok()) return reader.status();
  std::string sql = fmt::format(
      "SELECT {} FROM ferry_items WHERE migration = $1 AND path >= $2 AND ($3 = '' OR path < $3) "
      "ORDER BY path",
      kItemColumns);
  auto rows = std::make_unique<PgRows<Item>>(std::move(reader).value(), &ReadItem);
  FERRY_RETURN_IF_ERROR(rows->Open(sql, {where_.migration, from, before}));
  return ItemCursor(std::move(rows));
}

Result<std::optional<Item>> PostgresCatalog::FindItem(std::string_view path) {
  Result<PgResult> r = Query(
      fmt::format("SELECT {} FROM ferry_items WHERE migration = $1 AND path = $2", kItemColumns),
      {where_.migration, std::string(path)});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return std::optional<Item>();
  Item item;
  ReadItem(*r, 0, item);
  return std::optional<Item>(std::move(item));
}

Result<bool> PostgresCatalog::HasDescendants(std::string_view folder) {
  // Paths under "a" lie in ["a/", "a0"): '0' is the byte after '/'.
  Result<PgResult> r =
      Query("SELECT 1 FROM ferry_items WHERE migration = $1 AND path >= $2 AND path < $3 LIMIT 1",
            {where_.migration, std::string(folder) + "/", std::string(folder) + "0"});
  if (!r.ok()) return r.status();
  return r->rows() > 0;
}

Result<std::vector<StateTotals>> PostgresCatalog::Totals() {
  Result<PgResult> r = Query(
      "SELECT state, kind, count(*), coalesce(sum(size), 0) FROM ferry_items WHERE migration = $1 "
      "GROUP BY state, kind",
      {where_.migration});
  if (!r.ok()) return r.status();
  std::vector<std::tuple<std::string, std::string, int64_t, int64_t>> rows;
  for (int i = 0; i < r->rows(); ++i) {
    rows.emplace_back(r->Text(i, 0), r->Text(i, 1), r->Int(i, 2), r->Int(i, 3));
  }
  return GroupTotals(rows);
}

Result<int64_t> PostgresCatalog::CountItemsUpTo(int64_t most) {
  Result<PgResult> r = Query(
      "SELECT count(*) FROM (SELECT 1 FROM ferry_items WHERE migration = $1 LIMIT $2) AS counted",
      {where_.migration, Int(most)});
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<int64_t> PostgresCatalog::CountItems(ItemState state,
                                            std::optional<std::string_view> cause) {
  std::vector<PgParam> params{where_.migration, std::string(StateName(state))};
  if (cause) params.push_back(std::string(*cause));
  Result<PgResult> r = Query(
      cause ? "SELECT count(*) FROM ferry_items WHERE migration = $1 AND state = $2 AND cause = $3"
            : "SELECT count(*) FROM ferry_items WHERE migration = $1 AND state = $2",
      params);
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::vector<Catalog::ErrorGroup>> PostgresCatalog::ErrorGroups(int examples_per_group) {
  Result<PgResult> groups = Query(
      "SELECT state, cause, count(*), coalesce(sum(size), 0) FROM ferry_items WHERE migration = "
      "$1 AND state IN ('failed', 'conflict', 'skipped') GROUP BY state, cause "
      "ORDER BY count(*) DESC, cause COLLATE \"C\"",
      {where_.migration});
  if (!groups.ok()) return groups.status();
  std::vector<ErrorGroup> out;
  for (int i = 0; i < groups->rows(); ++i) {
    ErrorGroup g{StateFromName(groups->Text(i, 0)).value_or(ItemState::kFailed),
                 groups->Text(i, 1),
                 groups->Int(i, 2),
                 groups->Int(i, 3),
                 {}};
    Result<PgResult> examples = Query(
        "SELECT path, reason FROM ferry_items WHERE migration = $1 AND state = $2 AND cause = $3 "
        "ORDER BY path LIMIT $4",
        {where_.migration, std::string(StateName(g.state)), g.cause, Int(examples_per_group)});
    if (!examples.ok()) return examples.status();
    for (int j = 0; j < examples->rows(); ++j) {
      g.examples.emplace_back(examples->Text(j, 0), examples->Text(j, 1));
    }
    out.push_back(std::move(g));
  }
  return out;
}

Status PostgresCatalog::RecordTrialBlob(const TrialBlob& blob) {
  return db_
      ->Exec(
          "INSERT INTO ferry_trial_blobs (migration, path, prefix, etag) VALUES ($1, $2, $3, "
          "$4) ON CONFLICT (migration, path) DO UPDATE SET prefix = EXCLUDED.prefix, etag = "
          "EXCLUDED.etag",
          {where_.migration, blob.path, blob.prefix, blob.etag})
      .status();
}

Status PostgresCatalog::ForgetTrialBlob(std::string_view path) {
  return db_
      ->Exec("DELETE FROM ferry_trial_blobs WHERE migration = $1 AND path = $2",
             {where_.migration, std::string(path)})
      .status();
}

Result<std::vector<TrialBlob>> PostgresCatalog::TrialBlobs(std::optional<std::string_view> prefix) {
  std::vector<PgParam> params{where_.migration};
  if (prefix) params.push_back(std::string(*prefix));
  Result<PgResult> r = Query(
      prefix ? "SELECT path, prefix, etag FROM ferry_trial_blobs WHERE migration = $1 AND prefix "
               "= $2 ORDER BY path"
             : "SELECT path, prefix, etag FROM ferry_trial_blobs WHERE migration = $1 ORDER BY "
               "path",
      params);
  if (!r.ok()) return r.status();
  std::vector<TrialBlob> blobs;
  for (int i = 0; i < r->rows(); ++i) {
    blobs.push_back({r->Text(i, 0), r->Text(i, 1), r->Text(i, 2)});
  }
  return blobs;
}

namespace {

// `text` with every byte outside ASCII as \xHH: printable whatever it holds.
std::string Escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    out += b < 0x20 || b >= 0x7f ? fmt::format("\\x{:02x}", b) : std::string(1, c);
  }
  return out;
}

// PostgreSQL keeps text as UTF-8 and refuses anything else; a folder catalog keeps any bytes.
Status NotUtf8(std::string_view path) {
  return Status(Code::kInvalidInput,
                fmt::format("the name '{}' is not valid UTF-8, which a PostgreSQL catalog cannot "
                            "store: rename it, --exclude it, or keep this migration's catalog in "
                            "a folder",
                            Escaped(path)));
}

}  // namespace

Status PostgresCatalog::Write(std::string_view sql, const std::vector<PgParam>& params) {
  FERRY_RETURN_IF_ERROR(Settle());  // in the order they were made
  if (in_transaction_) return db_->Queue(sql, params);
  return Query(sql, params).status();
}

Result<int64_t> PostgresCatalog::NextItemId() {
  if (free_ids_.empty()) {
    Result<PgResult> r = Query(
        "SELECT nextval(pg_get_serial_sequence('ferry_items', 'id')) FROM generate_series(1, "
        "1000) ORDER BY 1 DESC");
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->rows(); ++i) free_ids_.push_back(r->Int(i, 0));
  }
  int64_t id = free_ids_.back();
  free_ids_.pop_back();
  return id;
}

Status PostgresCatalog::BeginTransaction() {
  // The log's head is read after its lock in a snapshot of its own, and claims see the others'
  // commits: whatever default the database or role sets.
  FERRY_RETURN_IF_ERROR(db_->Run("BEGIN ISOLATION LEVEL READ COMMITTED"));
  in_transaction_ = true;
  return Status::Ok();
}

Status PostgresCatalog::CommitTransaction() {
  in_transaction_ = false;
  Status written = Status::Ok();
  if (db_->InFailedTransaction()) {
    // A write queued earlier failed and a read reported it: COMMIT would only roll back.
    written = Status(Code::kInternal,
                     "catalog: a write in this transaction failed earlier; nothing of it is kept");
  }
  if (written.ok()) written = Settle();
  if (written.ok()) written = CheckClaims();
  if (written.ok()) written = WriteEvents();
  // The rows, the events and COMMIT in one round trip; a failure among them leaves COMMIT
  // undone and the transaction aborted.
  if (written.ok() && lazy_) written = db_->QueueCommand("SET LOCAL synchronous_commit = off");
  lazy_ = false;
  if (written.ok()) written = db_->QueueCommand("COMMIT");
  if (written.ok()) written = db_->Flush();
  if (written.ok() && db_->InFailedTransaction()) {
    written = Status(Code::kInternal, "catalog: the commit failed; nothing of it is kept");
  }
  if (!written.ok()) {
    Abandon();
    return written;
  }
  if (renewal_) renewed_ = *renewal_;
  renewal_.reset();
  return written;
}

void PostgresCatalog::Renewed(std::chrono::steady_clock::time_point sent) {
  // A renewal counts once committed: one rolled back leaves the older leases in force.
  if (in_transaction_) {
    renewal_ = sent;
  } else {
    renewed_ = sent;
  }
}

Status PostgresCatalog::CommitTransactionLazily() {
  // PostgreSQL writes its log in order: a later durable commit makes this one durable too.
  lazy_ = true;
  return CommitTransaction();
}

void PostgresCatalog::Abandon() {
  (void)db_->Flush();          // whatever the queued writes answered, they are undone now
  (void)db_->Run("ROLLBACK");  // the transaction is aborted: end it, so the next one can start
  DropPending();
}

void PostgresCatalog::DropPending() {
  renewal_.reset();
  events_.clear();
  touched_.clear();
  inserts_.clear();
  inserted_at_.clear();
  updates_.clear();
}

Status PostgresCatalog::RollbackTransaction() {
  in_transaction_ = false;
  (void)db_->Flush();
  DropPending();
  return db_->Run("ROLLBACK");
}

Status PostgresCatalog::InsertItem(Item& item) {
  if (!Utf8Length(item.path) || !Utf8Length(item.link_target)) return NotUtf8(item.path);
  if (item.path.find('\0') != std::string::npos ||
      item.link_target.find('\0') != std::string::npos) {
    return Status(Code::kInvalidInput,
                  fmt::format("the name '{}' holds a NUL character, which a PostgreSQL catalog "
                              "cannot store: --exclude it, or keep this migration's catalog in a "
                              "folder",
                              Escaped(item.path)));
  }
  Result<int64_t> id = NextItemId();
  if (!id.ok()) return id.status();
  item.id = *id;
  inserted_at_[item.id] = inserts_.size();
  inserts_.push_back(item);
  return in_transaction_ ? Status::Ok() : SendNow();
}

Status PostgresCatalog::UpdateItem(const Item& item) {
  if (!Utf8Length(item.link_target) || !Utf8Length(item.reason)) return NotUtf8(item.path);
  // Its outcome recorded (no write intent left), a worker's claimed item is given back.
  const bool release = item.write_intent.empty();
  if (SharesWork()) {
    touched_.insert(item.id);  // CheckClaims finds an update that did not apply
    if (release) held_.erase(item.id);
  }
  if (auto inserted = inserted_at_.find(item.id); inserted != inserted_at_.end()) {
    Item& row = inserts_[inserted->second];  // not sent yet: it goes in as it is now
    std::string path = std::move(row.path);
    row = item;
    row.path = std::move(path);
  } else {
    // The last update of an item is the one that counts; a release in between still holds.
    Update& update = updates_[item.id];
    update.release = update.release || release;
    update.item = item;
  }
  return in_transaction_ ? Status::Ok() : SendNow();
}

Status PostgresCatalog::SendNow() {
  FERRY_RETURN_IF_ERROR(Settle());
  return db_->Flush();
}

namespace {

// The columns of an item after its path, in ItemFields order, and their types.
struct Column {
  const char* name;
  const char* type;
};
constexpr Column kFieldColumns[] = {
    {"kind", "text"},          {"size", "bigint"},       {"mtime_ns", "bigint"},
    {"mode", "bigint"},        {"uid", "bigint"},        {"gid", "bigint"},
    {"link_target", "text"},   {"md5", "bytea"},         {"state", "text"},
    {"reason", "text"},        {"cause", "text"},        {"target_etag", "text"},
    {"attempts", "bigint"},    {"last_run", "bigint"},   {"verified_ns", "bigint"},
    {"verify_result", "text"}, {"ctime_ns", "bigint"},   {"inode", "bigint"},
    {"write_intent", "text"},  {"kept_blob", "boolean"}, {"source_etag", "text"},
    {"content_type", "text"}};
constexpr size_t kFields = std::size(kFieldColumns);
constexpr size_t kRowsPerStatement = 1000;

// A text[] literal holding `values` (NULL for a nullopt).
std::string PgArray(const std::vector<PgParam>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *values[i]) {
      if (c == '\0') continue;  // PostgreSQL text holds none; names with one are refused
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// v.NAME as its column's type (arrays of rows come as text[]).
std::string Typed(const Column& c) {
  if (std::string_view(c.type) == "bytea")
    return fmt::format("decode(substr(v.{}, 3), 'hex')", c.name);
  if (std::string_view(c.type) == "text") return fmt::format("v.{}", c.name);
  return fmt::format("v.{}::{}", c.name, c.type);
}

// "unnest($2::text[], ...) AS v(a, b, ...)" for `names`, the first array being $`first`.
std::string Unnest(const std::vector<std::string>& names, int first) {
  std::string arrays, columns;
  for (size_t i = 0; i < names.size(); ++i) {
    arrays += fmt::format("{}${}::text[]", i ? ", " : "", first + int(i));
    columns += (i ? ", " : "") + names[i];
  }
  return fmt::format("unnest({}) AS v({})", arrays, columns);
}

// One multi-row INSERT of items: $1 the migration, then id, path and the fields as arrays.
const std::string& InsertRowsSql() {
  static const std::string sql = [] {
    std::vector<std::string> names{"id", "path"};
    std::string columns = "migration, id, path", values = "$1, v.id::bigint, v.path";
    for (const Column& c : kFieldColumns) {
      names.push_back(c.name);
      columns += fmt::format(", {}", c.name);
      values += ", " + Typed(c);
    }
    return fmt::format("INSERT INTO ferry_items ({}) SELECT {} FROM {}", columns, values,
                       Unnest(names, 2));
  }();
  return sql;
}

// One multi-row UPDATE of items: $1 the migration, then id, the fields and `release` as arrays,
// the ids once more; for a worker, only the rows it holds ($`kFields` + 5: its run).
std::string UpdateRowsSql(bool worker) {
  std::vector<std::string> names{"id"};
  std::string set;
  for (const Column& c : kFieldColumns) {
    names.push_back(c.name);
    set += fmt::format("{}{} = {}", set.empty() ? "" : ", ", c.name, Typed(c));
  }
  names.push_back("release");
  std::string sql = fmt::format("UPDATE ferry_items AS i SET {}", set);
  if (worker)
    sql += ", lease_until = CASE WHEN v.release::boolean THEN NULL ELSE i.lease_until END";
  // The rows by their ids (unique across migrations) through the primary key, whatever the
  // statistics say: the migration is checked as a filter (IS NOT DISTINCT FROM is no index
  // condition), or a cached plan may walk every row of the migration through another index.
  sql += fmt::format(
      " FROM {} WHERE i.migration IS NOT DISTINCT FROM $1 AND i.id = v.id::bigint AND i.id = "
      "ANY(${}::bigint[])",
      Unnest(names, 2), int(kFields) + 4);
  if (worker) sql += fmt::format(" AND i.lease_run = ${}", int(kFields) + 5);
  return sql;
}

// The arrays of `rows`' columns, after the leading parameters in `params`.
void AddArrays(std::vector<std::vector<PgParam>>& columns, std::vector<PgParam>& params) {
  for (std::vector<PgParam>& column : columns) params.push_back(PgArray(column));
}

}  // namespace

Status PostgresCatalog::Settle() {
  // Taken out first: rows handed to the connection are never sent again, whatever it answers.
  std::vector<Item> inserts = std::move(inserts_);
  std::map<int64_t, Update> updates = std::move(updates_);
  inserts_.clear();
  inserted_at_.clear();
  updates_.clear();
  for (size_t from = 0; from < inserts.size(); from += kRowsPerStatement) {
    std::vector<std::vector<PgParam>> columns(2 + kFields);
    for (size_t i = from; i < std::min(inserts.size(), from + kRowsPerStatement); ++i) {
      const Item& item = inserts[i];
      columns[0].push_back(Int(item.id));
      columns[1].push_back(item.path);
      std::vector<PgParam> fields = ItemFields(item);
      for (size_t f = 0; f < kFields; ++f) columns[2 + f].push_back(std::move(fields[f]));
    }
    std::vector<PgParam> params{where_.migration};
    AddArrays(columns, params);
    FERRY_RETURN_IF_ERROR(db_->Queue(InsertRowsSql(), params));
  }
  const bool worker = SharesWork();
  static const std::string update_sql = UpdateRowsSql(false);
  static const std::string worker_update_sql = UpdateRowsSql(true);
  auto next = updates.begin();
  while (next != updates.end()) {
    std::vector<std::vector<PgParam>> columns(2 + kFields);
    for (size_t n = 0; n < kRowsPerStatement && next != updates.end(); ++n, ++next) {
      const auto& [id, update] = *next;
      columns[0].push_back(Int(id));
      std::vector<PgParam> fields = ItemFields(update.item);
      for (size_t f = 0; f < kFields; ++f) columns[1 + f].push_back(std::move(fields[f]));
      columns[1 + kFields].push_back(std::string(update.release ? "true" : "false"));
    }
    std::vector<PgParam> params{where_.migration};
    AddArrays(columns, params);
    params.push_back(params[1]);  // the ids' array, as bigint[]
    if (worker) params.push_back(Int(worker_run_));
    FERRY_RETURN_IF_ERROR(db_->Queue(worker ? worker_update_sql : update_sql, params));
  }
  return Status::Ok();
}

Result<PgResult> PostgresCatalog::Query(std::string_view sql, const std::vector<PgParam>& params) {
  FERRY_RETURN_IF_ERROR(Settle());
  return db_->Exec(sql, params);
}

Status PostgresCatalog::AppendEvent(int64_t run, std::string_view path, std::string_view kind,
                                    std::string_view detail) {
  std::string detail_json = RedactSecrets(detail);
  if (!Utf8Length(path) || !Utf8Length(detail_json)) return NotUtf8(path);
  PendingEvent event{run, NowUnixNs(), std::string(path), std::string(kind),
                     std::move(detail_json)};
  if (in_transaction_) {
    events_.push_back(std::move(event));
    return Status::Ok();
  }
  FERRY_RETURN_IF_ERROR(BeginTransaction());
  events_.push_back(std::move(event));
  return CommitTransaction();
}

Status PostgresCatalog::WriteEvents() {
  if (events_.empty()) return Status::Ok();
  // Writers of this migration's log take turns from here to their commit; each chains after
  // the head the last one committed, and ids follow the chain.
  // One round trip with the rows before it: ferry_log_head takes the lock, then reads the head
  // in a snapshot of its own.
  Result<PgResult> head = Query("SELECT ferry_log_head($1::text)", {where_.migration});
  if (!head.ok()) return head.status();
  std::string prev = head->IsNull(0, 0) ? std::string(64, '0') : head->Text(0, 0);
  // Many rows a statement, inserted in the chain's order (ids follow it).
  static const std::string sql = fmt::format(
      "INSERT INTO ferry_events (migration, run, time_ns, path, kind, detail, prev_hash, hash) "
      "SELECT $1, v.run::bigint, v.time_ns::bigint, v.path, v.kind, v.detail, v.prev_hash, "
      "v.hash FROM {} ORDER BY v.n",
      [] {
        std::string unnest =
            Unnest({"run", "time_ns", "path", "kind", "detail", "prev_hash", "hash"}, 2);
        return unnest.replace(unnest.find(") AS v("), 7, ") WITH ORDINALITY AS v(")
            .replace(unnest.size() - 1, 0, ", n");
      }());
  for (size_t from = 0; from < events_.size(); from += kRowsPerStatement) {
    std::vector<std::vector<PgParam>> columns(7);
    for (size_t i = from; i < std::min(events_.size(), from + kRowsPerStatement); ++i) {
      const PendingEvent& e = events_[i];
      std::string hash = EventHash(prev, e.run, e.time_ns, e.path, e.kind, e.detail);
      for (auto [c, v] : {std::pair<size_t, std::string>{0, std::to_string(e.run)},
                          {1, std::to_string(e.time_ns)},
                          {2, e.path},
                          {3, e.kind},
                          {4, e.detail},
                          {5, prev},
                          {6, hash}}) {
        columns[c].push_back(std::move(v));
      }
      prev = std::move(hash);
    }
    std::vector<PgParam> params{where_.migration};
    AddArrays(columns, params);
    FERRY_RETURN_IF_ERROR(db_->Queue(sql, params));
  }
  events_.clear();
  return Status::Ok();  // sent with the commit
}

namespace {

// ids as a bigint[] parameter: {1,2,3}.
std::string IdArray(const std::set<int64_t>& ids) {
  std::string out = "{";
  for (int64_t id : ids) out += (out.size() > 1 ? "," : "") + std::to_string(id);
  return out + "}";
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

Status PostgresCatalog::CheckClaims() {
  if (touched_.empty()) return Status::Ok();
  // Renewed less than half a lease ago: no claim of this worker can have run out, so none was
  // taken over (a renewal not yet committed holds its rows locked).
  if (std::chrono::steady_clock::now() - renewed_ < lease_ / 2) {
    touched_.clear();
    return Status::Ok();
  }
  std::string ids = IdArray(touched_);
  touched_.clear();
  Result<PgResult> lost = Query(
      "SELECT count(*) FROM ferry_items WHERE migration IS NOT DISTINCT FROM $1 AND id = "
      "ANY($2::bigint[]) AND "
      "lease_run <> $3",
      {where_.migration, ids, Int(worker_run_)});
  if (!lost.ok()) return lost.status();
  if (lost->Int(0, 0) > 0) {
    return Status(Code::kInternal,
                  fmt::format("{} items this worker held were taken over by another worker (this "
                              "one was cut off from the database for longer than its lease of "
                              "{}s); nothing of this batch is recorded: stopping",
                              lost->Int(0, 0), lease_.count()));
  }
  return Status::Ok();
}

Status PostgresCatalog::JoinWork(int64_t run, std::chrono::seconds lease) {
  worker_run_ = run;
  lease_ = lease;
  // A transaction left open by a worker that froze or was cut off holds its rows, and perhaps
  // the log's lock: the server ends it after half a lease idle (at most 15 s; a working copy
  // commits every fraction of a second), before the others' own leases could run out waiting.
  FERRY_RETURN_IF_ERROR(
      db_->Run(fmt::format("SET idle_in_transaction_session_timeout = {}",
                           std::min<int64_t>(int64_t(lease.count()) * 500, 15'000))));
  // Held while this connection lives: the others know this worker for dead once it is gone.
  FERRY_RETURN_IF_ERROR(
      Query("SELECT pg_advisory_lock(hashtext('ferry-worker:' || $1), ($2::bigint % "
            "2147483647)::int)",
            {where_.migration, Int(run)})
          .status());
  const std::string name = fmt::format("{}:{}", HostName(), getpid());
  const int64_t now = NowUnixNs();
  const auto sent = std::chrono::steady_clock::now();
  FERRY_RETURN_IF_ERROR(
      Write("INSERT INTO ferry_workers (migration, run, name, lease_seconds, started_ns, "
            "heartbeat_ns, alive_until) VALUES ($1, $2, $3, $4, $5, $5, clock_timestamp() + "
            "make_interval(secs => $4::bigint))",
            {where_.migration, Int(run), name, Int(lease.count()), Int(now)}));
  Renewed(sent);
  nlohmann::json detail{{"name", name},
                        {"host", HostName()},
                        {"pid", int64_t(getpid())},
                        {"lease_seconds", int64_t(lease.count())}};
  if (lead_sync_ != 0) detail["leads_sync"] = lead_sync_;
  if (helped_.copy_run != 0) detail["helps_sync"] = helped_.sync_run;
  FERRY_RETURN_IF_ERROR(AppendEvent(run, "", "worker", JsonText(detail)));
  if (lead_sync_ == 0) return Status::Ok();
  // Registered and live: helpers may join from now on.
  return SetMeta(kSharedCopyKey,
                 JsonText(nlohmann::json{{"sync_run", lead_sync_}, {"copy_run", run}}));
}

Status PostgresCatalog::LeadCopy(int64_t sync_run) {
  if (hold_ != Hold::kAlone) {
    return Status(Code::kInternal, "only the process that holds the migration alone leads a copy");
  }
  lead_sync_ = sync_run;
  return Status::Ok();
}

Result<SharedCopy> PostgresCatalog::OpenSharedCopy() {
  Result<PgResult> r = Query(
      // The note read first (a CTE), so that no other key's value is read as JSON.
      fmt::format("WITH n AS MATERIALIZED (SELECT value FROM ferry_meta WHERE migration = $1 AND "
                  "key = $2), m AS MATERIALIZED (SELECT (value::json->>'sync_run')::bigint AS "
                  "sync_run, (value::json->>'copy_run')::bigint AS copy_run FROM n) SELECT "
                  "sync_run, copy_run FROM m WHERE {} AND copy_run IN ({}) AND EXISTS (SELECT 1 "
                  "FROM ferry_runs r WHERE r.migration = $1 AND r.outcome = 'running' AND r.id = "
                  "m.sync_run)",
                  kHeldAlone, kLiveRuns),
      {where_.migration, std::string(kSharedCopyKey)});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return SharedCopy{};
  return SharedCopy{r->Int(0, 0), r->Int(0, 1)};
}

Result<bool> PostgresCatalog::RunHoldsMigration(int64_t run) {
  Result<PgResult> r = Query("SELECT " + kSyncHoldsMigration, {where_.migration, Int(run)});
  if (!r.ok()) return r.status();
  return r->Text(0, 0) == "t";
}

Result<int64_t> PostgresCatalog::RunningSync() {
  Result<PgResult> r = Query(fmt::format("SELECT coalesce(max(id), 0) FROM ferry_runs WHERE "
                                         "migration = $1 AND stage = 'sync' AND outcome = "
                                         "'running' AND {}",
                                         kHeldAlone),
                             {where_.migration});
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Status PostgresCatalog::HelpCopy(const SharedCopy& copy) {
  if (hold_ != Hold::kNone || copy.copy_run == 0) {
    return Status(Code::kInternal, "a helper joins an open copy from a catalog opened to read");
  }
  helped_ = copy;
  return Status::Ok();
}

Result<std::vector<Item>> PostgresCatalog::ClaimItems(const std::vector<ItemState>& states,
                                                      int max) {
  // Never an item this worker holds: were its lease to have run out unnoticed, its upload may
  // still be running.
  std::vector<PgParam> params{where_.migration, Int(worker_run_), Int(lease_.count()), Int(max),
                              IdArray(held_)};
  // A helper of a sync's copy claims only while the copy's leader has not left: after that,
  // the leader waits for the items helpers hold, and the sync goes on without them.
  std::string helping;
  if (helped_.copy_run != 0) {
    params.push_back(Int(helped_.copy_run));
    helping = " AND EXISTS (SELECT 1 FROM live WHERE run = $6)";
  }
  // Picked once (MATERIALIZED): a subquery under IN may be run again by the planner, and
  // then hand out more than `max`.
  std::string sql = fmt::format(
      "WITH live AS MATERIALIZED ({}), picked AS MATERIALIZED (SELECT id FROM ferry_items WHERE "
      "migration = $1{} AND (lease_until IS NULL OR lease_until < clock_timestamp() OR lease_run "
      "NOT IN (SELECT run FROM live)) AND last_run NOT IN (SELECT run FROM live) AND id <> "
      "ALL($5::bigint[]){} ORDER BY path LIMIT $4 FOR UPDATE SKIP LOCKED) UPDATE ferry_items SET "
      "lease_run = $2, lease_until = "
      "clock_timestamp() + make_interval(secs => $3) FROM picked WHERE ferry_items.id = "
      "picked.id RETURNING {}",
      kLiveRuns, StatesIn(states), helping, QualifiedItemColumns());
  Result<PgResult> r = Query(sql, params);
  if (!r.ok()) return r.status();
  std::vector<Item> items(size_t(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    ReadItem(*r, i, items[size_t(i)]);
    held_.insert(items[size_t(i)].id);
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.path < b.path; });
  return items;
}

Result<int64_t> PostgresCatalog::HeldElsewhere(const std::vector<ItemState>& states) {
  std::vector<PgParam> params{where_.migration, Int(worker_run_)};
  std::string sql = fmt::format(
      "SELECT count(*) FROM ferry_items WHERE migration = $1 AND lease_until > "
      "clock_timestamp() AND lease_run <> $2 AND lease_run IN ({}){}",
      kLiveRuns, StatesIn(states));
  Result<PgResult> r = Query(sql, params);
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<int> PostgresCatalog::Heartbeat(int64_t items, int64_t bytes) {
  const PgParam lease = Int(lease_.count());
  const auto sent = std::chrono::steady_clock::now();
  FERRY_RETURN_IF_ERROR(
      Query("UPDATE ferry_workers SET heartbeat_ns = $3, alive_until = clock_timestamp() + "
            "make_interval(secs => $4), items = $5, bytes = $6 WHERE migration = $1 AND run "
            "= $2",
            {where_.migration, Int(worker_run_), Int(NowUnixNs()), lease, Int(items), Int(bytes)})
          .status());
  if (!held_.empty()) {
    Result<PgResult> renewed = Query(
        "UPDATE ferry_items SET lease_until = clock_timestamp() + make_interval(secs => $4) "
        "WHERE migration IS NOT DISTINCT FROM $1 AND id = ANY($2::bigint[]) AND lease_run = $3 "
        "RETURNING id",
        {where_.migration, IdArray(held_), Int(worker_run_), lease});
    if (!renewed.ok()) return renewed.status();
    if (size_t(renewed->rows()) < held_.size()) {
      return Status(Code::kInternal,
                    fmt::format("{} items this worker held were taken over by another worker "
                                "(this one was cut off from the database for longer than its "
                                "lease of {}s): stopping",
                                held_.size() - size_t(renewed->rows()), lease_.count()));
    }
  }
  Result<int> live = LiveWorkers();
  if (!live.ok()) return live.status();
  Renewed(sent);
  return std::max(1, *live);
}

Result<int> PostgresCatalog::LiveWorkers() {
  Result<PgResult> live =
      Query(fmt::format("SELECT count(*) FROM ({}) AS live", kLiveRuns), {where_.migration});
  if (!live.ok()) return live.status();
  return int(live->Int(0, 0));
}

Status PostgresCatalog::LeaveWork() {
  if (!held_.empty()) {
    FERRY_RETURN_IF_ERROR(
        Write("UPDATE ferry_items SET lease_until = NULL WHERE migration IS NOT DISTINCT FROM "
              "$1 AND id = ANY($2::bigint[]) AND lease_run = $3",
              {where_.migration, IdArray(held_), Int(worker_run_)}));
    held_.clear();
  }
  FERRY_RETURN_IF_ERROR(Write(
      "UPDATE ferry_workers SET gone = true, heartbeat_ns = $3 WHERE migration = $1 AND run = $2",
      {where_.migration, Int(worker_run_), Int(NowUnixNs())}));
  if (lead_sync_ == 0) return Status::Ok();
  // The leader goes on alone (its mirror deletions may wait on the target longer than a
  // worker's idle limit allows).
  lead_sync_ = 0;
  return db_->Run("RESET idle_in_transaction_session_timeout");
}

Result<std::vector<WorkerInfo>> PostgresCatalog::Workers() {
  Result<PgResult> r = Query(
      fmt::format("SELECT name, run, started_ns, heartbeat_ns, items, bytes, gone, run IN ({}) "
                  "FROM ferry_workers WHERE migration = $1 ORDER BY run DESC LIMIT 100",
                  kLiveRuns),
      {where_.migration});
  if (!r.ok()) return r.status();
  std::vector<WorkerInfo> workers;
  for (int i = 0; i < r->rows(); ++i) {
    workers.push_back({r->Text(i, 0), r->Int(i, 1), r->Int(i, 2), r->Int(i, 3), r->Int(i, 4),
                       r->Int(i, 5), r->Text(i, 7) == "t", r->Text(i, 6) == "t"});
  }
  return workers;
}

Result<EventCursor> PostgresCatalog::Events(const EventFilter& filter) {
  Result<std::unique_ptr<PgConnection>> reader = PgConnection::Connect(where_.conninfo);
  if (!reader.ok()) return reader.status();
  std::string sql = fmt::format("SELECT {} FROM ferry_events WHERE migration = $1", kEventColumns);
  std::vector<PgParam> params{where_.migration};
  if (filter.run) {
    params.push_back(Int(filter.run));
    sql += fmt::format(" AND run = ${}", params.size());
  }
  if (filter.since_ns) {
    params.push_back(Int(filter.since_ns));
    sql += fmt::format(" AND time_ns >= ${}", params.size());
  }
  sql += " ORDER BY id";
  auto rows = std::make_unique<PgRows<Event>>(std::move(reader).value(), &ReadEvent);
  FERRY_RETURN_IF_ERROR(rows->Open(sql, params));
  return EventCursor(std::move(rows));
}

// ---- A scan's listing shared among processes ----

namespace {

// A new name for a lister that holds claims on folders: its host and process, and which of the
// process's catalogs.
std::string NewListerName() {
  static std::atomic<int> catalogs{0};
  return fmt::format("{}:{}#{}", HostName(), getpid(), ++catalogs);
}

struct ListedRow {
  storage::Entry entry;
  std::string error;  // kind 'unlisted': why
};

void ReadListed(const PgResult& r, int row, ListedRow& out) {
  storage::Entry& e = out.entry;
  e = storage::Entry{};
  e.path = r.Text(row, 0);
  std::string kind = r.Text(row, 1);
  e.kind = KindFromName(kind).value_or(storage::Kind::kFile);
  e.size = uint64_t(r.Int(row, 2));
  e.mtime_ns = r.Int(row, 3);
  e.ctime_ns = r.Int(row, 4);
  e.inode = uint64_t(r.Int(row, 5));
  e.mode = uint32_t(r.Int(row, 6));
  e.uid = uint32_t(r.Int(row, 7));
  e.gid = uint32_t(r.Int(row, 8));
  e.link_target = r.Text(row, 9);
  e.etag = r.Text(row, 10);
  out.error = kind == "unlisted" ? r.Text(row, 11) : "";
  if (kind == "unlisted" && out.error.empty()) out.error = "could not be read";
}

// The recorded entries as a listing, errors in their places.
class ListedLister final : public storage::Lister {
 public:
  explicit ListedLister(Cursor<ListedRow> rows) : rows_(std::move(rows)) {}
  Result<bool> Next(storage::Entry& entry) override {
    unlisted_.clear();
    ListedRow row;
    Result<bool> more = rows_.Next(row);
    if (!more.ok() || !*more) return more;
    if (!row.error.empty()) {
      unlisted_ = row.entry.path;
      return Status(Code::kIo, fmt::format("cannot list '{}': {}", row.entry.path, row.error));
    }
    entry = std::move(row.entry);
    return true;
  }
  std::string Unlisted() const override { return unlisted_; }

 private:
  Cursor<ListedRow> rows_;
  std::string unlisted_;
};

}  // namespace

namespace {

// Runs `statements` (each its SQL and parameters) in one transaction: all of them, or none.
Status AllOrNone(PgConnection& db,
                 const std::vector<std::pair<std::string, std::vector<PgParam>>>& statements) {
  FERRY_RETURN_IF_ERROR(db.Run("BEGIN"));
  for (const auto& [sql, params] : statements) {
    Status st = db.Exec(sql, params).status();
    if (!st.ok()) {
      (void)db.Run("ROLLBACK");
      return st;
    }
  }
  return db.Run("COMMIT");
}

}  // namespace

Status PostgresCatalog::LimitIdleAsHelper() {
  if (idle_limited_ || hold_ != Hold::kNone) return Status::Ok();
  // A helper's batch is a few statements: one left idle in its transaction (the process frozen
  // or cut off) is ended before it holds up the others, who wait for its locks (a part's row
  // stays locked, and skipped by every claim, until then).
  FERRY_RETURN_IF_ERROR(db_->Run("SET idle_in_transaction_session_timeout = 15000"));
  idle_limited_ = true;
  return Status::Ok();
}

Status PostgresCatalog::OpenListing(int64_t run) {
  const std::vector<PgParam> m{where_.migration};
  // The root is this process's to list (ClaimFolders never hands it out): every folder a helper
  // lists is then one a listing recorded, with its inode to check against.
  return AllOrNone(*db_, {{"DELETE FROM ferry_listing WHERE migration = $1", m},
                          {"DELETE FROM ferry_listing_folders WHERE migration = $1", m},
                          {"INSERT INTO ferry_listing_folders (migration, run, path) VALUES ($1, "
                           "$2, '')",
                           {where_.migration, Int(run)}}});
}

Result<int64_t> PostgresCatalog::OpenListingRun() {
  // A listing whose scan is over (or was cut short, and so marked) is no longer open.
  // ... and one whose process is gone (its run still says running) is not either.
  Result<PgResult> r = db_->Exec(
      fmt::format("SELECT coalesce(max(f.run), 0) FROM ferry_listing_folders f JOIN ferry_runs r "
                  "ON r.id = f.run AND r.migration = f.migration WHERE f.migration = $1 AND "
                  "r.outcome = 'running' AND {}",
                  kHeldAlone),
      {where_.migration});
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::vector<FolderClaim>> PostgresCatalog::ClaimFolders(int64_t run, int max,
                                                               std::chrono::seconds lease,
                                                               bool scanner) {
  if (lister_.empty()) lister_ = NewListerName();
  FERRY_RETURN_IF_ERROR(LimitIdleAsHelper());
  Result<PgResult> r = db_->Exec(
      // A CTE: evaluated once (a subquery in FROM may be scanned again for each row).
      "WITH c AS MATERIALIZED (SELECT path FROM ferry_listing_folders WHERE migration = $1 AND "
      "run = $2 AND NOT done AND path <> '' AND (lease_until IS NULL OR lease_until < "
      "clock_timestamp()) AND ($6::boolean OR NOT scanner_only) ORDER BY path LIMIT $5 FOR "
      "UPDATE SKIP LOCKED) UPDATE ferry_listing_folders f SET lister = $3, lease_until = "
      "clock_timestamp() + $4 * interval '1 second' FROM c WHERE f.migration = $1 AND f.run = $2 "
      "AND f.path = c.path RETURNING f.path, (SELECT e.inode FROM ferry_listing e WHERE "
      "e.migration = $1 AND e.run = $2 AND e.path = f.path AND e.kind = 'folder'), (SELECT "
      "e.mtime_ns FROM ferry_listing e WHERE e.migration = $1 AND e.run = $2 AND e.path = f.path "
      "AND e.kind = 'folder'), f.listed_to",
      {where_.migration, Int(run), lister_, Int(lease.count()), Int(max),
       std::string(scanner ? "true" : "false")});
  if (!r.ok()) return r.status();
  std::vector<FolderClaim> folders;
  for (int i = 0; i < r->rows(); ++i) {
    folders.push_back({r->Text(i, 0), r->IsNull(i, 1) ? 0 : uint64_t(r->Int(i, 1)),
                       r->IsNull(i, 2) ? 0 : r->Int(i, 2), r->Text(i, 3)});
  }
  std::sort(folders.begin(), folders.end(),
            [](const FolderClaim& a, const FolderClaim& b) { return a.path < b.path; });
  return folders;
}

Status PostgresCatalog::ReleaseFolders(int64_t run, const std::vector<std::string>& folders,
                                       bool to_scanner) {
  if (folders.empty()) return Status::Ok();
  std::vector<PgParam> paths(folders.begin(), folders.end());
  return db_
      ->Exec(
          "UPDATE ferry_listing_folders SET lease_until = NULL, lister = '', scanner_only = "
          "scanner_only OR $5::boolean WHERE migration = $1 AND run = $2 AND path = "
          "ANY($3::text[]) AND lister = $4 AND NOT done",
          {where_.migration, Int(run), PgArray(paths), lister_,
           std::string(to_scanner ? "true" : "false")})
      .status();
}

namespace {

// Rows of ferry_listing, gathered column by column and inserted a statement per
// kRowsPerStatement.
class ListingRows {
 public:
  // An entry, or (kind "unlisted") what could not be read and why.
  void Add(const storage::Entry& e, std::string_view kind, const std::string& error) {
    std::vector<PgParam> values{e.path,
                                std::string(kind),
                                Int(int64_t(e.size)),
                                Int(e.mtime_ns),
                                Int(e.ctime_ns),
                                Int(int64_t(e.inode)),
                                Int(int64_t(e.mode)),
                                Int(int64_t(e.uid)),
                                Int(int64_t(e.gid)),
                                e.link_target,
                                e.etag,
                                RedactSecrets(Utf8Length(error) ? error : Escaped(error))};
    for (size_t c = 0; c < columns_.size(); ++c) columns_[c].push_back(std::move(values[c]));
  }

  // REQUIRES: a transaction open on `db`.
  Status Insert(PgConnection& db, const std::string& migration, int64_t run) const {
    static const std::string insert_sql = [] {
      std::vector<std::string> names{"path", "kind", "size", "mtime_ns",    "ctime_ns", "inode",
                                     "mode", "uid",  "gid",  "link_target", "etag",     "error"};
      std::string values;
      for (size_t i = 0; i < names.size(); ++i) {
        bool text = i <= 1 || i >= 9;
        values += fmt::format(", v.{}{}", names[i], text ? "" : "::bigint");
      }
      return fmt::format(
          "INSERT INTO ferry_listing (migration, run, path, kind, size, mtime_ns, ctime_ns, "
          "inode, mode, uid, gid, link_target, etag, error) SELECT $1, $2{} FROM {}",
          values, Unnest(names, 3));
    }();
    const size_t rows = columns_[0].size();
    for (size_t from = 0; from < rows; from += kRowsPerStatement) {
      const size_t to = std::min(rows, from + kRowsPerStatement);
      std::vector<PgParam> params{migration, Int(run)};
      for (const std::vector<PgParam>& column : columns_) {
        params.push_back(
            PgArray(std::vector<PgParam>(column.begin() + long(from), column.begin() + long(to))));
      }
      FERRY_RETURN_IF_ERROR(db.Exec(insert_sql, params).status());
    }
    return Status::Ok();
  }

 private:
  std::vector<std::vector<PgParam>> columns_ = std::vector<std::vector<PgParam>>(12);
};

// PostgreSQL text is UTF-8: a name that is not cannot be kept, here as in the items.
Status AllUtf8(const std::vector<storage::Entry>& entries) {
  for (const storage::Entry& e : entries) {
    if (!Utf8Length(e.path) || !Utf8Length(e.link_target)) return NotUtf8(e.path);
  }
  return Status::Ok();
}

}  // namespace

Result<int> PostgresCatalog::RecordFolders(int64_t run, const std::vector<ListedFolder>& listed) {
  for (const ListedFolder& f : listed) {
    FERRY_RETURN_IF_ERROR(AllUtf8(f.entries));
    for (const auto& [path, why] : f.unlisted) {
      if (!Utf8Length(path)) return NotUtf8(path);
    }
  }
  FERRY_RETURN_IF_ERROR(db_->Run("BEGIN"));
  auto fail = [&](Status st) {
    (void)db_->Run("ROLLBACK");
    return st;
  };
  // The folders not recorded yet: a lister slow past its lease may find its folder listed by
  // whoever took it over (the first record counts; both listed the same folder).
  std::vector<PgParam> folders;
  for (const ListedFolder& f : listed) folders.push_back(f.folder);
  Result<PgResult> mine = db_->Exec(
      "UPDATE ferry_listing_folders SET done = true, lease_until = NULL WHERE migration = $1 AND "
      "run = $2 AND path = ANY($3::text[]) AND NOT done RETURNING path",
      {where_.migration, Int(run), PgArray(folders)});
  if (!mine.ok()) return fail(mine.status());
  std::set<std::string> kept;
  for (int i = 0; i < mine->rows(); ++i) kept.insert(mine->Text(i, 0));

  // Rows: the entries, then what could not be read (a folder as "dir/").
  ListingRows rows;
  std::vector<PgParam> subfolders, scanner_subfolders;
  auto unknown = [](std::string path) {
    storage::Entry e;
    e.path = std::move(path);
    return e;
  };
  for (const ListedFolder& f : listed) {
    if (!kept.contains(f.folder)) continue;
    for (const storage::Entry& e : f.entries) rows.Add(e, storage::KindName(e.kind), "");
    for (const auto& [path, why] : f.unlisted) rows.Add(unknown(path), "unlisted", why);
    if (!f.error.empty()) rows.Add(unknown(f.folder + "/"), "unlisted", f.error);
    subfolders.insert(subfolders.end(), f.subfolders.begin(), f.subfolders.end());
    scanner_subfolders.insert(scanner_subfolders.end(), f.scanner_subfolders.begin(),
                              f.scanner_subfolders.end());
  }
  Status inserted = rows.Insert(*db_, where_.migration, run);
  if (!inserted.ok()) return fail(inserted);
  for (auto [paths, scanner_only] : {std::pair{&subfolders, false}, {&scanner_subfolders, true}}) {
    if (paths->empty()) continue;
    Result<PgResult> queued = db_->Exec(
        "INSERT INTO ferry_listing_folders (migration, run, path, scanner_only) SELECT $1, $2, p, "
        "$4::boolean FROM unnest($3::text[]) AS p ON CONFLICT DO NOTHING",
        {where_.migration, Int(run), PgArray(*paths),
         std::string(scanner_only ? "true" : "false")});
    if (!queued.ok()) return fail(queued.status());
  }
  FERRY_RETURN_IF_ERROR(db_->Run("COMMIT"));
  return int(kept.size());
}

Result<bool> PostgresCatalog::RecordPart(int64_t run, const ListedPart& part,
                                         std::chrono::seconds lease) {
  if (lister_.empty()) return false;  // it never claimed a part
  FERRY_RETURN_IF_ERROR(AllUtf8(part.entries));
  if (!Utf8Length(part.listed_to)) return NotUtf8(part.listed_to);
  FERRY_RETURN_IF_ERROR(db_->Run("BEGIN"));
  auto fail = [&](Status st) {
    (void)db_->Run("ROLLBACK");
    return st;
  };
  // Still this process's (the row stays locked to the commit): a process that took the part
  // over goes on from what was recorded last, and nothing is recorded twice.
  Result<PgResult> mine = db_->Exec(
      "UPDATE ferry_listing_folders SET listed_to = $4, done = $5::boolean, lease_until = CASE "
      "WHEN $5::boolean THEN NULL ELSE clock_timestamp() + $6 * interval '1 second' END WHERE "
      "migration = $1 AND run = $2 AND path = $3 AND lister = $7 AND NOT done RETURNING path",
      {where_.migration, Int(run), part.prefix, part.listed_to,
       std::string(part.done ? "true" : "false"), Int(lease.count()), lister_});
  if (!mine.ok()) return fail(mine.status());
  if (mine->rows() == 0) {
    FERRY_RETURN_IF_ERROR(db_->Run("ROLLBACK"));
    return false;
  }
  ListingRows rows;
  for (const storage::Entry& e : part.entries) rows.Add(e, storage::KindName(e.kind), "");
  Status inserted = rows.Insert(*db_, where_.migration, run);
  if (!inserted.ok()) return fail(inserted);
  FERRY_RETURN_IF_ERROR(db_->Run("COMMIT"));
  return true;
}

Result<int64_t> PostgresCatalog::FoldersLeft(int64_t run) {
  Result<PgResult> r = db_->Exec(
      "SELECT count(*) FROM ferry_listing_folders WHERE migration = $1 AND run = $2 AND NOT done",
      {where_.migration, Int(run)});
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::unique_ptr<storage::Lister>> PostgresCatalog::ListedEntries(int64_t run) {
  Result<std::unique_ptr<PgConnection>> reader = PgConnection::Connect(where_.conninfo);
  if (!reader.ok()) return reader.status();
  auto rows = std::make_unique<PgRows<ListedRow>>(std::move(reader).value(), &ReadListed);
  FERRY_RETURN_IF_ERROR(rows->Open(
      "SELECT path, kind, size, mtime_ns, ctime_ns, inode, mode, uid, gid, link_target, etag, "
      "error FROM ferry_listing WHERE migration = $1 AND run = $2 ORDER BY path",
      {where_.migration, Int(run)}));
  return std::unique_ptr<storage::Lister>(new ListedLister(Cursor<ListedRow>(std::move(rows))));
}

Status PostgresCatalog::CloseListing(int64_t run) {
  const std::vector<PgParam> params{where_.migration, Int(run)};
  return AllOrNone(
      *db_, {{"DELETE FROM ferry_listing WHERE migration = $1 AND run = $2", params},
             {"DELETE FROM ferry_listing_folders WHERE migration = $1 AND run = $2", params}});
}

Status PostgresCatalog::OpenDriftCheck(int64_t run, const std::vector<std::string>& prefixes) {
  const std::vector<PgParam> paths(prefixes.begin(), prefixes.end());
  return AllOrNone(*db_,
                   {{"DELETE FROM ferry_drift_parts WHERE migration = $1", {where_.migration}},
                    {"INSERT INTO ferry_drift_parts (migration, run, prefix) SELECT $1, $2, "
                     "p FROM unnest($3::text[]) AS p ON CONFLICT DO NOTHING",
                     {where_.migration, Int(run), PgArray(paths)}}});
}

Result<int64_t> PostgresCatalog::OpenDriftCheckRun() {
  Result<PgResult> r = db_->Exec(
      fmt::format("SELECT coalesce(max(p.run), 0) FROM ferry_drift_parts p JOIN ferry_runs r ON "
                  "r.id = p.run AND r.migration = p.migration WHERE p.migration = $1 AND NOT "
                  "p.done AND r.outcome = 'running' AND {}",
                  kHeldAlone),
      {where_.migration});
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::optional<DriftPart>> PostgresCatalog::ClaimDriftPart(int64_t run,
                                                                 std::chrono::seconds lease) {
  if (lister_.empty()) lister_ = NewListerName();
  FERRY_RETURN_IF_ERROR(LimitIdleAsHelper());
  // Only while the sync is running in the process that holds the migration: a helper of a sync
  // that died changes nothing after it.
  Result<PgResult> r = db_->Exec(
      fmt::format("WITH c AS MATERIALIZED (SELECT prefix FROM ferry_drift_parts WHERE migration = "
                  "$1 AND run = $2 AND NOT done AND (lease_until IS NULL OR lease_until < "
                  "clock_timestamp()) AND {} ORDER BY prefix LIMIT 1 FOR UPDATE SKIP LOCKED) "
                  "UPDATE ferry_drift_parts p SET checker = $3, lease_until = clock_timestamp() + "
                  "$4 * interval '1 second' FROM c WHERE p.migration = $1 AND p.run = $2 AND "
                  "p.prefix = c.prefix RETURNING p.prefix, p.checked_to",
                  kSyncHoldsMigration),
      {where_.migration, Int(run), lister_, Int(lease.count())});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return std::optional<DriftPart>();
  return std::optional<DriftPart>(DriftPart{r->Text(0, 0), r->Text(0, 1)});
}

Result<bool> PostgresCatalog::HoldDriftPart(int64_t run, const std::string& prefix,
                                            const std::string& checked_to, int64_t changed,
                                            int64_t unexpected, bool done,
                                            std::chrono::seconds lease) {
  if (!in_transaction_) {
    return Status(Code::kInternal, "a drift part is held in the transaction that records it");
  }
  if (lister_.empty()) return false;  // it claimed nothing
  // The part's row stays locked until the commit: a claim skips it, so none takes it over
  // meanwhile. So does the sync's run (shared): a process that takes the migration over from a
  // sync that died marks its runs interrupted first, and so waits for this commit, which lands
  // before it begins.
  Result<PgResult> r = Query(
      fmt::format(
          "WITH sync AS MATERIALIZED (SELECT id FROM ferry_runs WHERE migration = $1 AND id = $2 "
          "AND outcome = 'running' FOR SHARE) UPDATE ferry_drift_parts SET checked_to = $4, "
          "changed = changed + $5, unexpected = unexpected + $6, done = $7::boolean, lease_until "
          "= CASE WHEN $7::boolean THEN NULL ELSE clock_timestamp() + $8 * interval '1 second' "
          "END WHERE migration = $1 AND run = $2 AND prefix = $3 AND checker = $9 AND NOT done "
          "AND EXISTS (SELECT 1 FROM sync) AND {} RETURNING 1",
          kSyncHoldsMigration),
      {where_.migration, Int(run), prefix, checked_to, Int(changed), Int(unexpected),
       std::string(done ? "true" : "false"), Int(lease.count()), lister_});
  if (!r.ok()) return r.status();
  return r->rows() == 1;
}

Status PostgresCatalog::ReleaseDriftPart(int64_t run, const std::string& prefix) {
  return db_
      ->Exec(
          "UPDATE ferry_drift_parts SET lease_until = NULL WHERE migration = $1 AND run = $2 AND "
          "prefix = $3 AND checker = $4 AND NOT done",
          {where_.migration, Int(run), prefix, lister_})
      .status();
}

Result<DriftTotals> PostgresCatalog::DriftCheckTotals(int64_t run) {
  Result<PgResult> r = db_->Exec(
      "SELECT count(*), count(*) FILTER (WHERE NOT done), coalesce(sum(changed), 0), "
      "coalesce(sum(unexpected), 0) FROM ferry_drift_parts WHERE migration = $1 AND run = $2",
      {where_.migration, Int(run)});
  if (!r.ok()) return r.status();
  return DriftTotals{r->Int(0, 0), r->Int(0, 1), r->Int(0, 2), r->Int(0, 3)};
}

Status PostgresCatalog::CloseDriftCheck(int64_t run) {
  return db_
      ->Exec("DELETE FROM ferry_drift_parts WHERE migration = $1 AND run = $2",
             {where_.migration, Int(run)})
      .status();
}

}  // namespace ferry::catalog
