// An S3 bucket (AWS, or an S3-compatible store: MinIO, Ceph RGW, StorageGRID, GCS's XML API) as a
// migration's source, over the S3 REST API with Signature V4. Read only: every write refuses.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "http/concurrency.h"
#include "http/pipeline.h"
#include "http/throttle.h"
#include "storage/azure_endpoint.h"
#include "storage/sigv4.h"
#include "storage/store.h"

namespace ferry::storage {

// Where a bucket is: s3://BUCKET[/PREFIX], with the endpoint from AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL (path-style addressing), else AWS in AWS_REGION (virtual-hosted addressing,
// path-style for bucket names with dots).
struct S3Endpoint {
  std::string service;  // "https://s3.us-east-1.amazonaws.com" or the custom endpoint
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'
  bool path_style = false;
  std::string Redacted() const;  // s3://BUCKET/PREFIX
  // The URL of the bucket (no trailing '/') and of an object key.
  std::string BucketUrl() const;
  std::string ObjectUrl(std::string_view key) const;
};

// Parses "s3://BUCKET[/PREFIX]"; the service URL comes from `env` (see S3Endpoint).
Result<S3Endpoint> ParseS3Url(std::string_view url, const EnvLookup& env);

// The credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
// AWS_REGION (or AWS_DEFAULT_REGION); Code::kInvalidInput naming what to set when missing.
Result<AwsCredentials> AwsCredentialsFromEnv(const EnvLookup& env);

struct S3Options {
  http::TransportOptions transport;
  http::RetryOptions retry;
  std::shared_ptr<http::Clock> clock;  // null: the system clock
  int list_page_size = 1000;           // max-keys per ListObjectsV2 page (1-1000)
  std::shared_ptr<http::ThrottlePolicy> throttle;
  std::shared_ptr<http::ConcurrencyLimit> concurrency;
};

// Objects map to paths under the prefix. A listing leaves out folder markers (keys ending in
// '/'). An entry's ETag, size and Last-Modified (whole seconds) are its version; Stat adds its
// Content-Type, its x-amz-meta-* metadata and, for a single-part ETag (the object's MD5), the
// MD5 the bytes read must have. 500 and 503 SlowDown are retried with backoff.
struct S3ListPage;

class S3Store : public Store {
 public:
  S3Store(S3Endpoint endpoint, AwsCredentials credentials, S3Options options = {});

  std::string Describe() const override { return endpoint_.Redacted(); }
  std::string Credential() const override;
  std::map<std::string, uint64_t> RetriesByCause() const override;

  Status CreateRoot() override;  // the bucket must exist; nothing is created
  Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options = {}) override;
  Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                              const ListOptions& options) override;
  bool ListsAfter() const override { return true; }
  Result<Entry> Stat(std::string_view path) override;
  // "s3", empty when nothing is under the prefix: a bucket that lost its objects (or an endpoint
  // pointing at another service) stops a sync before it deletes a single blob.
  Result<RootIdentity> Identify() override;
  Status Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) override;

  // A source only: these refuse with Code::kUnsupported and send nothing.
  Result<WriteResult> Write(std::string_view path, const http::Body& body,
                            const WriteOptions& options) override;
  uint64_t MaxBlockSize() const override { return 5ull << 30; }
  size_t MaxBlocks() const override { return 10'000; }
  Status StageBlock(std::string_view path, std::string_view block_id, const http::Body& body,
                    const std::optional<Md5Digest>& md5) override;
  Result<WriteResult> Commit(std::string_view path, const std::vector<std::string>& block_ids,
                             const WriteOptions& options) override;
  Result<std::vector<StagedBlock>> ListStagedBlocks(std::string_view path) override;
  Result<WriteResult> SetMetadata(std::string_view path, const Metadata& metadata,
                                  const Condition& condition) override;
  Status SetTier(std::string_view path, std::string_view tier) override;
  Status Delete(std::string_view path, const Condition& condition) override;

 private:
  class ObjectLister;
  // One ListObjectsV2 page of the keys under `key_prefix` (by level with `delimited`), paths
  // without their first `strip` characters; at most `page_size` keys where it is above 0 and
  // below the store's page.
  Result<S3ListPage> ListPage(std::string_view key_prefix, std::string_view token, bool delimited,
                              size_t strip, std::string_view start_after = "", int page_size = 0);
  std::string Key(std::string_view path) const;
  Result<http::Response> Send(http::Request request, std::string_view what);

  S3Endpoint endpoint_;
  AwsCredentials credentials_;
  S3Options options_;
  std::shared_ptr<http::RetryPolicy> retry_;
  std::unique_ptr<http::Pipeline> pipeline_;
};

// One ListObjectsV2 page: its objects (keys after the first `strip` characters; folder markers
// left out) and the token of the next page, empty on the last. A page that is no
// ListBucketResult, or says it is truncated without a token, is an error: a listing taken as
// complete when it is not would make a mirror sync delete what it did not see.
struct S3ListPage {
  std::vector<Entry> entries;
  std::vector<std::string> prefixes;  // with a delimiter: the CommonPrefixes, in order
  std::string next_token;
};
Result<S3ListPage> ParseListPage(std::string_view xml, size_t strip);

// The MD5 an object's bytes must have, from a HEAD's headers: its single-part ETag, unless the
// object is encrypted with SSE-KMS or SSE-C, whose ETags are no MD5.
std::optional<Md5Digest> ObjectMd5(const http::Headers& headers);

// The MD5 a single-part upload's ETag is ("\"<32 hex>\""); nullopt for a multipart ETag
// ("...-N") or any other form.
std::optional<Md5Digest> Md5FromEtag(std::string_view etag);

// Parses S3's ISO 8601 times ("2026-12-01T00:03:00.000Z") to Unix nanoseconds, whole seconds;
// 0 if malformed.
int64_t ParseIsoTimeNs(std::string_view text);

// The Status for a failed S3 request, from its <Error><Code> and HTTP status.
Status S3Error(const http::Response& response, std::string_view what);

}  // namespace ferry::storage
