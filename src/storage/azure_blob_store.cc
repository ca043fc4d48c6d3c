#include "storage/azure_blob_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "base/encoding.h"
#include "base/text.h"
#include "storage/blob_xml.h"
#include "storage/entra_id.h"
#include "storage/shared_key.h"
#include "storage/split_list.h"

namespace ferry::storage {

namespace {

void AddCondition(http::Request& request, const Condition& condition) {
  if (condition.type == Condition::Type::kIfNoneExists) request.headers.Set("If-None-Match", "*");
  if (condition.type == Condition::Type::kIfMatch) request.headers.Set("If-Match", condition.etag);
}

void AddMetadata(http::Request& request, const Metadata& metadata) {
  for (const auto& [name, value] : metadata) request.headers.Set("x-ms-meta-" + name, value);
}

std::optional<Md5Digest> DigestFromBase64(std::string_view text) {
  auto bytes = Base64Decode(text);
  if (!bytes || bytes->size() != 16) return std::nullopt;
  Md5Digest digest;
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

}  // namespace

Status BlobError(const http::Response& response, std::string_view what,
                 const Condition& condition) {
  ServiceError error = ParseServiceError(response.body);
  if (auto code = response.headers.Get("x-ms-error-code")) error.code = std::string(*code);
  std::string request_id(response.headers.Get("x-ms-request-id").value_or(""));
  std::string detail = error.message.empty() ? "" : ": " + error.message;

  Code code;
  std::string message;
  int status = response.status;
  if (status == 404) {
    code = Code::kNotFound;
    message = fmt::format("{}: not found", what);
  } else if (status == 409 && error.code == "BlobAlreadyExists") {
    code = Code::kAlreadyExists;
    message = fmt::format("{}: a blob of that name already exists", what);
  } else if (status == 412) {
    bool create_only = condition.type == Condition::Type::kIfNoneExists;
    code = create_only ? Code::kAlreadyExists : Code::kPreconditionFailed;
    message = create_only ? fmt::format("{}: a blob of that name already exists", what)
                          : fmt::format("{}: the blob changed since ferry last saw it", what);
  } else if ((status == 401 || status == 403) && error.code == "AuthorizationPermissionMismatch") {
    code = Code::kAuth;
    message = fmt::format(
        "{}: the credential is not allowed to do this{} (with Entra ID: grant the identity the "
        "role 'Storage Blob Data Contributor' on the container or the storage account, and allow "
        "minutes for it to apply; with a SAS: it needs read, add, create, write, delete and list)",
        what, detail);
  } else if (status == 401 || status == 403) {
    code = Code::kAuth;
    message = fmt::format(
        "{}: the storage account refused the credentials{} (check the account key, the SAS's "
        "permissions and expiry, or the Entra ID identity and the token's audience)",
        what, detail);
  } else if (status == 429 || status == 503) {
    code = Code::kThrottled;
    message = fmt::format("{}: the service is busy{}", what, detail);
  } else if (status >= 500 || status == 408) {
    code = Code::kTransient;
    message = fmt::format("{}: service error{}", what, detail);
  } else if (status == 400 || status == 413 || status == 416) {
    code = Code::kInvalidInput;
    message = fmt::format("{}: the service rejected the request{}", what, detail);
  } else {
    code = Code::kInternal;
    message = fmt::format("{}: unexpected answer{}", what, detail);
  }
  Status st(code, std::move(message));
  st.WithHttp(status, error.code, request_id);
  if (error.code == "ContainerNotFound") st.WithEndpointWide();
  return st;
}

std::optional<std::string> AzureBlobStore::UnstorableReason(std::string_view path) const {
  std::string name = BlobName(path);
  auto length = Utf8Length(name);
  if (!length) return "the name is not valid UTF-8";
  if (*length > 1024) {
    return fmt::format("the blob name is too long ({} characters; Azure allows 1,024)", *length);
  }
  size_t parts = 1 + size_t(std::count(name.begin(), name.end(), '/'));
  if (parts > 254) return fmt::format("the name has too many parts ({}; Azure allows 254)", parts);
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "the name contains a control character";
    if (c == '\\') return "the name contains '\\', which Azure reads as '/'";
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (end > start && name[end - 1] == '.') {
      return "a part of the name ends with '.', which Azure drops";
    }
    start = end + 1;
  }
  return std::nullopt;
}

AzureBlobStore::AzureBlobStore(AzureEndpoint endpoint, AzureCredentials credentials,
                               AzureBlobOptions options)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {
  auto clock = options_.clock ? options_.clock : http::SystemClock();
  retry_ = std::make_shared<http::RetryPolicy>(options_.retry, clock);
  // Retry first: what follows runs again for every attempt, so the date and the signature are
  // fresh, and a throttle's long wait never sends a stale request.
  std::vector<std::shared_ptr<http::Policy>> policies{retry_};
  if (options_.throttle) policies.push_back(options_.throttle);
  policies.push_back(std::make_shared<BlobHeadersPolicy>());
  if (credentials_.entra) {
    policies.push_back(std::make_shared<BearerTokenPolicy>(
        std::make_shared<TokenCache>(credentials_.entra, options_.clock)));
  } else if (credentials_.sas.empty()) {
    policies.push_back(std::make_shared<SharedKeyPolicy>(credentials_.account, credentials_.key));
  } else {
    policies.push_back(std::make_shared<SasPolicy>(credentials_.sas));
  }
  if (options_.concurrency) {
    policies.push_back(std::make_shared<http::ConcurrencyPolicy>(options_.concurrency));
  }
  pipeline_ = std::make_unique<http::Pipeline>(
      std::move(policies), std::make_shared<http::CurlTransport>(options_.transport));
}

std::map<std::string, uint64_t> AzureBlobStore::RetriesByCause() const {
  return retry_->RetriesByCause();
}

std::string AzureBlobStore::BlobName(std::string_view path) const {
  return JoinPath(endpoint_.prefix, path);
}

std::string AzureBlobStore::BlobUrl(std::string_view path, std::string_view query) const {
  std::string url =
      endpoint_.ServiceUrl() + "/" + endpoint_.container + "/" + PercentEncode(BlobName(path), "/");
  if (!query.empty()) url += "?" + std::string(query);
  return url;
}

std::string AzureBlobStore::ContainerUrl(std::string_view query) const {
  return endpoint_.ServiceUrl() + "/" + endpoint_.container + "?" + std::string(query);
}

Result<http::Response> AzureBlobStore::Send(http::Request request, std::string_view what,
                                            const Condition& condition) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  request.headers.Set("x-ms-client-request-id", fmt::format("{:016x}{:016x}", rng(), rng()));
  Result<http::Response> response = pipeline_->Send(request);
  if (!response.ok()) {
    Status st = response.status();
    return Status(st.code(), fmt::format("{}: {}", what, st.message()));
  }
  if (response->status < 200 || response->status >= 300) {
    return BlobError(*response, what, condition);
  }
  return response;
}

Status AzureBlobStore::CreateRoot() {
  http::Request request;
  request.method = "PUT";
  request.url = ContainerUrl("restype=container");
  Result<http::Response> response =
      Send(request, fmt::format("create container '{}'", endpoint_.container));
  if (!response.ok() && response.status().service_code() == "ContainerAlreadyExists") {
    return Status::Ok();
  }
  if (!response.ok() && response.status().code() == Code::kAuth) {
    // A container-scoped SAS may not create containers; if the container is already there and
    // can be listed, nothing needed creating.
    http::Request probe;
    probe.url = ContainerUrl("restype=container&comp=list&maxresults=1");
    if (Send(probe, "list container").ok()) return Status::Ok();
  }
  return response.status();
}

Result<AzureBlobStore::ContainerAccess> AzureBlobStore::GetContainerAccess() {
  http::Request request;
  request.url = ContainerUrl("restype=container&comp=acl");
  Result<http::Response> response =
      Send(request, fmt::format("read the access policy of container '{}'", endpoint_.container));
  if (!response.ok()) return response.status();
  Result<std::vector<StoredPolicy>> policies = ParseSignedIdentifiers(response->body);
  if (!policies.ok()) return policies.status();
  return ContainerAccess{std::string(response->headers.Get("x-ms-blob-public-access").value_or("")),
                         std::move(policies).value()};
}

Result<ServiceProperties> AzureBlobStore::GetServiceProperties() {
  http::Request request;
  request.url = endpoint_.ServiceUrl() + "/?restype=service&comp=properties";
  Result<http::Response> response = Send(request, "read the Blob service properties");
  if (!response.ok()) return response.status();
  return ParseServiceProperties(response->body);
}

class AzureBlobStore::BlobLister : public Lister {
 public:
  BlobLister(AzureBlobStore* store, std::string service_prefix, size_t strip, bool metadata)
      : store_(store),
        service_prefix_(std::move(service_prefix)),
        strip_(strip),
        metadata_(metadata) {}

  Result<bool> Next(Entry& entry) override {
    while (index_ == page_.entries.size()) {
      if (done_) return false;
      FERRY_RETURN_IF_ERROR(FetchPage());
    }
    entry = std::move(page_.entries[index_++]);
    entry.path.erase(0, strip_);
    return true;
  }

  bool FullyFetched() const override { return done_; }

 private:
  Status FetchPage() {
    std::string query =
        fmt::format("restype=container&comp=list{}&maxresults={}",
                    metadata_ ? "&include=metadata" : "", store_->options_.list_page_size);
    if (!service_prefix_.empty()) query += "&prefix=" + PercentEncode(service_prefix_);
    if (!marker_.empty()) query += "&marker=" + PercentEncode(marker_);
    http::Request request;
    request.url = store_->ContainerUrl(query);
    Result<http::Response> response =
        store_->Send(request, fmt::format("list container '{}'", store_->endpoint_.container));
    if (!response.ok()) return response.status();
    Result<BlobListPage> page = ParseBlobList(response->body);
    if (!page.ok()) return page.status();
    page_ = std::move(page).value();
    index_ = 0;
    marker_ = page_.next_marker;
    done_ = marker_.empty();
    // A blob named exactly like the prefix folder is not inside it.
    std::erase_if(page_.entries, [&](const Entry& e) { return e.path.size() <= strip_; });
    return Status::Ok();
  }

  AzureBlobStore* store_;
  std::string service_prefix_;
  size_t strip_;
  bool metadata_;
  std::string marker_;
  BlobListPage page_;
  size_t index_ = 0;
  bool done_ = false;
};

Result<std::unique_ptr<Lister>> AzureBlobStore::List(std::string_view prefix, ListOptions options) {
  std::string base = endpoint_.prefix.empty() ? "" : endpoint_.prefix + "/";
  std::unique_ptr<Lister> flat(
      new BlobLister(this, base + std::string(prefix), base.size(), options.metadata));
  const int streams = options.concurrency;  // auto (0): one stream
  if (streams <= 1 || !(prefix.empty() || prefix.ends_with('/'))) return flat;
  return SplitListing(*this, std::string(prefix), options, streams, std::move(flat));
}

Result<LevelPage> AzureBlobStore::ListLevel(std::string_view prefix, std::string_view marker,
                                            const ListOptions& options) {
  std::string base = endpoint_.prefix.empty() ? "" : endpoint_.prefix + "/";
  const int page_size = options.page_size > 0 ? std::min(options.page_size, options_.list_page_size)
                                              : options_.list_page_size;
  std::string query = fmt::format("restype=container&comp=list&delimiter=%2F{}&maxresults={}",
                                  options.metadata ? "&include=metadata" : "", page_size);
  if (!(base + std::string(prefix)).empty()) {
    query += "&prefix=" + PercentEncode(base + std::string(prefix));
  }
  if (!marker.empty()) query += "&marker=" + PercentEncode(marker);
  http::Request request;
  request.url = ContainerUrl(query);
  Result<http::Response> response =
      Send(request, fmt::format("list container '{}'", endpoint_.container));
  if (!response.ok()) return response.status();
  Result<BlobListPage> page = ParseBlobList(response->body);
  if (!page.ok()) return page.status();
  LevelPage level;
  level.next = std::move(page->next_marker);
  for (Entry& entry : page->entries) {
    if (entry.path.size() <= base.size()) continue;  // named like the prefix folder: not in it
    entry.path.erase(0, base.size());
    level.entries.push_back(std::move(entry));
  }
  for (std::string& name : page->prefixes) {
    if (name.size() > base.size()) level.prefixes.push_back(name.substr(base.size()));
  }
  return level;
}

Result<RootIdentity> AzureBlobStore::Identify() { return ObjectStoreIdentity(*this, "azure-blob"); }

Result<Entry> AzureBlobStore::Stat(std::string_view path) {
  http::Request request;
  request.method = "HEAD";
  request.url = BlobUrl(path);
  Result<http::Response> response = Send(request, fmt::format("stat '{}'", BlobName(path)));
  if (!response.ok()) return response.status();
  const http::Headers& h = response->headers;
  Entry entry;
  entry.path = std::string(path);
  entry.size = std::stoull(std::string(h.Get("Content-Length").value_or("0")));
  entry.etag = std::string(h.Get("ETag").value_or(""));
  entry.mtime_ns = ParseHttpDateNs(h.Get("Last-Modified").value_or(""));
  entry.content_md5 = DigestFromBase64(h.Get("Content-MD5").value_or(""));
  entry.tier = std::string(h.Get("x-ms-access-tier").value_or(""));
  entry.content_type = std::string(h.Get("Content-Type").value_or(""));
  for (const auto& [name, value] : h) {
    std::string lower = AsciiLower(name);
    if (lower.starts_with("x-ms-meta-")) entry.metadata[lower.substr(10)] = value;
  }
  entry.kind = KindFromMetadata(entry.metadata);
  return entry;
}

Status AzureBlobStore::Read(std::string_view path, uint64_t offset, uint64_t length,
                            http::Sink& sink) {
  if (length == 0) return Status::Ok();
  http::Request request;
  request.url = BlobUrl(path);
  request.sink = &sink;
  if (offset != 0 || length != UINT64_MAX) {
    std::string range = length == UINT64_MAX
                            ? fmt::format("bytes={}-", offset)
                            : fmt::format("bytes={}-{}", offset, offset + length - 1);
    request.headers.Set("x-ms-range", range);
  }
  Result<http::Response> response = Send(request, fmt::format("read '{}'", BlobName(path)));
  if (!response.ok() && response.status().http_status() == 416) return Status::Ok();  // past end
  return response.status();
}

Status CheckMetadataSize(const Metadata& metadata, std::string_view blob) {
  size_t bytes = 0;
  for (const auto& [name, value] : metadata) bytes += name.size() + value.size();
  if (bytes <= kMaxMetadataBytes) return Status::Ok();
  return Status(Code::kInvalidInput,
                fmt::format("the metadata of '{}' is {} bytes, over the service's limit of 8 KiB "
                            "for names and values together",
                            blob, bytes));
}

Result<WriteResult> AzureBlobStore::Write(std::string_view path, const http::Body& body,
                                          const WriteOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckMetadataSize(options.metadata, BlobName(path)));
  if (body.size > MaxSingleWrite()) {
    return Status(Code::kInvalidInput,
                  fmt::format("write '{}': {} bytes is over the 5,000 MiB one Put Blob may send",
                              BlobName(path), body.size));
  }
  http::Request request;
  request.method = "PUT";
  request.url = BlobUrl(path);
  request.body = body;
  request.headers.Set("x-ms-blob-type", "BlockBlob");
  if (options.content_md5) request.headers.Set("Content-MD5", Md5Base64(*options.content_md5));
  if (!options.tier.empty()) request.headers.Set("x-ms-access-tier", options.tier);
  if (!options.content_type.empty()) {
    request.headers.Set("x-ms-blob-content-type", options.content_type);
  }
  AddCondition(request, options.condition);
  AddMetadata(request, options.metadata);
  Result<http::Response> response =
      Send(request, fmt::format("write '{}'", BlobName(path)), options.condition);
  if (!response.ok()) return response.status();
  return WriteResult{std::string(response->headers.Get("ETag").value_or("")),
                     DigestFromBase64(response->headers.Get("Content-MD5").value_or(""))};
}

Status AzureBlobStore::StageBlock(std::string_view path, std::string_view block_id,
                                  const http::Body& body, const std::optional<Md5Digest>& md5) {
  http::Request request;
  request.method = "PUT";
  request.url = BlobUrl(path, "comp=block&blockid=" + PercentEncode(Base64Encode(block_id)));
  request.body = body;
  if (md5) request.headers.Set("Content-MD5", Md5Base64(*md5));
  return Send(request, fmt::format("stage a block of '{}'", BlobName(path))).status();
}

Result<WriteResult> AzureBlobStore::Commit(std::string_view path,
                                           const std::vector<std::string>& block_ids,
                                           const WriteOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckMetadataSize(options.metadata, BlobName(path)));
  http::Request request;
  request.method = "PUT";
  request.url = BlobUrl(path, "comp=blocklist");
  request.body = http::Body::FromString(BlockListXml(block_ids));
  if (options.content_md5) {
    request.headers.Set("x-ms-blob-content-md5", Md5Base64(*options.content_md5));
  }
  if (!options.tier.empty()) request.headers.Set("x-ms-access-tier", options.tier);
  if (!options.content_type.empty()) {
    request.headers.Set("x-ms-blob-content-type", options.content_type);
  }
  AddCondition(request, options.condition);
  AddMetadata(request, options.metadata);
  Result<http::Response> response =
      Send(request, fmt::format("commit '{}'", BlobName(path)), options.condition);
  if (!response.ok()) return response.status();
  return WriteResult{.etag = std::string(response->headers.Get("ETag").value_or(""))};
}

Result<std::vector<StagedBlock>> AzureBlobStore::ListStagedBlocks(std::string_view path) {
  http::Request request;
  request.url = BlobUrl(path, "comp=blocklist&blocklisttype=uncommitted");
  Result<http::Response> response =
      Send(request, fmt::format("list staged blocks of '{}'", BlobName(path)));
  if (!response.ok()) {
    if (response.status().code() == Code::kNotFound) return std::vector<StagedBlock>{};
    return response.status();
  }
  return ParseUncommittedBlocks(response->body);
}

Result<WriteResult> AzureBlobStore::SetMetadata(std::string_view path, const Metadata& metadata,
                                                const Condition& condition) {
  FERRY_RETURN_IF_ERROR(CheckMetadataSize(metadata, BlobName(path)));
  http::Request request;
  request.method = "PUT";
  request.url = BlobUrl(path, "comp=metadata");
  AddCondition(request, condition);
  AddMetadata(request, metadata);
  Result<http::Response> response =
      Send(request, fmt::format("set metadata of '{}'", BlobName(path)), condition);
  if (!response.ok()) return response.status();
  return WriteResult{.etag = std::string(response->headers.Get("ETag").value_or(""))};
}

Status AzureBlobStore::SetTier(std::string_view path, std::string_view tier) {
  http::Request request;
  request.method = "PUT";
  request.url = BlobUrl(path, "comp=tier");
  request.headers.Set("x-ms-access-tier", std::string(tier));
  return Send(request, fmt::format("set tier of '{}'", BlobName(path))).status();
}

Status AzureBlobStore::Delete(std::string_view path, const Condition& condition) {
  http::Request request;
  request.method = "DELETE";
  request.url = BlobUrl(path);
  AddCondition(request, condition);
  return Send(request, fmt::format("delete '{}'", BlobName(path)), condition).status();
}

}  // namespace ferry::storage
