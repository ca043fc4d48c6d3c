// libFuzzer target: endpoint URLs as users type them, and their redaction.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/request.h"
#include "storage/endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = ferry::storage::ParseEndpoint(text);
  if (spec.ok()) (void)spec->Redacted();
  auto azure = ferry::storage::ParseAzureUrl(text);
  if (azure.ok()) {
    (void)azure->Redacted();
    (void)azure->ServiceUrl();
  }
  (void)ferry::http::RedactUrl(text);
  return 0;
}
