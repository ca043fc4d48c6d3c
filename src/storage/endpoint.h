// Turns an endpoint as a user writes it into a Store.
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "storage/azure_blob_store.h"
#include "storage/s3_store.h"
#include "storage/store.h"

namespace ferry::storage {

enum class EndpointType { kLocal, kAzureBlob, kS3 };

struct EndpointSpec {
  EndpointType type;
  std::string local_root;  // kLocal: absolute path
  AzureEndpoint azure;     // kAzureBlob
  std::string s3_url;      // kS3: s3://BUCKET[/PREFIX] (the service comes from the environment)
  std::string Redacted() const;
};

// Accepts a local path (absolute or relative to the working directory), file:///PATH, an
// Azure Blob URL (see ParseAzureUrl), or s3://BUCKET[/PREFIX]. Any other scheme is
// Code::kInvalidInput naming the ones ferry supports.
Result<EndpointSpec> ParseEndpoint(std::string_view url);

// How ferry proves who it is to Azure (--auth): "auto" (a SAS or key if one is set, else
// Entra ID as DefaultAzureCredential chooses), "key", "sas", or one Entra ID credential: "env"
// (a service principal), "workload", "managed-identity", "azure-cli".
inline constexpr std::array<std::string_view, 7> kAuthKinds = {
    "auto", "key", "sas", "env", "workload", "managed-identity", "azure-cli"};

// The credentials for `endpoint` by options.auth, from `env`. Entra ID needs an https endpoint.
// With nothing set up, Code::kInvalidInput naming every way to sign in. Does not contact the
// storage (auto may see whether a managed-identity endpoint answers).
Result<AzureCredentials> ChooseCredentials(const AzureEndpoint& endpoint, const EnvLookup& env,
                                           const AzureBlobOptions& options);

// Opens the store for `spec`, resolving Azure or AWS credentials from `env`. Does not contact
// it. An S3 bucket is opened without the migration's throttles (they belong to the target).
Result<std::unique_ptr<Store>> OpenStore(const EndpointSpec& spec, const EnvLookup& env,
                                         const AzureBlobOptions& azure_options = {});

}  // namespace ferry::storage
