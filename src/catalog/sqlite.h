// A thin RAII layer over SQLite: a connection and prepared statements. Errors are Status values.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ferry::catalog {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(db_, o.db_);
    std::swap(stmt_, o.stmt_);
    return *this;
  }

  // Binds parameters by position (1-based), for the next Step.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Runs one step: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion and resets, for statements that return no rows.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  Database() = default;
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens (or with `create`, creates) the database file in WAL mode.
  Status Open(const std::string& path, bool create);
  // Opens a database nobody writes while it is open, to read it (no -wal or -shm file needed).
  Status OpenUnchanging(const std::string& path);
  Result<Statement> Prepare(std::string_view sql);
  Status Exec(std::string_view sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// The Status for a failed SQLite call on `db` (disk full and I/O errors are Code::kIo).
Status SqliteError(sqlite3* db, std::string_view what);

}  // namespace ferry::catalog
