// The fault-injecting proxy (tests/support/fault_proxy.mjs) in front of an upstream port, for
// the life of a test: a seeded share of the requests fails in one of the ways a network or a
// busy service fails.
#pragma once

#include <csignal>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {

class FaultProxy {
 public:
  // `faults`: a comma-separated list of kinds (see fault_proxy.mjs); empty for all of them.
  // `delay_ms`: how long every request is held first (a WAN's round trip).
  FaultProxy(int upstream_port, double rate, int seed, const std::string& faults = "",
             int delay_ms = 0)
      : stats_(dir_.Sub("stats.json")),
        process_(Argv(upstream_port, rate, seed, faults, delay_ms)) {
    if (!process_.WaitForOutput("port", 20'000)) {
      throw std::runtime_error("the fault proxy did not start: " + process_.Wait().err);
    }
    port_ = nlohmann::json::parse(process_.OutputSoFar())["port"];
  }

  int port() const { return port_; }

  // Turns the delay off, or back on (a request already held keeps its delay).
  void ToggleDelay() { process_.Kill(SIGUSR1); }

  // Stops the proxy and returns what it did: {"requests": N, "faults": {KIND: N, ...}}.
  nlohmann::json Stop() {
    process_.Kill(SIGTERM);
    process_.Wait();
    return nlohmann::json::parse(ReadFile(stats_));
  }

 private:
  std::vector<std::string> Argv(int upstream_port, double rate, int seed, const std::string& faults,
                                int delay_ms) const {
    std::vector<std::string> argv{"node",
                                  std::string(FERRY_SOURCE_DIR) + "/tests/support/fault_proxy.mjs",
                                  "--upstream-port",
                                  std::to_string(upstream_port),
                                  "--rate",
                                  std::to_string(rate),
                                  "--seed",
                                  std::to_string(seed),
                                  "--stats",
                                  stats_};
    if (!faults.empty()) {
      argv.push_back("--faults");
      argv.push_back(faults);
    }
    if (delay_ms > 0) {
      argv.push_back("--delay");
      argv.push_back(std::to_string(delay_ms));
    }
    return argv;
  }

  TempDir dir_;
  std::string stats_;
  BackgroundProcess process_;
  int port_ = 0;
};

}  // namespace ferry::testing
