// Calls tests/support/blob_checker.mjs, Microsoft's JavaScript client, and parses its answer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ferry::testing {

class Azurite;

// Runs `node blob_checker.mjs ARGS...` against `azurite` and returns its JSON output. Fails the
// current test (and returns null) if the checker fails.
nlohmann::json RunChecker(const Azurite& azurite, const std::vector<std::string>& args);

}  // namespace ferry::testing
