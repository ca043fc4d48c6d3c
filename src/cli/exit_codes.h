// The exit codes scripts rely on (see DESIGN.md, "Contracts").
#pragma once

#include <stdexcept>
#include <string>

namespace ferry::cli {

inline constexpr int kExitDone = 0;
inline constexpr int kExitItemsFailed = 1;
inline constexpr int kExitUsage = 2;    // bad usage or configuration
inline constexpr int kExitRefused = 3;  // a safety check refused

// Thrown at the CLI edge to end the command with a one-line message and an exit code.
class ExitError : public std::runtime_error {
 public:
  ExitError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

}  // namespace ferry::cli
