// Turns an endpoint as a user writes it into a Store.
#pragma once

#include <memory>
#include <string_view>

#include "storage/azure_blob_store.h"
#include "storage/store.h"

namespace ferry::storage {

enum class EndpointType { kLocal, kAzureBlob };

struct EndpointSpec {
  EndpointType type;
  std::string local_root;  // kLocal: absolute path
  AzureEndpoint azure;     // kAzureBlob
  std::string Redacted() const;
};

// Accepts a local path (absolute or relative to the working directory), file:///PATH, or an
// Azure Blob URL (see ParseAzureUrl). Any other scheme is Code::kInvalidInput naming the ones
// ferry supports.
Result<EndpointSpec> ParseEndpoint(std::string_view url);

// Opens the store for `spec`, resolving Azure credentials from `env`. Does not contact it.
Result<std::unique_ptr<Store>> OpenStore(const EndpointSpec& spec, const EnvLookup& env,
                                         const AzureBlobOptions& azure_options = {});

}  // namespace ferry::storage
