#include "catalog/postgres.h"

#include <fmt/format.h>

#include <cstdlib>

#include "base/encoding.h"
#include "base/text.h"

namespace ferry::catalog {

int64_t PgResult::Int(int row, int column) const {
  return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

std::string PgResult::Bytes(int row, int column) const {
  std::string text = Text(row, column);
  if (!text.starts_with("\\x") || text.size() % 2 != 0) return "";
  std::string bytes;
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    bytes.push_back(char(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

std::string PgBytes(std::string_view bytes) { return "\\x" + HexEncode(bytes); }

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Status(Code::kInternal, "libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    for (char& c : error) {
      if (c == '\n') c = ' ';
    }
    PQfinish(conn);
    return Status(Code::kInvalidInput,
                  fmt::format("cannot connect to PostgreSQL: {}", RedactSecrets(error)));
  }
  // md5s read back in the hex form PgResult::Bytes reads, whatever the database's default.
  PGresult* set = PQexec(conn, "SET bytea_output = 'hex'");
  bool hex = PQresultStatus(set) == PGRES_COMMAND_OK;
  PQclear(set);
  if (!hex) {
    PQfinish(conn);
    return Status(Code::kInternal, "cannot set bytea_output on the PostgreSQL connection");
  }
  // Quiet: NOTICEs (a table that already exists) are not the user's business.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::Lost() const { return PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::Failed(const PgResult& result, bool lost) const {
  std::string error = result.Error();
  if (error.empty()) error = PQerrorMessage(conn_);
  // One line: libpq's messages run over several, indented with tabs.
  std::string line;
  for (char c : error) {
    bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line.push_back(space ? ' ' : c);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (lost || Lost()) {
    return Status(Code::kTransient,
                  fmt::format("catalog: lost the connection to PostgreSQL ({}); what was "
                              "committed is kept: run the command again once the database is back",
                              RedactSecrets(line)));
  }
  return Status(Code::kInternal, fmt::format("catalog: {}", RedactSecrets(line)));
}

Status PgConnection::Queue(std::string_view sql, const std::vector<PgParam>& params) {
  if (!pipelined_) {
    if (PQenterPipelineMode(conn_) != 1) return Failed(PgResult(nullptr));
    pipelined_ = true;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  // Each statement is prepared once per connection: the server parses and plans it once, not
  // for every row.
  auto named = prepared_.find(std::string(sql));
  if (named == prepared_.end()) {
    std::string name = fmt::format("ferry_{}", ++statements_);
    if (PQsendPrepare(conn_, name.c_str(), std::string(sql).c_str(), int(values.size()), nullptr) !=
        1) {
      return Failed(PgResult(nullptr));
    }
    named = prepared_.emplace(std::string(sql), std::move(name)).first;
  }
  if (PQsendQueryPrepared(conn_, named->second.c_str(), int(values.size()), values.data(), nullptr,
                          nullptr, 0) != 1) {
    return Failed(PgResult(nullptr));
  }
  return Status::Ok();
}

Status PgConnection::QueueCommand(std::string_view sql) {
  if (!pipelined_) {
    if (PQenterPipelineMode(conn_) != 1) return Failed(PgResult(nullptr));
    pipelined_ = true;
  }
  std::string text(sql);
  if (PQsendQueryParams(conn_, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
    return Failed(PgResult(nullptr));
  }
  return Status::Ok();
}

Status PgConnection::Flush() { return Drain(nullptr); }

Status PgConnection::Drain(std::optional<PgResult>* last) {
  if (!pipelined_) return Status::Ok();
  Status first = Status::Ok();
  const bool synced = PQpipelineSync(conn_) == 1;
  if (!synced) first = Failed(PgResult(nullptr));
  // Every queued statement's answer, then the sync's; after an error the rest come back
  // PGRES_PIPELINE_ABORTED.
  bool after_end = false;  // the last answer was the end of a statement's answers
  bool stalled = false;    // the server stopped answering before the sync
  std::optional<PgResult> failed;
  while (true) {
    PGresult* raw = PQgetResult(conn_);
    if (raw == nullptr) {
      // Every statement answers at least once before its end: two ends in a row mean nothing
      // more is coming (a server that died mid-pipeline, before libpq marks the connection
      // bad), and no sync will either.
      if (Lost() || !synced || after_end) {
        stalled = synced && !Lost();
        break;
      }
      after_end = true;
      continue;
    }
    after_end = false;
    PgResult result(raw);
    ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) break;
    if (!failed && first.ok() && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      failed.emplace(std::move(result));
    } else if (last) {
      last->emplace(std::move(result));
    }
  }
  // A failed pipeline may have skipped a statement's preparation: prepare anew (under new names)
  // from here on.
  if (failed || stalled) prepared_.clear();
  if (failed) {
    first = Failed(*failed, stalled);
    if (failed->State() == "23505") first = Status(Code::kAlreadyExists, first.message());
  } else if (stalled && first.ok()) {
    first = Failed(PgResult(nullptr), /*lost=*/true);
  }
  if (PQexitPipelineMode(conn_) == 1 || Lost()) pipelined_ = false;
  if (first.ok() && Lost()) first = Failed(PgResult(nullptr));
  return first;
}

Result<PgResult> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  if (pipelined_) {
    // After the queued writes, in the same round trip: its answer is the pipeline's last.
    FERRY_RETURN_IF_ERROR(Queue(sql, params));
    std::optional<PgResult> last;
    FERRY_RETURN_IF_ERROR(Drain(&last));
    if (!last) return Failed(PgResult(nullptr), /*lost=*/true);
    return std::move(*last);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::string text(sql);
  PgResult result(PQexecParams(conn_, text.c_str(), int(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0));
  if (!result.ok()) {
    Status failed = Failed(result);
    if (result.State() == "23505") return Status(Code::kAlreadyExists, failed.message());
    return failed;
  }
  return result;
}

Status PgConnection::Run(std::string_view sql) {
  FERRY_RETURN_IF_ERROR(Flush());
  std::string text(sql);
  PgResult result(PQexec(conn_, text.c_str()));
  return result.ok() ? Status::Ok() : Failed(result);
}

}  // namespace ferry::catalog
