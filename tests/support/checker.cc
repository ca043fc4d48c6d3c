#include "support/checker.h"

#include <gtest/gtest.h>

#include "support/azurite.h"
#include "support/process.h"

namespace ferry::testing {

nlohmann::json RunChecker(const Azurite& azurite, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node",
                                std::string(FERRY_SOURCE_DIR) + "/tests/support/blob_checker.mjs"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env["CHECKER_CONNECTION_STRING"] = azurite.ConnectionString();
  if (azurite.BlobEndpoint().starts_with("https:")) {
    options.env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0";  // the test's own self-signed certificate
  }
  options.cwd = FERRY_SOURCE_DIR;  // so node resolves node_modules
  ProcessResult result = RunProcess(argv, options);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "blob checker failed (" << result.exit_code << "): " << result.err;
    return nullptr;
  }
  return nlohmann::json::parse(result.out);
}

}  // namespace ferry::testing
