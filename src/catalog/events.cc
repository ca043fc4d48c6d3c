// The catalog's event log: reading it back, and checking its hash chain.
#include <fmt/format.h>

#include "catalog/catalog.h"

namespace ferry::catalog {

std::string EventHash(std::string_view prev_hash, int64_t run, int64_t time_ns,
                      std::string_view path, std::string_view kind, std::string_view detail) {
  std::string content =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}", prev_hash, run, time_ns, path, kind, detail);
  return HexEncode(Sha256(content));
}

Result<bool> EventCursor::Next(Event& e) {
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

Result<EventCursor> Catalog::Events(const EventFilter& filter) {
  Result<std::unique_ptr<Database>> reader = OpenReader();
  if (!reader.ok()) return reader.status();
  std::string sql =
      "SELECT id, run, time_ns, path, kind, detail, prev_hash, hash FROM events WHERE 1 = 1";
  if (filter.run) sql += fmt::format(" AND run = {}", filter.run);
  if (filter.since_ns) sql += fmt::format(" AND time_ns >= {}", filter.since_ns);
  sql += " ORDER BY id";
  Result<Statement> stmt = (*reader)->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return EventCursor(std::move(reader).value(), std::move(stmt).value());
}

Result<ChainCheck> Catalog::CheckChain() {
  Result<EventCursor> cursor = Events();
  if (!cursor.ok()) return cursor.status();
  ChainCheck check;
  std::string previous(64, '0');
  Event e;
  while (true) {
    Result<bool> more = cursor->Next(e);
    if (!more.ok()) return more.status();
    if (!*more) break;
    ++check.events;
    std::string problem;
    if (e.prev_hash != previous) {
      problem = "it does not follow the event before it (an event was deleted or its hash edited)";
    } else if (EventHash(e.prev_hash, e.run, e.time_ns, e.path, e.kind, e.detail_json) != e.hash) {
      problem = "its content does not match its hash (the row was edited)";
    }
    if (!problem.empty()) {
      check.intact = false;
      check.first_bad_id = e.id;
      check.problem = problem;
      return check;
    }
    previous = e.hash;
  }
  check.head_hash = previous;
  return check;
}

}  // namespace ferry::catalog
