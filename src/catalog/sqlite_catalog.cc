#include "catalog/sqlite_catalog.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "base/text.h"

namespace ferry::catalog {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  mtime_ns INTEGER NOT NULL DEFAULT 0,
  mode INTEGER NOT NULL DEFAULT 0,
  uid INTEGER NOT NULL DEFAULT 0,
  gid INTEGER NOT NULL DEFAULT 0,
  link_target TEXT,
  md5 BLOB,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  cause TEXT NOT NULL DEFAULT '',
  target_etag TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_run INTEGER NOT NULL DEFAULT 0,
  verified_ns INTEGER NOT NULL DEFAULT 0,
  verify_result TEXT NOT NULL DEFAULT '',
  ctime_ns INTEGER NOT NULL DEFAULT 0,
  inode INTEGER NOT NULL DEFAULT 0,
  write_intent TEXT NOT NULL DEFAULT '',
  kept_blob INTEGER NOT NULL DEFAULT 0,
  source_etag TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT ''
);
CREATE INDEX items_by_state ON items (state);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  stage TEXT NOT NULL,
  started_ns INTEGER NOT NULL,
  ended_ns INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT 'running',
  files INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  summary TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  run INTEGER NOT NULL,
  time_ns INTEGER NOT NULL,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX events_by_path ON events (path);
CREATE TABLE trial_blobs (path TEXT PRIMARY KEY, prefix TEXT NOT NULL, etag TEXT NOT NULL);
)sql";

constexpr const char* kItemColumns =
    "id, path, kind, size, mtime_ns, mode, uid, gid, link_target, md5, state, reason, cause, "
    "target_etag, attempts, last_run, verified_ns, verify_result, ctime_ns, inode, write_intent, "
    "kept_blob, source_etag, content_type";

// Schema 1 to 2: the change time and inode of each item.
constexpr const char* kUpgradeTo2 = R"sql(
ALTER TABLE items ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN inode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN write_intent TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN kept_blob INTEGER NOT NULL DEFAULT 0;
CREATE TABLE trial_blobs (path TEXT PRIMARY KEY, prefix TEXT NOT NULL, etag TEXT NOT NULL);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

// Schema 2 to 3: an object source's version tag and Content-Type for each item.
constexpr const char* kUpgradeTo3 = R"sql(
ALTER TABLE items ADD COLUMN source_etag TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
UPDATE meta SET value = '3' WHERE key = 'schema_version';
)sql";

void ReadItem(const Statement& s, Item& item) {
  item.id = s.Int(0);
  item.path = s.Text(1);
  item.kind = KindFromName(s.Text(2)).value_or(storage::Kind::kFile);
  item.size = uint64_t(s.Int(3));
  item.mtime_ns = s.Int(4);
  item.mode = uint32_t(s.Int(5));
  item.uid = uint32_t(s.Int(6));
  item.gid = uint32_t(s.Int(7));
  item.link_target = s.Text(8);
  item.md5.reset();
  if (std::string md5 = s.Text(9); md5.size() == 16) {
    Md5Digest d;
    std::memcpy(d.data(), md5.data(), 16);
    item.md5 = d;
  }
  item.state = StateFromName(s.Text(10)).value_or(ItemState::kPending);
  item.reason = s.Text(11);
  item.cause = s.Text(12);
  item.target_etag = s.Text(13);
  item.attempts = int(s.Int(14));
  item.last_run = s.Int(15);
  item.verified_ns = s.Int(16);
  item.verify_result = s.Text(17);
  item.ctime_ns = s.Int(18);
  item.inode = uint64_t(s.Int(19));
  item.write_intent = s.Text(20);
  item.kept_blob = s.Int(21) != 0;
  item.source_etag = s.Text(22);
  item.content_type = s.Text(23);
}

// Binds every column after the path, starting at parameter `first`.
void BindItemFields(Statement& s, const Item& item, int first) {
  s.Bind(first, storage::KindName(item.kind));
  s.Bind(first + 1, int64_t(item.size));
  s.Bind(first + 2, item.mtime_ns);
  s.Bind(first + 3, int64_t(item.mode));
  s.Bind(first + 4, int64_t(item.uid));
  s.Bind(first + 5, int64_t(item.gid));
  s.Bind(first + 6, item.link_target);
  if (item.md5) {
    s.BindBlob(first + 7, DigestBytes(*item.md5));
  } else {
    s.BindNull(first + 7);
  }
  s.Bind(first + 8, StateName(item.state));
  s.Bind(first + 9, RedactSecrets(item.reason));
  s.Bind(first + 10, item.cause);
  s.Bind(first + 11, item.target_etag);
  s.Bind(first + 12, int64_t(item.attempts));
  s.Bind(first + 13, item.last_run);
  s.Bind(first + 14, item.verified_ns);
  s.Bind(first + 15, item.verify_result);
  s.Bind(first + 16, item.ctime_ns);
  s.Bind(first + 17, int64_t(item.inode));
  s.Bind(first + 18, item.write_intent);
  s.Bind(first + 19, int64_t(item.kept_blob));
  s.Bind(first + 20, item.source_etag);
  s.Bind(first + 21, item.content_type);
}

// Takes the migration's lock, or explains who holds it.
Result<int> TakeLock(const std::string& dir) {
  std::string path = dir + "/" + kLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(Code::kIo, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    std::string who = n > 0 ? fmt::format(" (pid {})", std::string(pid, size_t(n))) : "";
    return InvalidInput(
        fmt::format("another ferry process{} is working on the migration in {}; wait "
                    "for it to finish",
                    who, dir));
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a courtesy for the message above; the lock itself is held.
  }
  return fd;
}

bool IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  }
  ::closedir(d);
  return empty;
}

class SqliteItems final : public ItemCursor::Source {
 public:
  SqliteItems(std::unique_ptr<Database> db, Statement stmt)
      : db_(std::move(db)), stmt_(std::move(stmt)) {}
  Result<bool> Next(Item& item) override {
    Result<bool> row = stmt_.Step();
    if (row.ok() && *row) ReadItem(stmt_, item);
    return row;
  }

 private:
  std::unique_ptr<Database> db_;  // a reader of its own: its snapshot lasts while it reads
  Statement stmt_;
};

class SqliteEvents final : public EventCursor::Source {
 public:
  SqliteEvents(std::unique_ptr<Database> db, Statement stmt)
      : db_(std::move(db)), stmt_(std::move(stmt)) {}
  Result<bool> Next(Event& e) override {
    Result<bool> row = stmt_.Step();
    if (row.ok() && *row) {
      e.id = stmt_.Int(0);
      e.run = stmt_.Int(1);
      e.time_ns = stmt_.Int(2);
      e.path = stmt_.Text(3);
      e.kind = stmt_.Text(4);
      e.detail_json = stmt_.Text(5);
      e.prev_hash = stmt_.Text(6);
      e.hash = stmt_.Text(7);
    }
    return row;
  }

 private:
  std::unique_ptr<Database> db_;
  Statement stmt_;
};

}  // namespace

SqliteCatalog::~SqliteCatalog() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Catalog>> SqliteCatalog::Create(const std::string& dir,
                                                       const Config& config) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (::access((dir + "/" + kCatalogFile).c_str(), F_OK) == 0) {
      return InvalidInput(
          fmt::format("{} is already a migration; use another folder, or run "
                      "'ferry status {}'",
                      dir, dir));
    }
    if (!S_ISDIR(st.st_mode) || !IsEmptyDir(dir)) {
      return InvalidInput(
          fmt::format("{} exists and is not an empty folder; give a new folder", dir));
    }
  } else if (::mkdir(dir.c_str(), 0755) != 0) {
    return Status(Code::kIo, fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  std::unique_ptr<SqliteCatalog> catalog(new SqliteCatalog());
  catalog->location_ = dir;
  Result<int> lock = TakeLock(dir);
  if (!lock.ok()) return lock.status();
  catalog->lock_fd_ = *lock;
  FERRY_RETURN_IF_ERROR(catalog->db_.Open(dir + "/" + kCatalogFile, /*create=*/true));
  FERRY_RETURN_IF_ERROR(catalog->db_.Exec("BEGIN"));
  FERRY_RETURN_IF_ERROR(catalog->db_.Exec(kSchema));
  catalog->config_ = config;
  if (catalog->config_.id.empty()) catalog->config_.id = NewMigrationId();
  FERRY_RETURN_IF_ERROR(catalog->SetMeta("schema_version", std::to_string(kSchemaVersion)));
  FERRY_RETURN_IF_ERROR(catalog->SetMeta("config", ConfigText(catalog->config_)));
  FERRY_RETURN_IF_ERROR(catalog->SetMeta("created_ns", std::to_string(NowUnixNs())));
  FERRY_RETURN_IF_ERROR(catalog->db_.Exec("COMMIT"));
  FERRY_RETURN_IF_ERROR(catalog->Prepare());
  return std::unique_ptr<Catalog>(std::move(catalog));
}

Result<std::unique_ptr<Catalog>> SqliteCatalog::Open(const std::string& dir, bool lock) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidInput(
        fmt::format("{} does not exist: create a migration with 'ferry init {} "
                    "--source ... --target ...'",
                    dir, dir));
  }
  std::string db_path = dir + "/" + kCatalogFile;
  if (::access(db_path.c_str(), F_OK) != 0) {
    return InvalidInput(
        fmt::format("{} is not a ferry migration (it has no {})", dir, kCatalogFile));
  }
  std::unique_ptr<SqliteCatalog> catalog(new SqliteCatalog());
  catalog->location_ = dir;
  if (lock) {
    Result<int> fd = TakeLock(dir);
    if (!fd.ok()) return fd.status();
    catalog->lock_fd_ = *fd;
  }
  // To read a folder this process may not write to (an auditor's copy, a snapshot): as it is.
  // Only someone else who may write there could be changing it meanwhile; reads may then mix
  // moments, as they cannot in a folder this process may write to.
  catalog->unchanging_ = !lock && ::access(dir.c_str(), W_OK) != 0;
  FERRY_RETURN_IF_ERROR(catalog->unchanging_ ? catalog->db_.OpenUnchanging(db_path)
                                             : catalog->db_.Open(db_path, /*create=*/false));
  FERRY_RETURN_IF_ERROR(catalog->Upgrade(db_path));
  FERRY_RETURN_IF_ERROR(catalog->LoadConfig());
  if (lock && catalog->config_.id.empty()) {  // made by a ferry that gave migrations no id
    catalog->config_.id = NewMigrationId();
    FERRY_RETURN_IF_ERROR(catalog->SetMeta("config", ConfigText(catalog->config_)));
  }
  // With the lock held, a run still marked running was cut short by a crash.
  if (lock) {
    FERRY_RETURN_IF_ERROR(
        catalog->db_.Exec("UPDATE runs SET outcome = 'interrupted' WHERE outcome = 'running'"));
  }
  FERRY_RETURN_IF_ERROR(catalog->Prepare());
  return std::unique_ptr<Catalog>(std::move(catalog));
}

// Refuses a catalog this ferry cannot read; brings an older one up to kSchemaVersion.
Status SqliteCatalog::Upgrade(const std::string& db_path) {
  Result<std::string> version = GetMeta("schema_version");
  if (!version.ok()) {
    return InvalidInput(
        fmt::format("{} is not a ferry catalog ({})", db_path, version.status().message()));
  }
  int v = std::atoi(version->c_str());
  if (v > kSchemaVersion) {
    return InvalidInput(
        fmt::format("this migration was written by a newer ferry (catalog schema {}; "
                    "this ferry reads up to {}): upgrade ferry",
                    v, kSchemaVersion));
  }
  if (v < 1)
    return InvalidInput(fmt::format("{} has an unknown catalog schema '{}'", db_path, *version));
  for (auto [from, upgrade] : {std::pair{1, kUpgradeTo2}, std::pair{2, kUpgradeTo3}}) {
    if (v > from) continue;
    if (unchanging_) {
      return InvalidInput(fmt::format(
          "{} is from an older ferry and its folder cannot be written to: run 'ferry status' once "
          "where it can, to bring it up to date",
          db_path));
    }
    FERRY_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
    Status upgraded = db_.Exec(upgrade);
    if (!upgraded.ok()) {
      (void)db_.Exec("ROLLBACK");
      return upgraded;
    }
    FERRY_RETURN_IF_ERROR(db_.Exec("COMMIT"));
  }
  return Status::Ok();
}

Status SqliteCatalog::LoadConfig() {
  Result<std::string> text = GetMeta("config");
  if (!text.ok()) return text.status();
  Result<Config> config = ConfigFromText(*text);
  if (!config.ok()) return config.status();
  config_ = std::move(config).value();
  return Status::Ok();
}

Status SqliteCatalog::Prepare() {
  auto insert = db_.Prepare(fmt::format(
      "INSERT INTO items (path, kind, size, mtime_ns, mode, uid, gid, link_target, md5, state, "
      "reason, cause, target_etag, attempts, last_run, verified_ns, verify_result, ctime_ns, "
      "inode, write_intent, kept_blob, source_etag, content_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
      "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"));
  if (!insert.ok()) return insert.status();
  insert_item_ = std::move(insert).value();
  auto update = db_.Prepare(
      "UPDATE items SET kind = ?2, size = ?3, mtime_ns = ?4, mode = ?5, uid = ?6, gid = ?7, "
      "link_target = ?8, md5 = ?9, state = ?10, reason = ?11, cause = ?12, target_etag = ?13, "
      "attempts = ?14, last_run = ?15, verified_ns = ?16, verify_result = ?17, ctime_ns = ?18, "
      "inode = ?19, write_intent = ?20, kept_blob = ?21, source_etag = ?22, content_type = ?23 "
      "WHERE id = ?1");
  if (!update.ok()) return update.status();
  update_item_ = std::move(update).value();
  auto event = db_.Prepare(
      "INSERT INTO events (run, time_ns, path, kind, detail, prev_hash, hash) VALUES "
      "(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!event.ok()) return event.status();
  insert_event_ = std::move(event).value();
  auto last = db_.Prepare("SELECT hash FROM events ORDER BY id DESC LIMIT 1");
  if (!last.ok()) return last.status();
  Result<bool> row = last->Step();
  if (!row.ok()) return row.status();
  last_event_hash_ = *row ? last->Text(0) : std::string(64, '0');
  return Status::Ok();
}

Result<int64_t> SqliteCatalog::CreatedNs() {
  Result<std::string> text = GetMeta("created_ns");
  if (!text.ok()) return text.status();
  return int64_t(std::strtoll(text->c_str(), nullptr, 10));
}

Result<std::string> SqliteCatalog::GetMeta(const std::string& key) {
  auto stmt = db_.Prepare("SELECT value FROM meta WHERE key = ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, key);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(Code::kNotFound, fmt::format("no '{}' in the catalog", key));
  return stmt->Text(0);
}

Status SqliteCatalog::SetMeta(const std::string& key, const std::string& value) {
  auto stmt = db_.Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, key).Bind(2, value);
  return stmt->Run();
}

Result<int64_t> SqliteCatalog::BeginRun(Stage stage) {
  auto stmt = db_.Prepare("INSERT INTO runs (stage, started_ns) VALUES (?1, ?2)");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, Name(stage)).Bind(2, NowUnixNs());
  FERRY_RETURN_IF_ERROR(stmt->Run());
  int64_t run = db_.LastInsertId();
  FERRY_RETURN_IF_ERROR(AnnotateRun(run));
  return run;
}

Status SqliteCatalog::EndRun(const Run& run) {
  auto stmt = db_.Prepare(
      "UPDATE runs SET ended_ns = ?2, outcome = ?3, files = ?4, bytes = ?5, failed = ?6, "
      "summary = ?7 WHERE id = ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, run.id).Bind(2, NowUnixNs()).Bind(3, run.outcome).Bind(4, run.files);
  stmt->Bind(5, run.bytes).Bind(6, run.failed).Bind(7, RedactSecrets(run.summary_json));
  return stmt->Run();
}

Result<std::vector<Run>> SqliteCatalog::Runs() {
  auto stmt = db_.Prepare(
      "SELECT id, stage, started_ns, ended_ns, outcome, files, bytes, failed, summary FROM runs "
      "ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  std::vector<Run> runs;
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    runs.push_back(Run{stmt->Int(0), stmt->Text(1), stmt->Int(2), stmt->Int(3), stmt->Text(4),
                       stmt->Int(5), stmt->Int(6), stmt->Int(7), stmt->Text(8)});
  }
  return runs;
}

Result<std::unique_ptr<Database>> SqliteCatalog::OpenReader() {
  auto db = std::make_unique<Database>();
  const std::string path = location_ + "/" + kCatalogFile;
  FERRY_RETURN_IF_ERROR(unchanging_ ? db->OpenUnchanging(path) : db->Open(path, /*create=*/false));
  return db;
}

Result<ItemCursor> SqliteCatalog::Items(const std::vector<ItemState>& states) {
  Result<std::unique_ptr<Database>> reader = OpenReader();
  if (!reader.ok()) return reader.status();
  std::string sql = fmt::format("SELECT {} FROM items", kItemColumns);
  if (!states.empty()) {
    sql += " WHERE state IN (";
    for (size_t i = 0; i < states.size(); ++i) {
      sql += fmt::format("{}'{}'", i ? ", " : "", StateName(states[i]));
    }
    sql += ")";
  }
  sql += " ORDER BY path";
  Result<Statement> stmt = (*reader)->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return ItemCursor(
      std::make_unique<SqliteItems>(std::move(reader).value(), std::move(stmt).value()));
}

Result<ItemCursor> SqliteCatalog::ItemsBetween(const std::string& from, const std::string& before) {
  Result<std::unique_ptr<Database>> reader = OpenReader();
  if (!reader.ok()) return reader.status();
  Result<Statement> stmt = (*reader)->Prepare(
      fmt::format("SELECT {} FROM items WHERE path >= ?1 AND (?2 = '' OR path < ?2) ORDER BY path",
                  kItemColumns));
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, from);
  stmt->Bind(2, before);
  return ItemCursor(
      std::make_unique<SqliteItems>(std::move(reader).value(), std::move(stmt).value()));
}

Result<std::optional<Item>> SqliteCatalog::FindItem(std::string_view path) {
  auto stmt = db_.Prepare(fmt::format("SELECT {} FROM items WHERE path = ?1", kItemColumns));
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, path);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Item>();
  Item item;
  ReadItem(*stmt, item);
  return std::optional<Item>(std::move(item));
}

Result<bool> SqliteCatalog::HasDescendants(std::string_view folder) {
  // Paths under "a" lie in ["a/", "a0"): '0' is the byte after '/'.
  auto stmt = db_.Prepare("SELECT 1 FROM items WHERE path >= ?1 AND path < ?2 LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, std::string(folder) + "/").Bind(2, std::string(folder) + "0");
  return stmt->Step();
}

Result<std::vector<StateTotals>> SqliteCatalog::Totals() {
  auto stmt = db_.Prepare(
      "SELECT state, kind, count(*), coalesce(sum(size), 0) FROM items GROUP BY state, kind");
  if (!stmt.ok()) return stmt.status();
  std::vector<std::tuple<std::string, std::string, int64_t, int64_t>> rows;
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.emplace_back(stmt->Text(0), stmt->Text(1), stmt->Int(2), stmt->Int(3));
  }
  return GroupTotals(rows);
}

Result<int64_t> SqliteCatalog::CountItems(ItemState state, std::optional<std::string_view> cause) {
  auto stmt = db_.Prepare(cause ? "SELECT count(*) FROM items WHERE state = ?1 AND cause = ?2"
                                : "SELECT count(*) FROM items WHERE state = ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, StateName(state));
  if (cause) stmt->Bind(2, *cause);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->Int(0) : 0;
}

Result<std::vector<Catalog::ErrorGroup>> SqliteCatalog::ErrorGroups(int examples_per_group) {
  auto groups = db_.Prepare(
      "SELECT state, cause, count(*), sum(size) FROM items WHERE state IN ('failed', 'conflict', "
      "'skipped') GROUP BY state, cause ORDER BY count(*) DESC, cause");
  if (!groups.ok()) return groups.status();
  auto examples = db_.Prepare(
      "SELECT path, reason FROM items WHERE state = ?1 AND cause = ?2 ORDER BY path LIMIT ?3");
  if (!examples.ok()) return examples.status();
  std::vector<ErrorGroup> out;
  while (true) {
    Result<bool> row = groups->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ErrorGroup g{StateFromName(groups->Text(0)).value_or(ItemState::kFailed),
                 groups->Text(1),
                 groups->Int(2),
                 groups->Int(3),
                 {}};
    examples->Bind(1, StateName(g.state)).Bind(2, g.cause).Bind(3, int64_t(examples_per_group));
    while (true) {
      Result<bool> ex = examples->Step();
      if (!ex.ok()) return ex.status();
      if (!*ex) break;
      g.examples.emplace_back(examples->Text(0), examples->Text(1));
    }
    examples->Reset();
    out.push_back(std::move(g));
  }
  return out;
}

Status SqliteCatalog::RecordTrialBlob(const TrialBlob& blob) {
  auto stmt =
      db_.Prepare("INSERT OR REPLACE INTO trial_blobs (path, prefix, etag) VALUES (?1, ?2, ?3)");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, blob.path).Bind(2, blob.prefix).Bind(3, blob.etag);
  return stmt->Run();
}

Status SqliteCatalog::ForgetTrialBlob(std::string_view path) {
  auto stmt = db_.Prepare("DELETE FROM trial_blobs WHERE path = ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, path);
  return stmt->Run();
}

Result<std::vector<TrialBlob>> SqliteCatalog::TrialBlobs(std::optional<std::string_view> prefix) {
  auto stmt = db_.Prepare(prefix ? "SELECT path, prefix, etag FROM trial_blobs WHERE prefix = ?1 "
                                   "ORDER BY path"
                                 : "SELECT path, prefix, etag FROM trial_blobs ORDER BY path");
  if (!stmt.ok()) return stmt.status();
  if (prefix) stmt->Bind(1, *prefix);
  std::vector<TrialBlob> blobs;
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    blobs.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2)});
  }
  return blobs;
}

Status SqliteCatalog::BeginTransaction() { return db_.Exec("BEGIN IMMEDIATE"); }
Status SqliteCatalog::CommitTransaction() { return db_.Exec("COMMIT"); }
Status SqliteCatalog::RollbackTransaction() { return db_.Exec("ROLLBACK"); }

Status SqliteCatalog::InsertItem(Item& item) {
  insert_item_.Bind(1, item.path);
  BindItemFields(insert_item_, item, 2);
  FERRY_RETURN_IF_ERROR(insert_item_.Run());
  item.id = db_.LastInsertId();
  return Status::Ok();
}

Status SqliteCatalog::UpdateItem(const Item& item) {
  update_item_.Bind(1, item.id);
  BindItemFields(update_item_, item, 2);
  return update_item_.Run();
}

Status SqliteCatalog::AppendEvent(int64_t run, std::string_view path, std::string_view kind,
                                  std::string_view detail) {
  // An error quoting a URL must not carry its signature into the log for good.
  const std::string detail_json = RedactSecrets(detail);
  int64_t now = NowUnixNs();
  std::string hash = EventHash(last_event_hash_, run, now, path, kind, detail_json);
  insert_event_.Bind(1, run).Bind(2, now).Bind(3, path).Bind(4, kind).Bind(5, detail_json);
  insert_event_.Bind(6, last_event_hash_).Bind(7, hash);
  FERRY_RETURN_IF_ERROR(insert_event_.Run());
  last_event_hash_ = hash;
  return Status::Ok();
}

Result<EventCursor> SqliteCatalog::Events(const EventFilter& filter) {
  Result<std::unique_ptr<Database>> reader = OpenReader();
  if (!reader.ok()) return reader.status();
  std::string sql =
      "SELECT id, run, time_ns, path, kind, detail, prev_hash, hash FROM events WHERE 1 = 1";
  if (filter.run) sql += fmt::format(" AND run = {}", filter.run);
  if (filter.since_ns) sql += fmt::format(" AND time_ns >= {}", filter.since_ns);
  sql += " ORDER BY id";
  Result<Statement> stmt = (*reader)->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return EventCursor(
      std::make_unique<SqliteEvents>(std::move(reader).value(), std::move(stmt).value()));
}

}  // namespace ferry::catalog
