// A real Azurite (blob service, in memory) on a free loopback port, for the life of a test binary.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "storage/azure_endpoint.h"

namespace ferry::testing {

class Azurite {
 public:
  // Starts node_modules/.bin/azurite-blob and waits until it accepts connections. Throws with
  // the emulator's log on failure.
  static std::unique_ptr<Azurite> Start();
  ~Azurite();  // stops the emulator and its children

  int port() const { return port_; }
  // Requests the emulator has answered so far, from its access log.
  int64_t RequestCount() const;
  // http://127.0.0.1:PORT/devstoreaccount1
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
  int port_ = 0;
  pid_t pid_ = -1;
  std::string log_path_;
};

// A container name unique within this test run ("t-<counter>-<random>").
std::string UniqueContainer(const std::string& hint);

}  // namespace ferry::testing
