// What the migration commands share: opening a migration and its endpoints, turning errors into
// exit codes, and printing numbers for people.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/text.h"
#include "catalog/catalog.h"
#include "cli/exit_codes.h"
#include "http/pipeline.h"
#include "migration/listing_plan.h"
#include "storage/azure_blob_store.h"
#include "storage/endpoint.h"
#include "storage/store.h"
#include "transfer/engine.h"

namespace ferry::cli {

// Ends the command with the status's message and the exit code its kind calls for: 3 for a
// safety refusal, 130 or 143 for a stop by SIGINT or SIGTERM, 2 for anything else (with a hint
// for network errors).
[[noreturn]] void Fail(const Status& status);
// The value of `result`, or exit as Fail does with its error.
template <typename T>
T Checked(Result<T> result) {
  if (!result.ok()) Fail(result.status());
  return std::move(result).value();
}

// Opens DIR's catalog holding its lock (or, with `read_only`, without); exit 2 on failure.
std::unique_ptr<catalog::Catalog> OpenMigration(const std::string& dir, bool read_only = false);

struct Endpoints {
  std::unique_ptr<storage::Store> source;
  std::unique_ptr<storage::Store> target;
};

// The target's retries by cause, for a run's record (empty for targets without HTTP).
std::function<std::map<std::string, uint64_t>()> RetryCauses(const struct Endpoints& endpoints);

// How ferry talks to Azure, from the global options (--stall-timeout,
// --insecure-skip-tls-verify, --auth, --ca-file); set once by the command line before a command
// runs.
struct NetworkSettings {
  std::chrono::seconds stall_timeout{60};
  bool insecure_tls = false;
  int scan_concurrency = 0;  // 0: auto (storage::ListOptions::concurrency)
  // --split-listing: an object store's listing shared on the catalog split into parts.
  migration::Split split_listing = migration::Split::kAuto;
  std::string auth = "auto";  // --auth (storage::kAuthKinds)
  std::string ca_file;        // --ca-file or SSL_CERT_FILE
  std::string source_sas;     // --source-sas: a SAS for a Blob source (never stored)
};
// "auto" (0) or a count from 1 to 1024; exit 2 otherwise.
int ParseScanConcurrency(const std::string& text);
NetworkSettings& Network();
// With `engine`: the throttles and stream limit of a target.
storage::AzureBlobOptions AzureOptions(const transfer::Engine* engine = nullptr);

// Exit 2 when the host of an Azure endpoint (`flag`: "--target", ...) does not resolve (a typo
// such as windwos.net): one line naming the host, the closest Azure host if it looks like a
// typo of one, and the form an endpoint takes. Not checked when a proxy makes the lookups.
void CheckHostResolves(std::string_view flag, const storage::EndpointSpec& spec);

// Opens the stores of the migration in `catalog`, with credentials from the environment, the
// target under `engine` when given. Runs without TLS verification say so in the migration's
// log.
Endpoints OpenEndpoints(catalog::Catalog& catalog, const transfer::Engine* engine = nullptr);

// Opens one endpoint with the network settings (and `engine`, for a target); exit 2 on
// failure.
std::unique_ptr<storage::Store> OpenEndpoint(const storage::EndpointSpec& spec,
                                             const transfer::Engine* engine = nullptr);

// Opens a migration's source: an Azure Blob source signs in with its own variables
// (storage::kSourceVariables or --source-sas, then the Entra ID chain), never the target's, and
// without the target's throttles. Exit 2 on failure.
std::unique_ptr<storage::Store> OpenSource(const storage::EndpointSpec& spec);
// The options and variables OpenSource signs in with.
storage::AzureBlobOptions SourceOptions();
storage::EnvLookup SourceEnvironment();

// A --sample value: a count ("500") or a percentage ("5%") above zero (at most 100%); exit 2
// with the expected forms otherwise.
struct Sample {
  std::optional<int64_t> count;
  std::optional<double> percent;
};
Sample ParseSample(const std::string& text);

// "90s", "5m", "500ms", "1.5h" (a bare number is seconds); exit 2 naming `option` otherwise.
std::chrono::milliseconds ParseDuration(const std::string& option, const std::string& text);

std::string HumanBytes(int64_t bytes);
std::string HumanDuration(double seconds);

// One line of progress on stderr, redrawn in place, shown only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();
  void Update(const std::string& text);
  void Clear();
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool shown_ = false;
};

// Set by SIGINT/SIGTERM while a long command runs; a second signal ends the process at once.
const std::atomic<bool>& InterruptFlag();
void InstallInterruptHandler();
// The exit code of a command that was stopped: 128 + the signal (130 for SIGINT, 143 for
// SIGTERM).
int StoppedExitCode();

}  // namespace ferry::cli
