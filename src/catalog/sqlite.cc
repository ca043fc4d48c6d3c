#include "catalog/sqlite.h"

#include <fmt/format.h>

#include "base/encoding.h"

namespace ferry::catalog {

Status SqliteError(sqlite3* db, std::string_view what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  int primary = code & 0xff;
  Code category = Code::kInternal;
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
      primary == SQLITE_READONLY || primary == SQLITE_PERM) {
    category = Code::kIo;
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    category = Code::kTransient;
  } else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    category = Code::kInvalidInput;
  }
  return Status(category,
                fmt::format("catalog: {}: {}", what, db ? sqlite3_errmsg(db) : "no database"));
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), int(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, "step");
}

Status Statement::Run() {
  Result<bool> r = Step();
  Reset();
  return r.status();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(static_cast<const char*>(data), size_t(size)) : std::string();
}

Database::~Database() { sqlite3_close_v2(db_); }

Status Database::OpenUnchanging(const std::string& path) {
  // immutable=1: no -wal or -shm file is made or looked for, so a folder nobody may write to
  // (an auditor's copy, a snapshot) is read as it is.
  std::string uri = "file:" + PercentEncode(path, "/") + "?immutable=1";
  int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "cannot open " + path);
  }
  return Status::Ok();
}

Status Database::Open(const std::string& path, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "cannot open " + path);
  }
  sqlite3_busy_timeout(db_, 10'000);
  // WAL: readers keep a stable snapshot while the writer commits; NORMAL sync keeps every
  // committed transaction across a process crash (kill -9), fsyncing at checkpoints.
  FERRY_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  FERRY_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  FERRY_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, fmt::format("prepare '{}'", sql.substr(0, 60)));
  }
  return Statement(db_, stmt);
}

Status Database::Exec(std::string_view sql) {
  std::string copy(sql);
  char* error = nullptr;
  if (sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    sqlite3_free(error);
    return SqliteError(db_, fmt::format("'{}'", sql.substr(0, 60)));
  }
  return Status::Ok();
}

}  // namespace ferry::catalog
