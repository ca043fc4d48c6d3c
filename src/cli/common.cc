#include "cli/common.h"

#include <fmt/format.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/transfer_flags.h"
#include "storage/azure_blob_store.h"

namespace ferry::cli {

namespace {
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};

void OnSignal(int sig) {
  g_signal.store(sig);
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  const char msg[] = "\nferry: stopping after the items in flight (press again to quit now)\n";
  (void)!::write(2, msg, sizeof msg - 1);
}

// The host name of "host[:port]" or "[v6]:port".
std::string HostOf(std::string_view authority) {
  if (authority.starts_with('[')) {
    size_t end = authority.find(']');
    return std::string(authority.substr(1, end == std::string_view::npos ? end : end - 1));
  }
  return std::string(authority.substr(0, authority.rfind(':')));
}

// The Azure host `host` was probably meant to be ("x.blob.core.windows.net" for
// "x.blob.core.windwos.net"), or "".
std::string ClosestAzureHost(std::string_view host) {
  static constexpr std::string_view kSuffixes[] = {
      ".blob.core.windows.net", ".blob.core.chinacloudapi.cn", ".blob.core.usgovcloudapi.net",
      ".blob.storage.azure.net"};
  size_t dot = host.find('.');
  if (dot == std::string_view::npos) return "";
  std::string_view account = host.substr(0, dot), rest = host.substr(dot);
  for (std::string_view suffix : kSuffixes) {
    size_t d = EditDistance(AsciiLower(rest), suffix);
    if (d > 0 && d <= 3) return std::string(account) + std::string(suffix);
  }
  return "";
}

}  // namespace

void CheckHostResolves(std::string_view flag, const storage::EndpointSpec& spec) {
  if (spec.type != storage::EndpointType::kAzureBlob) return;
  for (const char* proxy :
       {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(proxy);
    if (value && *value) return;  // the proxy resolves names, not this machine
  }
  std::string host = HostOf(spec.azure.authority);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc == 0) {
    ::freeaddrinfo(found);
    return;
  }
  std::string closest = ClosestAzureHost(host);
  throw ExitError(
      kExitUsage,
      fmt::format("{}: the host '{}' does not resolve ({}){}; an Azure Blob endpoint looks like "
                  "https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]",
                  flag, host, rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc),
                  closest.empty() ? "" : fmt::format("; did you mean '{}'?", closest)));
}

void Fail(const Status& status) {
  if (status.code() == Code::kRefused) throw ExitError(kExitRefused, status.message());
  if (status.code() == Code::kCancelled) {
    throw ExitError(StoppedExitCode(),
                    status.message() + "; it is recorded as stopped, run it again to go on");
  }
  std::string hint;
  if (status.code() == Code::kTransient) hint = " (is the endpoint up and the URL right?)";
  throw ExitError(kExitUsage, status.message() + hint);
}

std::unique_ptr<catalog::Catalog> OpenMigration(const std::string& dir, bool read_only) {
  auto catalog = read_only ? catalog::Catalog::OpenForReading(dir) : catalog::Catalog::Open(dir);
  if (!catalog.ok()) Fail(catalog.status());
  return std::move(catalog).value();
}

NetworkSettings& Network() {
  static NetworkSettings settings;
  return settings;
}

storage::AzureBlobOptions AzureOptions(const transfer::Engine* engine) {
  storage::AzureBlobOptions options;
  options.transport.low_speed_time = Network().stall_timeout;
  options.transport.verify_tls = !Network().insecure_tls;
  options.transport.ca_file = Network().ca_file;
  options.auth = Network().auth;
  if (engine) {
    options.throttle = engine->throttle();
    options.concurrency = engine->concurrency();
  }
  return options;
}

std::unique_ptr<storage::Store> OpenEndpoint(const storage::EndpointSpec& spec,
                                             const transfer::Engine* engine) {
  if (Network().insecure_tls && spec.type == storage::EndpointType::kAzureBlob) {
    spdlog::warn("TLS certificates are not verified (--insecure-skip-tls-verify): {}",
                 spec.Redacted());
  }
  Result<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(spec, storage::ProcessEnvironment(), AzureOptions(engine));
  if (!store.ok()) Fail(store.status());
  return std::move(store).value();
}

storage::AzureBlobOptions SourceOptions() {
  storage::AzureBlobOptions options = AzureOptions();
  options.auth = "auto";  // --auth chooses the target's credential
  options.variables = storage::kSourceVariables;
  if (!Network().source_sas.empty()) options.variables.sas_token = "--source-sas";
  return options;
}

storage::EnvLookup SourceEnvironment() {
  return [sas = Network().source_sas,
          env = storage::ProcessEnvironment()](const char* name) -> std::optional<std::string> {
    if (std::string_view(name) == "--source-sas") return sas;
    return env(name);
  };
}

std::unique_ptr<storage::Store> OpenSource(const storage::EndpointSpec& spec) {
  if (Network().insecure_tls && spec.type == storage::EndpointType::kAzureBlob) {
    spdlog::warn("TLS certificates are not verified (--insecure-skip-tls-verify): {}",
                 spec.Redacted());
  }
  Result<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(spec, SourceEnvironment(), SourceOptions());
  if (!store.ok()) Fail(Status(store.status().code(), "source: " + store.status().message()));
  return std::move(store).value();
}

Endpoints OpenEndpoints(catalog::Catalog& catalog, const transfer::Engine* engine) {
  Endpoints endpoints;
  auto parse = [&](const std::string& url) {
    Result<storage::EndpointSpec> spec = storage::ParseEndpoint(url);
    if (!spec.ok()) Fail(spec.status());
    return *spec;
  };
  storage::EndpointSpec source = parse(catalog.config().source);
  storage::EndpointSpec target = parse(catalog.config().target);
  endpoints.source = OpenSource(source);
  endpoints.target = OpenEndpoint(target, engine);
  if (Network().insecure_tls) {
    for (const storage::EndpointSpec* spec : {&source, &target}) {
      if (spec->type != storage::EndpointType::kAzureBlob) continue;
      catalog.AnnotateRuns("tls-verification-off",
                           JsonText(nlohmann::json{{"endpoint", spec->Redacted()}}));
    }
  }
  return endpoints;
}

std::function<std::map<std::string, uint64_t>()> RetryCauses(const Endpoints& endpoints) {
  const storage::Store* target = endpoints.target.get();
  return [target] { return target->RetriesByCause(); };
}

int ParseScanConcurrency(const std::string& text) {
  if (text == "auto") return 0;
  int n = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (error != std::errc() || end != text.data() + text.size() || n < 1 || n > 1024) {
    throw ExitError(
        kExitUsage,
        fmt::format("--scan-concurrency: '{}' is not auto or a count from 1 to 1024", text));
  }
  return n;
}

Sample ParseSample(const std::string& text) {
  Sample sample;
  try {
    size_t used = 0;
    if (!text.empty() && text.back() == '%') {
      double p = std::stod(text.substr(0, text.size() - 1), &used);
      if (used + 1 != text.size() || !(p > 0 && p <= 100)) throw std::invalid_argument("range");
      sample.percent = p;
    } else {
      long long n = std::stoll(text, &used);
      if (used != text.size() || n <= 0) throw std::invalid_argument("range");
      sample.count = n;
    }
  } catch (const std::exception&) {
    throw ExitError(kExitUsage, fmt::format("--sample '{}': give a count (500) or a percentage "
                                            "(5%) above zero",
                                            text));
  }
  return sample;
}

std::chrono::milliseconds ParseDuration(const std::string& option, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = unit == "ms"                  ? 1
                 : unit == "s" || unit.empty() ? 1000
                 : unit == "m"                 ? 60'000
                 : unit == "h"                 ? 3'600'000
                                               : -1;
  constexpr double kMaxMs = 365.0 * 24 * 3'600'000;  // a year
  if (used == 0 || scale < 0 || !std::isfinite(value) || value < 0 || value * scale > kMaxMs) {
    throw ExitError(kExitUsage,
                    fmt::format("{} '{}': give a duration such as 90s, 5m or 500ms", option, text));
  }
  return std::chrono::milliseconds(int64_t(value * scale));
}

std::string HumanBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string HumanDuration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  int64_t s = int64_t(seconds);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

ProgressLine::ProgressLine() : enabled_(::isatty(2) == 1) {}
ProgressLine::~ProgressLine() { Clear(); }

void ProgressLine::Update(const std::string& text) {
  if (!enabled_) return;
  std::cerr << "\r\033[K" << text << std::flush;
  shown_ = true;
}

void ProgressLine::Clear() {
  if (enabled_ && shown_) std::cerr << "\r\033[K" << std::flush;
  shown_ = false;
}

const std::atomic<bool>& InterruptFlag() { return g_interrupted; }

int StoppedExitCode() {
  int sig = g_signal.load();
  return 128 + (sig != 0 ? sig : SIGINT);
}

void InstallInterruptHandler() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  // A dropped ssh session stops the run as Ctrl-C does, unless started under nohup.
  if (std::signal(SIGHUP, SIG_IGN) != SIG_IGN) std::signal(SIGHUP, OnSignal);
  // A reader of the output that went away (| tee, | head) must not kill a run mid-way.
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace ferry::cli
