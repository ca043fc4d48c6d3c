#include "migration/hooks.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "base/text.h"

extern char** environ;

namespace ferry::migration {

namespace {

constexpr size_t kOutputKept = 16 * 1024;

std::string ErrnoText(int error) { return std::strerror(error); }

// The process's environment with `extra` set over it, as "NAME=value" strings.
std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    if (!extra.contains(name)) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

}  // namespace

std::string RedactCredentials(std::string_view text) {
  static constexpr const char* kSecrets[] = {
      "AZURE_STORAGE_KEY",       "AZURE_STORAGE_CONNECTION_STRING",
      "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
      "FERRY_SOURCE_KEY",        "FERRY_SOURCE_CONNECTION_STRING",
      "FERRY_SOURCE_SAS_TOKEN",  "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",       "PGPASSWORD"};
  std::string out(text);
  for (const char* name : kSecrets) {
    const char* value = std::getenv(name);
    if (value == nullptr || std::strlen(value) < 6) continue;  // too short to mean anything
    const std::string secret(value);
    for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at)) {
      out.replace(at, secret.size(), "REDACTED");
      at += 8;
    }
  }
  return RedactSecrets(out);
}

std::string HookResult::Outcome() const {
  if (stopped) return "stopped";
  if (exit_code < 0) return "could not run";
  if (timed_out) return fmt::format("timed out after {:.0f}s", seconds);
  if (exit_code > 128) return fmt::format("killed by signal {}", exit_code - 128);
  return fmt::format("exit {}", exit_code);
}

nlohmann::json HookResult::Json() const {
  return {{"hook", hook},
          {"command", command},
          {"exit_code", exit_code},
          {"timed_out", timed_out},
          {"seconds", seconds},
          {"outcome", Outcome()},
          {"ok", ok()},
          {"output", output}};
}

Result<HookResult> RunHook(const std::string& hook, const std::string& command,
                           const std::map<std::string, std::string>& env,
                           std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  HookResult result;
  result.hook = hook;
  result.command = RedactCredentials(command);
  std::map<std::string, std::string> vars = env;
  vars["FERRY_HOOK"] = hook;
  std::vector<std::string> env_strings = Environment(vars);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return Status(Code::kIo, fmt::format("--{}: cannot make a pipe: {}", hook, ErrnoText(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own: a timeout stops all of it
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::string shell_command = command;
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), shell_command.data(), nullptr};
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  int spawned = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return Status(Code::kIo, fmt::format("--{}: cannot run /bin/sh: {}", hook, ErrnoText(spawned)));
  }

  std::string output;
  const auto deadline = start + timeout;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  // The shell's end; what it left running in the background may hold the pipe open, so its
  // output is read for a second more at most.
  std::optional<std::chrono::steady_clock::time_point> ended;
  int status = 0;
  bool lost = false;  // reaped elsewhere: its exit code is unknown, so it did not succeed
  bool open = true;   // the pipe, until every writer closed it
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (!ended) {
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) ended = now;
      if (done < 0 && errno != EINTR) ended = now, lost = true;  // ECHILD
    }
    if (ended && (!open || now - *ended > std::chrono::seconds(1))) break;
    const bool stopping = stop != nullptr && stop->load();
    if (!ended && !result.timed_out && !result.stopped && (now >= deadline || stopping)) {
      (stopping ? result.stopped : result.timed_out) = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + std::chrono::seconds(5);
    }
    if (!ended && now >= kill_at) ::kill(-pid, SIGKILL);
    if (!open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) {
      open = false;
      continue;
    }
    if (ready <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
      continue;
    }
    output.append(buffer, size_t(n));
    if (output.size() > 4 * kOutputKept) output.erase(0, output.size() - 2 * kOutputKept);
  }
  ::close(out[0]);
  if (result.timed_out || result.stopped) ::kill(-pid, SIGKILL);  // what is left of the group
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = lost ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // Redacted before it is cut, so a cut cannot leave a key without the name that marks it.
  output = RedactCredentials(output);
  if (output.size() > kOutputKept) {
    output.erase(0, output.size() - kOutputKept);
    output.erase(0, std::min(output.size(), output.find('\n') + 1));  // a whole first line
  }
  result.output = output;
  return result;
}

}  // namespace ferry::migration
