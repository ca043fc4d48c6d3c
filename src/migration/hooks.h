// The operator's commands around the cutover (--pre-freeze, --post-cutover, --on-abort): each
// runs under /bin/sh with FERRY_* variables, a time limit, and its output kept for the log.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace ferry::migration {

struct HookResult {
  std::string hook;     // "pre-freeze", "post-cutover" or "on-abort"
  std::string command;  // as given, secrets redacted
  int exit_code = -1;   // the command's exit code, 128 + N when killed by signal N
  bool timed_out = false;
  bool stopped = false;  // the operator stopped ferry while it ran
  double seconds = 0;
  std::string output;  // stdout and stderr together, the last 16 KiB, secrets redacted

  bool ok() const { return exit_code == 0 && !timed_out && !stopped; }
  // "exit 7", "timed out after 30s", "stopped", "killed by signal 9".
  std::string Outcome() const;
  nlohmann::json Json() const;
};

// Runs `command` with `/bin/sh -c`, its stdin /dev/null, in a process group of its own, with
// the process's environment plus `env` (FERRY_HOOK is set to `hook`). Past `timeout`, or once
// `stop` is set, the group gets SIGTERM, then SIGKILL 5 s later. The command and its output
// are kept with secrets redacted: signatures and keys by their form, and the values of the
// credential variables in the environment wherever they appear. An error only when the
// command cannot be started. What it leaves running in the background is not waited for.
Result<HookResult> RunHook(const std::string& hook, const std::string& command,
                           const std::map<std::string, std::string>& env,
                           std::chrono::milliseconds timeout,
                           const std::atomic<bool>* stop = nullptr);

// `text` with the values of the credential variables set in this process (account keys,
// connection strings, SAS tokens, client secrets, PGPASSWORD, ...) and the forms
// RedactSecrets knows replaced by REDACTED.
std::string RedactCredentials(std::string_view text);

}  // namespace ferry::migration
