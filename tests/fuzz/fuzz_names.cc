// libFuzzer target: the name check a scan makes of every path (strict UTF-8, then what Azure
// cannot store). The input is the path. A name the check accepts must be strict UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/text.h"
#include "storage/azure_blob_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ferry::storage::AzureBlobStore store(
      *ferry::storage::ParseAzureUrl("https://account.blob.core.windows.net/container/prefix"),
      {});
  std::string_view path(reinterpret_cast<const char*>(data), size);
  auto length = ferry::Utf8Length(path);
  auto reason = store.UnstorableReason(path);
  if (!reason && !length) std::abort();  // Azure would have accepted a name that is not UTF-8
  if (length && *length > size) std::abort();
  return 0;
}
