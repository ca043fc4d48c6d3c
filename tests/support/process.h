// Runs a program to completion and captures what it printed.
#pragma once

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

struct ProcessOptions {
  // Variables to set (a value) or unset (nullopt) on top of this process's environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string stdin_data;
  std::string cwd;
};

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Runs the built ferry binary with every AZURE_STORAGE_* variable unset unless given in `env`.
ProcessResult RunFerry(const std::vector<std::string>& args,
                       std::map<std::string, std::optional<std::string>> env = {});

}  // namespace ferry::testing
