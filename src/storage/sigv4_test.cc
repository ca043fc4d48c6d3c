#include "storage/sigv4.h"

#include <gtest/gtest.h>

#include <ctime>

#include "storage/s3_store.h"

namespace ferry::testing {
namespace {

// 2013-05-24T00:00:00Z, the time of AWS's examples.
std::chrono::system_clock::time_point ExampleTime() {
  std::tm tm{};
  tm.tm_year = 113;
  tm.tm_mon = 4;
  tm.tm_mday = 24;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

storage::AwsCredentials ExampleCredentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "us-east-1"};
}

// "Example: GET Object" of the S3 API reference's Signature V4 page.
TEST(SignV4, MatchesAwsPublishedGetObjectExample) {
  http::Request request;
  request.url = "https://examplebucket.s3.amazonaws.com/test.txt";
  request.headers.Set("Range", "bytes=0-9");
  ASSERT_TRUE(storage::SignV4(request, ExampleCredentials(), "s3", ExampleTime()).ok());
  EXPECT_EQ(request.headers.Get("Authorization").value_or(""),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(request.headers.Get("x-amz-date").value_or(""), "20130524T000000Z");
}

// "Example: GET Bucket (List Objects)": the query goes in canonical order whatever its order.
TEST(SignV4, MatchesAwsPublishedListObjectsExample) {
  http::Request request;
  request.url = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2";
  ASSERT_TRUE(storage::SignV4(request, ExampleCredentials(), "s3", ExampleTime()).ok());
  std::string auth(request.headers.Get("Authorization").value_or(""));
  EXPECT_NE(auth.find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            std::string::npos)
      << auth;
}

TEST(SignV4, SignsTheSessionTokenAndLeavesDefaultPortsOutOfTheHost) {
  storage::AwsCredentials credentials = ExampleCredentials();
  credentials.session_token = "session";
  http::Request request;
  request.url = "https://examplebucket.s3.amazonaws.com:443/a%20b?list-type=2&prefix=a%2Bb";
  ASSERT_TRUE(storage::SignV4(request, credentials, "s3", ExampleTime()).ok());
  EXPECT_EQ(request.headers.Get("x-amz-security-token").value_or(""), "session");
  std::string canonical = storage::CanonicalRequestV4(request, "UNSIGNED-PAYLOAD");
  EXPECT_NE(canonical.find("host:examplebucket.s3.amazonaws.com\n"), std::string::npos)
      << canonical;
  EXPECT_NE(canonical.find("\n/a%20b\nlist-type=2&prefix=a%2Bb\n"), std::string::npos) << canonical;
  EXPECT_NE(canonical.find("x-amz-security-token"), std::string::npos);
}

TEST(S3Store, ASinglePartEtagIsTheMd5AndAMultipartOneIsNot) {
  auto md5 = storage::Md5FromEtag("\"5d41402abc4b2a76b9719d911017c592\"");
  ASSERT_TRUE(md5.has_value());
  EXPECT_EQ(Md5Hex(*md5), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_FALSE(storage::Md5FromEtag("\"3b5856034feca33ea00e9a4d1e10d220-2\""));
  EXPECT_FALSE(storage::Md5FromEtag("\"0x8DCE1F4B2C3D4E5\""));
  EXPECT_FALSE(storage::Md5FromEtag(""));
}

TEST(S3Store, ParsesTheBucketAndWhereItIs) {
  std::map<std::string, std::string> vars;
  storage::EnvLookup env = [&](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  auto aws = storage::ParseS3Url("s3://my-bucket/some/prefix/", env);
  ASSERT_TRUE(aws.ok()) << aws.status().message();
  EXPECT_EQ(aws->prefix, "some/prefix");
  EXPECT_EQ(aws->ObjectUrl("some/prefix/a b/c+d"),
            "https://my-bucket.s3.us-east-1.amazonaws.com/some/prefix/a%20b/c%2Bd");
  vars["AWS_REGION"] = "eu-west-1";
  EXPECT_EQ(storage::ParseS3Url("s3://dotted.bucket", env)->BucketUrl(),
            "https://s3.eu-west-1.amazonaws.com/dotted.bucket");
  vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000/";
  EXPECT_EQ(storage::ParseS3Url("s3://b12", env)->BucketUrl(), "http://127.0.0.1:9000/b12");
  for (const char* bad : {"s3://", "s3://UPPER", "s3://ab", "s3://under_score/x"}) {
    auto parsed = storage::ParseS3Url(bad, env);
    EXPECT_EQ(parsed.status().code(), Code::kInvalidInput) << bad;
  }
  EXPECT_EQ(storage::ParseIsoTimeNs("2026-12-01T00:03:00.000Z"),
            int64_t(1'796'083'380) * 1'000'000'000);
}

TEST(S3ListPage, ObjectsAndTheNextToken) {
  auto page = storage::ParseListPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<Contents><Key>pre/a.txt</Key><Size>5</Size><ETag>\"e1\"</ETag>"
      "<LastModified>2026-12-01T00:03:00.000Z</LastModified></Contents>"
      "<Contents><Key>pre/dir/</Key><Size>0</Size></Contents>"
      "<NextContinuationToken>next+1</NextContinuationToken></ListBucketResult>",
      4);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 1u) << "the folder marker is left out";
  EXPECT_EQ(page->entries[0].path, "a.txt");
  EXPECT_EQ(page->entries[0].size, 5u);
  EXPECT_EQ(page->entries[0].etag, "\"e1\"");
  EXPECT_EQ(page->next_token, "next+1");
  auto last = storage::ParseListPage("<ListBucketResult><IsTruncated>false</IsTruncated>"
                                     "</ListBucketResult>",
                                     0);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->next_token.empty());
}

TEST(S3ListPage, AListingThatCannotBeTrustedToBeCompleteIsAnError) {
  // Each would otherwise end the listing early, and a mirror sync would delete the rest.
  for (const char* xml : {
           "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
           "<Error><Code>InternalError</Code></Error>",
           "<html>a captive portal</html>",
           "not xml at all",
       }) {
    EXPECT_FALSE(storage::ParseListPage(xml, 0).ok()) << xml;
  }
}

TEST(S3ObjectMd5, OnlyAPlainSinglePartEtagIsAnMd5) {
  const std::string etag = "\"9e107d9d372bb6826bd81d3542a419d6\"";
  http::Headers plain;
  plain.Set("ETag", etag);
  EXPECT_TRUE(storage::ObjectMd5(plain).has_value());
  http::Headers s3_managed = plain;
  s3_managed.Set("x-amz-server-side-encryption", "AES256");
  EXPECT_TRUE(storage::ObjectMd5(s3_managed).has_value()) << "SSE-S3 ETags are MD5s";
  http::Headers kms = plain;
  kms.Set("x-amz-server-side-encryption", "aws:kms");
  EXPECT_FALSE(storage::ObjectMd5(kms).has_value());
  http::Headers kms_dsse = plain;
  kms_dsse.Set("x-amz-server-side-encryption", "aws:kms:dsse");
  EXPECT_FALSE(storage::ObjectMd5(kms_dsse).has_value());
  http::Headers customer = plain;
  customer.Set("x-amz-server-side-encryption-customer-algorithm", "AES256");
  EXPECT_FALSE(storage::ObjectMd5(customer).has_value());
  http::Headers multipart;
  multipart.Set("ETag", "\"9e107d9d372bb6826bd81d3542a419d6-3\"");
  EXPECT_FALSE(storage::ObjectMd5(multipart).has_value());
}

}  // namespace
}  // namespace ferry::testing
