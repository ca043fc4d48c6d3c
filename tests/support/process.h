// Runs a program to completion and captures what it printed.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// How many lines `text` (a process's output) holds: its newlines.
inline int Lines(const std::string& text) {
  return int(std::count(text.begin(), text.end(), '\n'));
}

struct ProcessOptions {
  // Variables to set (a value) or unset (nullopt) on top of this process's environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string stdin_data;
  std::string cwd;
};

// A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts.
int FreeLoopbackPort();

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A program running in the background, its output going to files.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  ~BackgroundProcess();  // kills it if still running
  void Kill(int signal);
  // Waits for it to end and returns what it printed.
  ProcessResult Wait();
  bool Running();
  // What it has printed to stdout so far.
  std::string OutputSoFar() const;
  // Waits until its stdout contains `text` (true), or it ends or `timeout_ms` pass (false).
  bool WaitForOutput(const std::string& text, int timeout_ms);

 private:
  int pid_ = -1;
  int status_ = 0;
  std::string dir_;
};

// The argv and options RunFerry uses, for starting ferry in the background.
std::vector<std::string> FerryArgv(const std::vector<std::string>& args);
ProcessOptions FerryOptions(std::map<std::string, std::optional<std::string>> env);

// Runs the built ferry binary with every AZURE_STORAGE_* variable unset unless given in `env`.
ProcessResult RunFerry(const std::vector<std::string>& args,
                       std::map<std::string, std::optional<std::string>> env = {});

}  // namespace ferry::testing
