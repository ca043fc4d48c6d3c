#include "support/postgres.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "support/process.h"

namespace ferry::testing {

namespace {

// Debian's server binaries: /usr/lib/postgresql/VERSION/bin, the newest.
std::string ServerBin() {
  glob_t found{};
  std::string bin;
  if (::glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, nullptr, &found) == 0 && found.gl_pathc) {
    bin = found.gl_pathv[found.gl_pathc - 1];
    bin.resize(bin.size() - std::string("/pg_ctl").size());
  }
  ::globfree(&found);
  if (bin.empty()) throw std::runtime_error("no PostgreSQL server: run scripts/setup.sh");
  return bin;
}

}  // namespace

std::string Postgres::RunAsOwner(const std::string& command) const {
  std::vector<std::string> argv =
      ::geteuid() == 0
          ? std::vector<std::string>{"runuser", "-u", "postgres", "--", "sh", "-c", command}
          : std::vector<std::string>{"sh", "-c", command};
  ProcessOptions options;
  options.cwd = dir_.path();  // initdb and pg_ctl step back into the working folder: theirs
  ProcessResult r = RunProcess(argv, options);
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format("'{}' failed: {}{}", command, r.out, r.err));
  }
  return r.out;
}

std::unique_ptr<Postgres> Postgres::Start() {
  std::unique_ptr<Postgres> pg(new Postgres());
  pg->bin_ = ServerBin();
  if (::geteuid() == 0) {
    struct passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr) throw std::runtime_error("no postgres user: run scripts/setup.sh");
    if (::chown(pg->dir_.path().c_str(), owner->pw_uid, owner->pw_gid) != 0) {
      throw std::runtime_error("cannot hand the data folder to postgres");
    }
  }
  const std::string data = pg->dir_.Sub("data");
  pg->RunAsOwner(
      fmt::format("{}/initdb -D {} -A trust -U ferry -E UTF8 --locale=C --no-sync "
                  ">/dev/null",
                  pg->bin_, data));
  for (int attempt = 0; attempt < 5 && !pg->running_; ++attempt) {
    pg->port_ = FreeLoopbackPort();
    try {
      pg->StartServer();
    } catch (const std::exception&) {
      if (attempt == 4) {
        throw std::runtime_error("PostgreSQL did not start: " + ReadFile(pg->dir_.Sub("log")));
      }
    }
  }
  return pg;
}

void Postgres::StartServer() {
  RunAsOwner(fmt::format(
      "{}/pg_ctl -D {} -l {}/log -w -t 60 -o \"-p {} -k {} -c listen_addresses=127.0.0.1 "
      "-c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start >/dev/null",
      bin_, dir_.Sub("data"), dir_.path(), port_, dir_.path()));
  running_ = true;
  // A watchdog stops the server once this process is gone: a test binary killed (a ctest
  // timeout, kill -9) would otherwise leave it running. It runs as this process's user, which
  // sees its /proc entry whatever /proc's hidepid; in a session of its own, so that a signal to
  // the test's process group does not end it too.
  const std::string stop =
      fmt::format("{}{}/pg_ctl -D {} -m immediate stop",
                  ::geteuid() == 0 ? "runuser -u postgres -- " : "", bin_, dir_.Sub("data"));
  ProcessOptions options;
  options.cwd = dir_.path();  // pg_ctl steps back into the working folder: the owner's
  ProcessResult watchdog = RunProcess(
      {"sh", "-c",
       fmt::format("setsid sh -c 'while [ -d /proc/{} ]; do sleep 1; done; {}' >/dev/null 2>&1 "
                   "</dev/null &",
                   ::getpid(), stop)},
      options);
  if (watchdog.exit_code != 0) throw std::runtime_error("cannot start the server's watchdog");
}

void Postgres::Restart() {
  if (!running_) StartServer();
}

Postgres::~Postgres() {
  if (!running_) return;
  try {
    RunAsOwner(fmt::format("{}/pg_ctl -D {} -m immediate stop >/dev/null", bin_, dir_.Sub("data")));
  } catch (const std::exception&) {
  }
}

void Postgres::Kill() {
  if (!running_) return;
  RunAsOwner(fmt::format("{}/pg_ctl -D {} -m immediate stop >/dev/null", bin_, dir_.Sub("data")));
  running_ = false;
}

Postgres& Postgres::Global() {
  static std::unique_ptr<Postgres> global = Start();
  return *global;
}

std::string Postgres::Url(const std::string& database) const {
  return fmt::format("postgresql://ferry@127.0.0.1:{}/{}", port_, database);
}

std::string Postgres::NewDatabase(const std::string& hint) {
  static int n = 0;
  std::string name = fmt::format("{}_{}_{}", hint, ::getpid(), ++n);
  RunAsOwner(
      fmt::format("{}/psql -q -h 127.0.0.1 -p {} -U ferry -d postgres -c "
                  "'CREATE DATABASE {}' >/dev/null",
                  bin_, port_, name));
  return Url(name);
}

}  // namespace ferry::testing
