#include "cli/live.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <iostream>

#include "base/json.h"
#include "cli/common.h"

namespace ferry::cli {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;

void AddLiveOptions(CLI::App* cmd, LiveFlags& flags) {
  cmd->add_option("--metrics-listen", flags.metrics_listen,
                  "Serve live Prometheus metrics on HOST:PORT at /metrics (e.g. "
                  "127.0.0.1:9464): files and bytes by state, rates, retries and errors by "
                  "cause, throttled seconds, streams, the current stage");
  cmd->add_option("--progress", flags.progress,
                  "json: one JSON line per --progress-interval on stdout, for scripts (the "
                  "text goes to stderr)")
      ->check(CLI::IsMember({"json"}));
  cmd->add_option("--progress-interval", flags.interval, "Time between --progress json lines")
      ->capture_default_str();
}

// Counters grow by what a total grew since the last look (the totals come from the engine).
struct LiveMetrics::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : stage(BuildGauge().Name("ferry_stage").Help("1 for the stage running now").Register(r)),
        files(BuildGauge()
                  .Name("ferry_files")
                  .Help("Files of this run by state: done, total, failed, conflict, vanished")
                  .Register(r)),
        bytes(BuildGauge()
                  .Name("ferry_bytes")
                  .Help("Bytes of this run's files by state: done, total")
                  .Register(r)),
        rate(BuildGauge()
                 .Name("ferry_bytes_per_second")
                 .Help("Bytes per second so far")
                 .Register(r)),
        file_rate(BuildGauge()
                      .Name("ferry_files_per_second")
                      .Help("Files per second so far")
                      .Register(r)),
        retries(BuildCounter()
                    .Name("ferry_retries_total")
                    .Help("Requests retried, by cause")
                    .Register(r)),
        errors(BuildCounter()
                   .Name("ferry_errors_total")
                   .Help("Items failed, in conflict or vanished, by cause")
                   .Register(r)),
        throttled(BuildCounter()
                      .Name("ferry_throttled_seconds_total")
                      .Help("Seconds spent waiting on --max-bandwidth, --max-ops or --schedule")
                      .Register(r)),
        streams(BuildGauge().Name("ferry_streams").Help("Streams in use").Register(r)) {}

  // Raises `counter` to `total`.
  static void Follow(Counter& counter, double total) {
    double now = counter.Value();
    if (total > now) counter.Increment(total - now);
  }

  Family<Gauge>& stage;
  Family<Gauge>& files;
  Family<Gauge>& bytes;
  Family<Gauge>& rate;
  Family<Gauge>& file_rate;
  Family<Counter>& retries;
  Family<Counter>& errors;
  Family<Counter>& throttled;
  Family<Gauge>& streams;
};

LiveMetrics::LiveMetrics(const LiveFlags& flags) : json_lines_(flags.progress == "json") {
  interval_ = ParseDuration("--progress-interval", flags.interval);
  if (interval_ < std::chrono::milliseconds(100)) {
    throw ExitError(kExitUsage, "--progress-interval: give at least 100ms");
  }
  if (!flags.metrics_listen.empty()) Listen(flags.metrics_listen);
  if (json_lines_) stdout_ = std::cout.rdbuf(std::cerr.rdbuf());
}

void LiveMetrics::Listen(const std::string& address) {
  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<Metrics>(*registry_);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    throw ExitError(kExitUsage, fmt::format("--metrics-listen {}: cannot listen there ({})",
                                            address, e.what()));
  }
  if (exposer_->GetListeningPorts().empty()) {
    throw ExitError(kExitUsage, fmt::format("--metrics-listen {}: cannot listen there", address));
  }
  exposer_->RegisterCollectable(registry_);
}

LiveMetrics::~LiveMetrics() {
  if (stdout_ != nullptr) {
    std::cout.flush();
    std::cout.rdbuf(stdout_);
  }
}

void LiveMetrics::Stage(const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  if (metrics_) {
    if (!stage_.empty()) metrics_->stage.Add({{"stage", stage_}}).Set(0);
    metrics_->stage.Add({{"stage", stage}}).Set(1);
  }
  stage_ = stage;
}

void LiveMetrics::Progress(const migration::CopyProgress& p, const transfer::EngineStats& engine,
                           const std::map<std::string, uint64_t>& retries, bool final) {
  std::lock_guard<std::mutex> lock(mu_);
  const double seconds = std::max(p.seconds, 1e-3);
  const double rate = double(p.bytes_done) / seconds;
  int64_t failed = 0;
  for (const auto& [cause, n] : p.errors) failed += n;
  if (metrics_) {
    Metrics& m = *metrics_;
    m.files.Add({{"state", "done"}}).Set(double(p.items_done));
    m.files.Add({{"state", "total"}}).Set(double(p.items_total));
    m.files.Add({{"state", "failed"}}).Set(double(failed));
    m.bytes.Add({{"state", "done"}}).Set(double(p.bytes_done));
    m.bytes.Add({{"state", "total"}}).Set(double(p.bytes_total));
    m.rate.Add({}).Set(rate);
    m.file_rate.Add({}).Set(double(p.items_done) / seconds);
    for (const auto& [cause, n] : retries)
      Metrics::Follow(m.retries.Add({{"cause", cause}}), double(n));
    for (const auto& [cause, n] : p.errors)
      Metrics::Follow(m.errors.Add({{"cause", cause}}), double(n));
    Metrics::Follow(m.throttled.Add({}), engine.throttled_seconds);
    m.streams.Add({}).Set(
        double(engine.streams_last ? engine.streams_last : engine.streams_initial));
  }
  if (!json_lines_) return;
  auto now = std::chrono::steady_clock::now();
  if (!final && now - last_line_ < interval_) return;
  last_line_ = now;
  uint64_t retried = 0;
  for (const auto& [cause, n] : retries) retried += n;
  nlohmann::json line{{"stage", stage_},
                      {"final", final},
                      {"seconds", p.seconds},
                      {"files_done", p.items_done},
                      {"files_total", p.items_total},
                      {"bytes_done", p.bytes_done},
                      {"bytes_total", p.bytes_total},
                      {"bytes_per_second", rate},
                      {"eta_seconds", rate > 0 && p.bytes_total > p.bytes_done
                                          ? double(p.bytes_total - p.bytes_done) / rate
                                          : 0.0},
                      {"errors", failed},
                      {"retries", retried},
                      {"throttled_seconds", engine.throttled_seconds}};
  std::ostream out(stdout_);
  out << JsonText(line) << std::endl;
}

}  // namespace ferry::cli
