// libFuzzer target: the XML documents and headers the Blob service sends back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/blob_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ferry::storage::ParseBlobList(text);
  (void)ferry::storage::ParseUncommittedBlocks(text);
  (void)ferry::storage::ParseServiceError(text);
  (void)ferry::storage::ParseHttpDateNs(text);
  return 0;
}
