// A small layer over libpq: a connection, statements with text parameters, and their rows.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace ferry::catalog {

// The rows of one statement's answer, read as text.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool ok() const {
    ExecStatusType status = PQresultStatus(result_.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }
  // The SQLSTATE of a failed statement ("23505" for a unique violation), or "".
  std::string State() const {
    const char* state = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
    return state ? state : "";
  }
  std::string Error() const { return PQresultErrorMessage(result_.get()); }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string Text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       size_t(PQgetlength(result_.get(), row, column)));
  }
  int64_t Int(int row, int column) const;
  // A bytea column (hex output), as bytes.
  std::string Bytes(int row, int column) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// A parameter: text, or SQL NULL.
using PgParam = std::optional<std::string>;

class PgConnection {
 public:
  // Connects with a libpq connection string or URI (libpq reads PGPASSWORD, ~/.pgpass and
  // sslmode as usual). Code::kInvalidInput naming the server on failure; no password is quoted.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo);
  ~PgConnection();

  // Runs `sql` with $1.. bound to `params` (after the queued writes, in their round trip).
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {});
  // Sends a write whose answer nobody waits for (libpq's pipeline mode): many go out back to
  // back instead of one round trip each. The first error among them is returned by the next
  // Exec, Run or Flush, which wait for them all.
  Status Queue(std::string_view sql, const std::vector<PgParam>& params);
  // Queues a statement without parameters that is not to be prepared (COMMIT).
  Status QueueCommand(std::string_view sql);
  // Waits for every queued write; the first error among them, if any.
  Status Flush();
  // Runs statements without parameters (may be several, separated by ';').
  Status Run(std::string_view sql);
  // Whether the connection was lost (the server stopped, the network dropped).
  bool Lost() const;
  // Whether the open transaction failed (a statement in it was refused): it can only roll back.
  bool InFailedTransaction() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  // The error of `result` (or of the connection), as one line; `lost` says the connection is
  // known lost even if libpq has not marked it so yet.
  Status Failed(const PgResult& result, bool lost = false) const;
  // Flush, keeping the last statement's answer in `last` when given.
  Status Drain(std::optional<PgResult>* last);
  PGconn* conn_;
  bool pipelined_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // a queued statement's text: its name
  int64_t statements_ = 0;                                 // names made so far
};

// A bytea literal for a parameter ("\x0a1b...").
std::string PgBytes(std::string_view bytes);

}  // namespace ferry::catalog
