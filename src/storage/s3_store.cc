#include "storage/s3_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <pugixml.hpp>

#include "base/encoding.h"
#include "storage/blob_xml.h"
#include "storage/split_list.h"

namespace ferry::storage {

namespace {

Status ReadOnly(std::string_view what) {
  return Status(Code::kUnsupported,
                fmt::format("{}: an S3 bucket is only ever read by ferry, never written", what));
}

std::string TrimSlashes(std::string_view text) {
  while (text.starts_with('/')) text.remove_prefix(1);
  while (text.ends_with('/')) text.remove_suffix(1);
  return std::string(text);
}

bool IsHex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string S3Endpoint::Redacted() const {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix);
}

std::string S3Endpoint::BucketUrl() const {
  if (path_style) return service + "/" + bucket;
  size_t scheme = service.find("://");
  return service.substr(0, scheme + 3) + bucket + "." + service.substr(scheme + 3);
}

std::string S3Endpoint::ObjectUrl(std::string_view key) const {
  return BucketUrl() + "/" + PercentEncode(key, "/");
}

Result<S3Endpoint> ParseS3Url(std::string_view url, const EnvLookup& env) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) return InvalidInput(fmt::format("'{}' is not an s3:// URL", url));
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  S3Endpoint endpoint;
  endpoint.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) endpoint.prefix = TrimSlashes(rest.substr(slash + 1));
  const std::string& bucket = endpoint.bucket;
  bool valid = bucket.size() >= 3 && bucket.size() <= 63;
  for (char c : bucket) {
    valid = valid && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.');
  }
  if (!valid) {
    return InvalidInput(fmt::format(
        "'{}': the bucket name must be 3 to 63 lower-case letters, digits, '-' or '.', as in "
        "s3://my-bucket/some/prefix",
        url));
  }
  std::optional<std::string> custom = env("AWS_ENDPOINT_URL_S3");
  if (!custom || custom->empty()) custom = env("AWS_ENDPOINT_URL");
  if (custom && !custom->empty()) {
    std::string service = *custom;
    while (service.ends_with('/')) service.pop_back();
    if (!service.starts_with("http://") && !service.starts_with("https://")) {
      return InvalidInput(fmt::format(
          "AWS_ENDPOINT_URL_S3 must be an http:// or https:// URL, as https://minio.example:9000, "
          "not '{}'",
          service));
    }
    endpoint.service = service;
    endpoint.path_style = true;  // S3-compatible stores rarely have a DNS name per bucket
  } else {
    std::string region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
    if (region.empty()) region = "us-east-1";
    endpoint.service = fmt::format("https://s3.{}.amazonaws.com", region);
    endpoint.path_style = bucket.find('.') != std::string::npos;  // TLS names have no dots
  }
  return endpoint;
}

Result<AwsCredentials> AwsCredentialsFromEnv(const EnvLookup& env) {
  AwsCredentials credentials;
  credentials.access_key_id = env("AWS_ACCESS_KEY_ID").value_or("");
  credentials.secret_access_key = env("AWS_SECRET_ACCESS_KEY").value_or("");
  credentials.session_token = env("AWS_SESSION_TOKEN").value_or("");
  std::string region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  if (!region.empty()) credentials.region = region;
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return InvalidInput(
        "no credentials for the S3 source: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_SESSION_TOKEN for temporary credentials; AWS_REGION for the bucket's region)");
  }
  return credentials;
}

std::optional<Md5Digest> Md5FromEtag(std::string_view etag) {
  if (etag.size() == 34 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, 32);
  if (etag.size() != 32 || !IsHex(etag)) return std::nullopt;
  Md5Digest digest;
  for (size_t i = 0; i < 16; ++i) {
    unsigned value = 0;
    std::sscanf(std::string(etag.substr(2 * i, 2)).c_str(), "%2x", &value);
    digest[i] = uint8_t(value);
  }
  return digest;
}

int64_t ParseIsoTimeNs(std::string_view text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &year, &month, &day, &hour, &minute,
                  &second) != 6) {
    return 0;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return int64_t(::timegm(&tm)) * 1'000'000'000;
}

Status S3Error(const http::Response& response, std::string_view what) {
  ServiceError error = ParseServiceError(response.body);
  std::string request_id(response.headers.Get("x-amz-request-id").value_or(""));
  std::string detail = error.message.empty() ? "" : ": " + error.message;
  int status = response.status;
  Code code = Code::kInternal;
  std::string message = fmt::format("{}: unexpected answer{}", what, detail);
  if (status == 404 && error.code == "NoSuchBucket") {
    code = Code::kNotFound;
    message = fmt::format("{}: the bucket does not exist{}", what, detail);
  } else if (status == 404) {
    code = Code::kNotFound;
    message = fmt::format("{}: not found", what);
  } else if (status == 301 || error.code == "PermanentRedirect" ||
             error.code == "AuthorizationHeaderMalformed") {
    code = Code::kInvalidInput;
    message =
        fmt::format("{}: the bucket is in another region{} (set AWS_REGION to it)", what, detail);
  } else if (status == 401 || status == 403) {
    code = Code::kAuth;
    message = fmt::format(
        "{}: S3 refused the credentials{} (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_SESSION_TOKEN's expiry, and that the identity may s3:ListBucket and s3:GetObject)",
        what, detail);
  } else if (status == 429 || status == 503) {
    code = Code::kThrottled;
    message = fmt::format("{}: the service is busy{}", what, detail);
  } else if (status >= 500 || status == 408) {
    code = Code::kTransient;
    message = fmt::format("{}: service error{}", what, detail);
  } else if (status == 400 || status == 416) {
    code = Code::kInvalidInput;
    message = fmt::format("{}: the service rejected the request{}", what, detail);
  }
  Status st(code, std::move(message));
  st.WithHttp(status, error.code, request_id);
  if (error.code == "NoSuchBucket") st.WithEndpointWide();
  return st;
}

// ListObjectsV2, a page at a time; folder markers left out.
class S3Store::ObjectLister : public Lister {
 public:
  ObjectLister(S3Store* store, std::string key_prefix, size_t strip, std::string start_after)
      : store_(store),
        key_prefix_(std::move(key_prefix)),
        strip_(strip),
        start_after_(std::move(start_after)) {}

  Result<bool> Next(Entry& entry) override {
    while (index_ == page_.size()) {
      if (done_) return false;
      FERRY_RETURN_IF_ERROR(FetchPage());
    }
    entry = std::move(page_[index_++]);
    return true;
  }

  bool FullyFetched() const override { return done_; }

 private:
  Status FetchPage() {
    Result<S3ListPage> page =
        store_->ListPage(key_prefix_, token_, /*delimited=*/false, strip_, start_after_);
    if (!page.ok()) return page.status();
    page_ = std::move(page->entries);
    index_ = 0;
    token_ = std::move(page->next_token);
    done_ = token_.empty();
    return Status::Ok();
  }

  S3Store* store_;
  std::string key_prefix_;
  size_t strip_;
  std::string start_after_;  // a full key, or ""
  std::string token_;
  std::vector<Entry> page_;
  size_t index_ = 0;
  bool done_ = false;
};

Result<S3ListPage> ParseListPage(std::string_view xml, size_t strip) {
  pugi::xml_document doc;
  pugi::xml_node result;
  if (doc.load_buffer(xml.data(), xml.size())) result = doc.child("ListBucketResult");
  if (!result) return Status(Code::kTransient, "the answer is no bucket listing");
  S3ListPage page;
  for (pugi::xml_node contents : result.children("Contents")) {
    std::string key = contents.child_value("Key");
    // A folder marker ("dir/", made by consoles and tools for an empty folder) is no object.
    if (key.size() <= strip || key.ends_with('/')) continue;
    Entry entry;
    entry.path = key.substr(strip);
    entry.kind = Kind::kFile;
    entry.size = std::strtoull(contents.child_value("Size"), nullptr, 10);
    entry.mtime_ns = ParseIsoTimeNs(contents.child_value("LastModified"));
    entry.etag = contents.child_value("ETag");
    page.entries.push_back(std::move(entry));
  }
  for (pugi::xml_node common : result.children("CommonPrefixes")) {
    std::string prefix = common.child_value("Prefix");
    if (prefix.size() > strip) page.prefixes.push_back(prefix.substr(strip));
  }
  std::string_view truncated = result.child_value("IsTruncated");
  if (truncated == "true") {
    page.next_token = result.child_value("NextContinuationToken");
    if (page.next_token.empty()) {
      return Status(Code::kTransient,
                    "the listing says it goes on but gives no token for the rest");
    }
  } else if (truncated != "false") {
    return Status(Code::kTransient, "the listing does not say whether it is complete");
  }
  return page;
}

std::optional<Md5Digest> ObjectMd5(const http::Headers& headers) {
  std::string encryption = AsciiLower(headers.Get("x-amz-server-side-encryption").value_or(""));
  if (encryption.starts_with("aws:kms") ||
      headers.Get("x-amz-server-side-encryption-customer-algorithm")) {
    return std::nullopt;
  }
  return Md5FromEtag(headers.Get("ETag").value_or(""));
}

S3Store::S3Store(S3Endpoint endpoint, AwsCredentials credentials, S3Options options)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {
  auto clock = options_.clock ? options_.clock : http::SystemClock();
  retry_ = std::make_shared<http::RetryPolicy>(options_.retry, clock);
  // Retry first: each attempt is signed afresh, with its own date.
  std::vector<std::shared_ptr<http::Policy>> policies{retry_};
  if (options_.throttle) policies.push_back(options_.throttle);
  policies.push_back(std::make_shared<SigV4Policy>(credentials_, clock));
  if (options_.concurrency) {
    policies.push_back(std::make_shared<http::ConcurrencyPolicy>(options_.concurrency));
  }
  pipeline_ = std::make_unique<http::Pipeline>(
      std::move(policies), std::make_shared<http::CurlTransport>(options_.transport));
}

std::string S3Store::Credential() const {
  return fmt::format("AWS access key {}{}", credentials_.access_key_id,
                     credentials_.session_token.empty() ? "" : " (temporary)");
}

std::map<std::string, uint64_t> S3Store::RetriesByCause() const { return retry_->RetriesByCause(); }

std::string S3Store::Key(std::string_view path) const { return JoinPath(endpoint_.prefix, path); }

Result<http::Response> S3Store::Send(http::Request request, std::string_view what) {
  Result<http::Response> response = pipeline_->Send(request);
  if (!response.ok()) {
    Status st = response.status();
    return Status(st.code(), fmt::format("{}: {}", what, st.message()));
  }
  if (response->status / 100 != 2) return S3Error(*response, what);
  return response;
}

Status S3Store::CreateRoot() {
  http::Request request;
  request.url = endpoint_.BucketUrl() + "/?list-type=2&max-keys=1";
  Result<http::Response> response =
      Send(request, fmt::format("list bucket '{}'", endpoint_.bucket));
  return response.status();
}

Result<S3ListPage> S3Store::ListPage(std::string_view key_prefix, std::string_view token,
                                     bool delimited, size_t strip, std::string_view start_after,
                                     int page_size) {
  std::string query = fmt::format(
      "list-type=2&max-keys={}",
      page_size > 0 ? std::min(page_size, options_.list_page_size) : options_.list_page_size);
  if (delimited) query += "&delimiter=%2F";
  if (!key_prefix.empty()) query += "&prefix=" + PercentEncode(key_prefix);
  if (!start_after.empty() && token.empty()) query += "&start-after=" + PercentEncode(start_after);
  if (!token.empty()) query += "&continuation-token=" + PercentEncode(token);
  http::Request request;
  request.url = endpoint_.BucketUrl() + "/?" + query;
  Result<http::Response> response =
      Send(request, fmt::format("list bucket '{}'", endpoint_.bucket));
  if (!response.ok()) return response.status();
  Result<S3ListPage> page = ParseListPage(response->body, strip);
  if (!page.ok()) {
    return Status(page.status().code(),
                  fmt::format("list bucket '{}': {}", endpoint_.bucket, page.status().message()));
  }
  return page;
}

Result<std::unique_ptr<Lister>> S3Store::List(std::string_view prefix, ListOptions options) {
  // A listing has no metadata to leave out.
  std::string base = endpoint_.prefix.empty() ? "" : endpoint_.prefix + "/";
  std::unique_ptr<Lister> flat(new ObjectLister(this, base + std::string(prefix), base.size(),
                                                options.after.empty() ? "" : base + options.after));
  const int streams = options.concurrency;  // auto (0): one stream
  if (streams <= 1 || !options.after.empty() || !(prefix.empty() || prefix.ends_with('/'))) {
    return flat;
  }
  return SplitListing(*this, std::string(prefix), options, streams, std::move(flat));
}

Result<LevelPage> S3Store::ListLevel(std::string_view prefix, std::string_view marker,
                                     const ListOptions& options) {
  std::string base = endpoint_.prefix.empty() ? "" : endpoint_.prefix + "/";
  Result<S3ListPage> page = ListPage(base + std::string(prefix), marker, /*delimited=*/true,
                                     base.size(), "", options.page_size);
  if (!page.ok()) return page.status();
  return LevelPage{std::move(page->entries), std::move(page->prefixes),
                   std::move(page->next_token)};
}

Result<Entry> S3Store::Stat(std::string_view path) {
  http::Request request;
  request.method = "HEAD";
  request.url = endpoint_.ObjectUrl(Key(path));
  Result<http::Response> response = Send(request, fmt::format("read '{}'", Key(path)));
  if (!response.ok()) return response.status();
  const http::Headers& h = response->headers;
  Entry entry;
  entry.path = std::string(path);
  entry.kind = Kind::kFile;
  entry.size =
      std::strtoull(std::string(h.Get("Content-Length").value_or("0")).c_str(), nullptr, 10);
  entry.mtime_ns = ParseHttpDateNs(h.Get("Last-Modified").value_or(""));
  entry.etag = std::string(h.Get("ETag").value_or(""));
  entry.content_md5 = ObjectMd5(h);
  entry.content_type = std::string(h.Get("Content-Type").value_or(""));
  constexpr std::string_view kMeta = "x-amz-meta-";
  for (const auto& [name, value] : h) {
    std::string lower = AsciiLower(name);
    if (lower.starts_with(kMeta)) entry.metadata[lower.substr(kMeta.size())] = value;
  }
  return entry;
}

Result<RootIdentity> S3Store::Identify() { return ObjectStoreIdentity(*this, "s3"); }

Status S3Store::Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) {
  if (length == 0) return Status::Ok();
  http::Request request;
  request.url = endpoint_.ObjectUrl(Key(path));
  request.sink = &sink;
  if (offset != 0 || length != UINT64_MAX) {
    request.headers.Set("Range", length == UINT64_MAX
                                     ? fmt::format("bytes={}-", offset)
                                     : fmt::format("bytes={}-{}", offset, offset + length - 1));
  }
  Result<http::Response> response = Send(request, fmt::format("read '{}'", Key(path)));
  if (!response.ok() && response.status().http_status() == 416) return Status::Ok();  // past end
  return response.status();
}

Result<WriteResult> S3Store::Write(std::string_view path, const http::Body&, const WriteOptions&) {
  return ReadOnly(fmt::format("write '{}'", Key(path)));
}
Status S3Store::StageBlock(std::string_view path, std::string_view, const http::Body&,
                           const std::optional<Md5Digest>&) {
  return ReadOnly(fmt::format("write '{}'", Key(path)));
}
Result<WriteResult> S3Store::Commit(std::string_view path, const std::vector<std::string>&,
                                    const WriteOptions&) {
  return ReadOnly(fmt::format("write '{}'", Key(path)));
}
Result<std::vector<StagedBlock>> S3Store::ListStagedBlocks(std::string_view path) {
  return ReadOnly(fmt::format("write '{}'", Key(path)));
}
Result<WriteResult> S3Store::SetMetadata(std::string_view path, const Metadata&, const Condition&) {
  return ReadOnly(fmt::format("change '{}'", Key(path)));
}
Status S3Store::SetTier(std::string_view path, std::string_view) {
  return ReadOnly(fmt::format("change '{}'", Key(path)));
}
Status S3Store::Delete(std::string_view path, const Condition&) {
  return ReadOnly(fmt::format("delete '{}'", Key(path)));
}

}  // namespace ferry::storage
