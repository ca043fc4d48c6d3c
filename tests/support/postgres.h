// A real PostgreSQL (Debian's) for tests: initdb into a temporary folder, started with pg_ctl on
// a free loopback port, stopped and removed after. As root it runs as the postgres user, since
// PostgreSQL refuses to run as root.
#pragma once

#include <memory>
#include <string>

#include "support/temp_dir.h"

namespace ferry::testing {

class Postgres {
 public:
  // Starts a fresh cluster; throws with its log if it does not come up.
  static std::unique_ptr<Postgres> Start();
  ~Postgres();
  // The one instance of this test binary (started on first use, stopped at exit).
  static Postgres& Global();

  int port() const { return port_; }
  // postgresql://ferry@127.0.0.1:PORT/DB (trust authentication: no password).
  std::string Url(const std::string& database = "postgres") const;
  // Creates a database and returns its URL.
  std::string NewDatabase(const std::string& hint);
  // Stops the server at once, as a crash or a lost network would look to its clients.
  void Kill();
  // Starts it again on the same port, with what it had committed.
  void Restart();

 private:
  Postgres() = default;
  std::string RunAsOwner(const std::string& command) const;
  // pg_ctl start on port_; throws on failure.
  void StartServer();
  TempDir dir_;
  std::string bin_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace ferry::testing
