// libFuzzer target: connection strings, and credential resolution from a fuzzed environment.
#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/azure_endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)ferry::storage::ParseConnectionString(text);
  auto endpoint = ferry::storage::ParseAzureUrl("https://acct.blob.core.windows.net/data");
  auto env = [&](const char* name) -> std::optional<std::string> {
    if (std::string_view(name) == "AZURE_STORAGE_CONNECTION_STRING") return text;
    return std::nullopt;
  };
  (void)ferry::storage::ResolveCredentials(*endpoint, env);
  return 0;
}
