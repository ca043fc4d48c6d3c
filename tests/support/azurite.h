// A real Azurite (blob service, in memory) on a free loopback port, for the life of a test binary.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "storage/azure_endpoint.h"

namespace ferry::testing {

struct AzuriteOptions {
  std::string location;           // persist blobs in this folder; empty: in memory
  std::string cert_pem, key_pem;  // serve https with this certificate and key
  bool oauth = false;             // with https: accept Entra ID bearer tokens (--oauth basic)
  int port = 0;                   // 0: a free port
};

class Azurite {
 public:
  // Starts node_modules/.bin/azurite-blob and waits until it accepts connections. Throws with
  // the emulator's log on failure.
  static std::unique_ptr<Azurite> Start(const AzuriteOptions& options = {});
  ~Azurite();  // stops the emulator and its children
  // Kills the emulator at once (SIGKILL), as a crash would.
  void Kill();

  int port() const { return port_; }
  // Requests the emulator has answered so far, from its access log; only those whose request
  // line starts with `request_prefix` (e.g. "DELETE /devstoreaccount1/container/") if given.
  int64_t RequestCount(const std::string& request_prefix = "") const;
  // http://127.0.0.1:PORT/devstoreaccount1 (https with a certificate)
  std::string BlobEndpoint() const;
  // A path-style container URL, optionally with a prefix.
  std::string ContainerUrl(const std::string& container, const std::string& prefix = "") const;
  // A connection string with the well-known development key and this emulator's endpoint.
  std::string ConnectionString() const;
  storage::AzureCredentials Credentials() const;

  // The instance GlobalAzurite() started for this test binary (starting it on first use).
  static Azurite& Global();

 private:
  Azurite() = default;
  void Stop(int signal);
  int port_ = 0;
  bool https_ = false;
  bool in_memory_ = true;
  pid_t pid_ = -1;
  std::string log_path_;
};

// A container name unique within this test run ("t-<counter>-<random>").
std::string UniqueContainer(const std::string& hint);

}  // namespace ferry::testing
