// A real S3 server (tests/support/s3_server.mjs: s3rver, pinned) on a free loopback port with
// one bucket, for the life of a test, and AWS's own JavaScript SDK to fill and read it
// (tests/support/s3_client.mjs).
#pragma once

#include <fmt/format.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {

class S3Server {
 public:
  explicit S3Server(const std::string& bucket)
      // s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
      : process_({"node", "--openssl-legacy-provider",
                  std::string(FERRY_SOURCE_DIR) + "/tests/support/s3_server.mjs", "--dir",
                  data_.path(), "--bucket", bucket, "--requests", requests_}) {
    if (!process_.WaitForOutput("port", 20'000)) {
      throw std::runtime_error("s3rver did not start: " + process_.Wait().err);
    }
    port_ = nlohmann::json::parse(process_.OutputSoFar())["port"];
  }
  std::string Endpoint() const { return fmt::format("http://127.0.0.1:{}", port_); }
  // Stops the server: every request it answered, [{method, url, user_agent}].
  nlohmann::json Stop() {
    process_.Kill(SIGTERM);
    process_.Wait();
    return nlohmann::json::parse(ReadFile(requests_));
  }

 private:
  TempDir data_, dir_;
  std::string requests_ = dir_.Sub("requests.json");
  BackgroundProcess process_;
  int port_ = 0;
};

// Runs `node s3_client.mjs ARGS...` against `server` and returns its JSON answer; fails the test
// (returning null) if the client fails.
inline nlohmann::json RunS3Client(const S3Server& server, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node",
                                std::string(FERRY_SOURCE_DIR) + "/tests/support/s3_client.mjs"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env = {{"S3_ENDPOINT", server.Endpoint()}};
  auto r = RunProcess(argv, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, false);
}

}  // namespace ferry::testing
