// Live views of a long copy or sync for machines: Prometheus metrics served over HTTP
// (--metrics-listen, with Debian's prometheus-cpp) and one JSON line per interval on stdout
// (--progress json).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "migration/copy.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace ferry::cli {

struct LiveFlags {
  std::string metrics_listen;  // HOST:PORT, or "" for none
  std::string progress;        // "" or "json"
  std::string interval = "5s";
};
void AddLiveOptions(CLI::App* cmd, LiveFlags& flags);

class LiveMetrics {
 public:
  // Starts what `flags` ask for; exit 2 when the address cannot be listened on.
  explicit LiveMetrics(const LiveFlags& flags);
  ~LiveMetrics();

  // With --progress json, stdout carries the JSON lines alone: while this object lives,
  // whatever else is written to std::cout goes to stderr.
  bool json_lines() const { return json_lines_; }
  // The current stage ("scan", "copy", ...).
  void Stage(const std::string& stage);
  // A copy's progress (called often): the metrics follow it, and a JSON line is printed when
  // the interval has passed (always with `final`).
  void Progress(const migration::CopyProgress& p, const transfer::EngineStats& engine,
                const std::map<std::string, uint64_t>& retries, bool final = false);

 private:
  struct Metrics;
  void Listen(const std::string& address);
  bool json_lines_ = false;
  std::streambuf* stdout_ = nullptr;  // the real stdout, while std::cout writes to stderr
  std::chrono::milliseconds interval_{5000};
  std::chrono::steady_clock::time_point last_line_{};
  std::mutex mu_;
  std::string stage_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace ferry::cli
