// AWS Signature Version 4 for S3 requests: the canonical request, the string to sign and the
// Authorization header, with OpenSSL's SHA-256 and HMAC.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "http/pipeline.h"
#include "http/retry_policy.h"

namespace ferry::storage {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (AWS_SESSION_TOKEN); may be empty
  std::string region = "us-east-1";
};

// The SHA-256 (hex) that stands for a body the signature does not cover.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Signs `request` for `service` at `now`: sets x-amz-date, x-amz-content-sha256 (the hex SHA-256
// of an empty body, or UNSIGNED-PAYLOAD for a body), x-amz-security-token with a session token,
// and Authorization. The URL must be percent-encoded as it goes on the wire (S3 paths are not
// encoded twice); the query is put in canonical order for the signature only.
Status SignV4(http::Request& request, const AwsCredentials& credentials, std::string_view service,
              std::chrono::system_clock::time_point now);

// The canonical request SignV4 signs, for tests against AWS's published examples.
std::string CanonicalRequestV4(const http::Request& request, std::string_view payload_hash);

// Signs each attempt afresh (put it after the retry policy).
class SigV4Policy : public http::RequestPolicy {
 public:
  SigV4Policy(AwsCredentials credentials, std::shared_ptr<http::Clock> clock)
      : credentials_(std::move(credentials)), clock_(std::move(clock)) {}
  Status Prepare(http::Request& request) override;

 private:
  AwsCredentials credentials_;
  std::shared_ptr<http::Clock> clock_;
};

}  // namespace ferry::storage
