// Azure Blob Storage (and Azurite) as a Store, over the Blob REST API.
#pragma once

#include <memory>

#include "http/concurrency.h"
#include "http/pipeline.h"
#include "http/throttle.h"
#include "storage/azure_endpoint.h"
#include "storage/blob_xml.h"
#include "storage/store.h"

namespace ferry::storage {

struct AzureBlobOptions {
  http::TransportOptions transport;
  http::RetryOptions retry;
  std::shared_ptr<http::Clock> clock;  // null: the system clock
  int list_page_size = 5000;           // maxresults per List Blobs page (1-5000)
  // The migration's throttles (bandwidth, operations, schedule); null: none.
  std::shared_ptr<http::ThrottlePolicy> throttle;
  // Requests on the wire at once, fixed or tuned; null: as many as callers send.
  std::shared_ptr<http::ConcurrencyLimit> concurrency;
  std::string auth = "auto";      // which credential (kAuthKinds in endpoint.h)
  CredentialVariables variables;  // where a key or SAS comes from (a source's: kSourceVariables)
};

// Paths map to blob names under the endpoint's prefix ("prefix/path"). Folders are blobs with
// hdi_isfolder=true and links blobs with is_symlink=true, which listings report as such.
// Every request goes through one pipeline of policies: retries with backoff, then for each
// attempt the throttle, request id and date, authentication (Shared Key, or the SAS), admission
// (concurrency), and libcurl with kept-alive connections. Thread-safe.
class AzureBlobStore : public Store {
 public:
  AzureBlobStore(AzureEndpoint endpoint, AzureCredentials credentials,
                 AzureBlobOptions options = {});

  const AzureEndpoint& endpoint() const { return endpoint_; }
  // The requests' path, for tests of the transport (connections kept alive).
  const http::Pipeline& pipeline() const { return *pipeline_; }
  std::map<std::string, uint64_t> RetriesByCause() const override;

  std::string Describe() const override { return endpoint_.Redacted(); }
  std::string Credential() const override { return credentials_.source; }
  // Blob names: at most 1,024 characters and 254 parts, valid UTF-8 without control characters,
  // no '\' (read as '/'), no part ending in '.' (the service drops trailing dots).
  std::optional<std::string> UnstorableReason(std::string_view path) const override;
  // Creates the container; success when it exists already.
  Status CreateRoot() override;
  Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options = {}) override;
  Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                              const ListOptions& options) override;
  Result<Entry> Stat(std::string_view path) override;
  // As a source: "azure-blob", empty when nothing is under the prefix (so a sync stops before
  // it deletes, should the container be emptied or the URL name another one).
  Result<RootIdentity> Identify() override;
  bool KindsNeedMetadata() const override { return true; }
  Status Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) override;
  Result<WriteResult> Write(std::string_view path, const http::Body& body,
                            const WriteOptions& options) override;
  uint64_t MaxBlockSize() const override { return 4000ull << 20; }
  size_t MaxBlocks() const override { return 50'000; }
  uint64_t MaxSingleWrite() const override { return 5000ull << 20; }
  Status StageBlock(std::string_view path, std::string_view block_id, const http::Body& body,
                    const std::optional<Md5Digest>& md5) override;
  Result<WriteResult> Commit(std::string_view path, const std::vector<std::string>& block_ids,
                             const WriteOptions& options) override;
  Result<std::vector<StagedBlock>> ListStagedBlocks(std::string_view path) override;
  Result<WriteResult> SetMetadata(std::string_view path, const Metadata& metadata,
                                  const Condition& condition) override;
  Status SetTier(std::string_view path, std::string_view tier) override;
  Status Delete(std::string_view path, const Condition& condition) override;

  // For the audit of the target (data plane only): the container's public access level ("",
  // "blob" or "container") and stored access policies; the account's Blob service properties.
  struct ContainerAccess {
    std::string public_access;
    std::vector<StoredPolicy> policies;
  };
  Result<ContainerAccess> GetContainerAccess();
  Result<ServiceProperties> GetServiceProperties();
  // How this store signs in: "entra", "sas" or "key"; and a SAS's expiry (Unix seconds).
  std::string_view CredentialKind() const {
    return credentials_.entra ? "entra" : !credentials_.sas.empty() ? "sas" : "key";
  }
  std::optional<int64_t> SasExpirySeconds() const {
    return credentials_.sas.empty() ? std::nullopt : SasExpiry(credentials_.sas);
  }

 private:
  class BlobLister;

  std::string BlobName(std::string_view path) const;
  std::string BlobUrl(std::string_view path, std::string_view query = "") const;
  std::string ContainerUrl(std::string_view query) const;
  // Sends the request; a non-2xx answer becomes a Status that names `what`.
  Result<http::Response> Send(http::Request request, std::string_view what,
                              const Condition& condition = {});

  AzureEndpoint endpoint_;
  AzureCredentials credentials_;
  AzureBlobOptions options_;
  std::shared_ptr<http::RetryPolicy> retry_;
  std::unique_ptr<http::Pipeline> pipeline_;
};

// The service's limit on a blob's metadata: 8 KiB of names and values together.
inline constexpr size_t kMaxMetadataBytes = 8 * 1024;
// Code::kInvalidInput, saying how large it is, when `metadata` is over kMaxMetadataBytes.
Status CheckMetadataSize(const Metadata& metadata, std::string_view blob);

// The Status for a failed Blob request: the category follows the HTTP status and the service's
// error code; the message says what failed and, for auth errors, what to check.
Status BlobError(const http::Response& response, std::string_view what, const Condition& condition);

}  // namespace ferry::storage
