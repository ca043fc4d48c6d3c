// Shared Key authorisation for the Blob service: the string to sign and the request policy that
// signs every attempt.
#pragma once

#include <string>
#include <string_view>

#include "http/pipeline.h"

namespace ferry::storage {

// The canonical string that Shared Key signs for `request` (absolute, percent-encoded URL). The
// canonicalized resource is "/" + account + the URL's encoded path, so a path-style URL such as
// http://127.0.0.1:10000/devstoreaccount1/c/b gives "/devstoreaccount1/devstoreaccount1/c/b".
std::string SharedKeyStringToSign(const http::Request& request, std::string_view account);

// base64(HMAC-SHA256(key, string_to_sign)), `key` being the decoded account key bytes.
std::string SharedKeySignature(std::string_view string_to_sign, std::string_view key);

// Adds "Authorization: SharedKey ACCOUNT:SIGNATURE". Must run after every policy that sets a
// header that is signed (x-ms-date among them).
class SharedKeyPolicy : public http::RequestPolicy {
 public:
  SharedKeyPolicy(std::string account, std::string key)
      : account_(std::move(account)), key_(std::move(key)) {}
  Status Prepare(http::Request& request) override;

 private:
  std::string account_;
  std::string key_;
};

// Authenticates by SAS: appends the token to the request's query.
class SasPolicy : public http::RequestPolicy {
 public:
  explicit SasPolicy(std::string sas) : sas_(std::move(sas)) {}
  Status Prepare(http::Request& request) override {
    request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + sas_;
    return Status::Ok();
  }

 private:
  std::string sas_;
};

// Adds the headers every Blob request carries: x-ms-version, x-ms-date (fresh on each attempt)
// and x-ms-client-request-id (unless the caller set one to keep across retries).
class BlobHeadersPolicy : public http::RequestPolicy {
 public:
  static constexpr std::string_view kApiVersion = "2025-11-05";
  Status Prepare(http::Request& request) override;
};

}  // namespace ferry::storage
