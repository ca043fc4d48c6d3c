#include "storage/shared_key.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "storage/azure_endpoint.h"

namespace ferry::storage {
namespace {

// Expected signatures were computed independently (Python's hmac over the documented string to
// sign); the strings to sign follow the layout of "Authorize with Shared Key".
const std::string kKey = *Base64Decode(kDevStoreKey);

TEST(SharedKey, PathStyleUrlSignsTheAccountTwice) {
  http::Request request;
  request.method = "PUT";
  request.url = "http://127.0.0.1:10000/devstoreaccount1/backup/dir%20one/file%23.txt";
  request.body = http::Body::FromString("hello world");
  request.headers.Set("x-ms-version", "2025-11-05");
  request.headers.Set("x-ms-date", "Tue, 24 Nov 2026 18:00:00 GMT");
  request.headers.Set("X-MS-Meta-Modtime", "1700000000000000000");
  request.headers.Set("x-ms-blob-type", "BlockBlob");
  request.headers.Set("If-None-Match", "*");
  std::string expected =
      "PUT\n\n\n11\n\n\n\n\n\n*\n\n\n"
      "x-ms-blob-type:BlockBlob\n"
      "x-ms-date:Tue, 24 Nov 2026 18:00:00 GMT\n"
      "x-ms-meta-modtime:1700000000000000000\n"
      "x-ms-version:2025-11-05\n"
      "/devstoreaccount1/devstoreaccount1/backup/dir%20one/file%23.txt";
  EXPECT_EQ(SharedKeyStringToSign(request, "devstoreaccount1"), expected);
  EXPECT_EQ(SharedKeySignature(expected, kKey), "rlnNqCo60EiYS3g8GVhUz5A5kV9+86Lkl5sa+7oa8/s=");

  SharedKeyPolicy policy("devstoreaccount1", kKey);
  ASSERT_TRUE(policy.Prepare(request).ok());
  EXPECT_EQ(request.headers.Get("Authorization"),
            "SharedKey devstoreaccount1:rlnNqCo60EiYS3g8GVhUz5A5kV9+86Lkl5sa+7oa8/s=");
}

TEST(SharedKey, QueryParametersAreDecodedSortedAndLowerCased) {
  http::Request request;
  request.method = "GET";
  request.url =
      "https://myaccount.blob.core.windows.net/backup?restype=container&comp=list"
      "&Prefix=a%20b%2F&maxresults=10&include=metadata";
  request.headers.Set("x-ms-version", "2025-11-05");
  request.headers.Set("x-ms-date", "Tue, 24 Nov 2026 18:00:00 GMT");
  std::string expected =
      "GET\n\n\n\n\n\n\n\n\n\n\n\n"
      "x-ms-date:Tue, 24 Nov 2026 18:00:00 GMT\n"
      "x-ms-version:2025-11-05\n"
      "/myaccount/backup\ncomp:list\ninclude:metadata\nmaxresults:10\nprefix:a b/\n"
      "restype:container";
  EXPECT_EQ(SharedKeyStringToSign(request, "myaccount"), expected);
  EXPECT_EQ(SharedKeySignature(expected, kKey), "vIEIe/rc4SurvIqnmd696Wx7pIXN1PUDs/HklrfXqI0=");
}

TEST(SharedKey, ZeroContentLengthIsSignedAsEmpty) {
  http::Request request;
  request.method = "PUT";
  request.url = "https://a.blob.core.windows.net/c/empty";
  request.headers.Set("Content-Length", "0");
  EXPECT_TRUE(SharedKeyStringToSign(request, "a").starts_with("PUT\n\n\n\n"));
}

TEST(BlobHeadersPolicy, StampsVersionDateAndKeepsACallersRequestId) {
  http::Request request;
  request.headers.Set("x-ms-client-request-id", "mine");
  BlobHeadersPolicy policy;
  ASSERT_TRUE(policy.Prepare(request).ok());
  EXPECT_EQ(request.headers.Get("x-ms-version"), BlobHeadersPolicy::kApiVersion);
  EXPECT_TRUE(request.headers.Get("x-ms-date")->ends_with(" GMT"));
  EXPECT_EQ(request.headers.Get("x-ms-client-request-id"), "mine");
}

}  // namespace
}  // namespace ferry::storage
