#include "storage/blob_xml.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "storage/azure_blob_store.h"

namespace ferry::storage {
namespace {

TEST(ParseBlobList, ReadsEntriesMetadataAndTheNextMarker) {
  const char* xml = R"(<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="c">
  <Prefix>p/</Prefix><MaxResults>2</MaxResults>
  <Blobs>
    <Blob><Name>p/a &amp; b.txt</Name>
      <Properties><Last-Modified>Tue, 24 Nov 2026 18:00:00 GMT</Last-Modified>
        <Etag>0x8DD1</Etag><Content-Length>11</Content-Length>
        <Content-MD5>XrY7u+Ae7tCTyyK7j1rNww==</Content-MD5><AccessTier>Cool</AccessTier>
      </Properties>
      <Metadata><modtime>1700000000000000000</modtime><permissions>33188</permissions></Metadata>
    </Blob>
    <Blob><Name>p/folder</Name><Properties><Content-Length>0</Content-Length></Properties>
      <Metadata><hdi_isfolder>true</hdi_isfolder></Metadata></Blob>
    <Blob><Name Encoded="true">p/bad%EF%BF%BFname</Name><Properties><Content-Length>1</Content-Length></Properties></Blob>
  </Blobs>
  <NextMarker>2!72!MDAwMDA3IXAvZm9sZGVyITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--</NextMarker>
</EnumerationResults>)";
  auto page = ParseBlobList(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 3u);
  const Entry& a = page->entries[0];
  EXPECT_EQ(a.path, "p/a & b.txt");
  EXPECT_EQ(a.size, 11u);
  EXPECT_EQ(a.etag, "\"0x8DD1\"");
  EXPECT_EQ(a.tier, "Cool");
  EXPECT_EQ(a.mtime_ns, 1795543200000000000);
  ASSERT_TRUE(a.content_md5.has_value());
  EXPECT_EQ(Md5Hex(*a.content_md5), "5eb63bbbe01eeed093cb22bb8f5acdc3");  // md5("hello world")
  EXPECT_EQ(a.metadata.at("permissions"), "33188");
  EXPECT_EQ(a.kind, Kind::kFile);
  EXPECT_EQ(page->entries[1].kind, Kind::kFolder);
  EXPECT_EQ(page->entries[2].path, "p/bad\xEF\xBF\xBFname");
  EXPECT_EQ(page->next_marker.substr(0, 4), "2!72");
}

TEST(ParseBlobList, LastPageHasNoMarkerAndGarbageIsAnError) {
  auto last = ParseBlobList("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->entries.empty());
  EXPECT_TRUE(last->next_marker.empty());
  EXPECT_FALSE(ParseBlobList("<html>proxy error</html>").ok());
  EXPECT_FALSE(ParseBlobList("not xml at all <").ok());
}

TEST(BlockList, BuildsAndParsesBase64Ids) {
  std::string xml = BlockListXml({"id-0001", "id-0002"});
  EXPECT_EQ(xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>aWQtMDAwMQ==</Latest>"
            "<Latest>aWQtMDAwMg==</Latest></BlockList>");
  auto blocks = ParseUncommittedBlocks(
      "<BlockList><CommittedBlocks/><UncommittedBlocks><Block><Name>aWQtMDAwMQ==</Name>"
      "<Size>4194304</Size></Block></UncommittedBlocks></BlockList>");
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].id, "id-0001");
  EXPECT_EQ((*blocks)[0].size, 4194304u);
}

TEST(HttpDate, ParsesAndRejectsWhatNanosecondsCannotHold) {
  EXPECT_EQ(ParseHttpDateNs("Tue, 24 Nov 2026 18:00:00 GMT"), 1795543200000000000);
  EXPECT_EQ(ParseHttpDateNs("Tue, 24 Nov 2475 18:00:00 GMT"), 0) << "found by the fuzzer";
  EXPECT_EQ(ParseHttpDateNs("not a date"), 0);
}

TEST(ServiceError, KeepsCodeAndTheFirstLineOfTheMessage) {
  ServiceError e = ParseServiceError(
      "<?xml version=\"1.0\"?><Error><Code>ConditionNotMet</Code><Message>The condition "
      "specified using HTTP conditional header(s) is not "
      "met.\nRequestId:1\nTime:x</Message></Error>");
  EXPECT_EQ(e.code, "ConditionNotMet");
  EXPECT_EQ(e.message, "The condition specified using HTTP conditional header(s) is not met.");
  EXPECT_TRUE(ParseServiceError("").code.empty());
}

TEST(ParseSignedIdentifiers, ReadsEachStoredPolicyAndAnEmptyBodyAsNone) {
  auto policies = ParseSignedIdentifiers(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers><SignedIdentifier>"
      "<Id>forever</Id><AccessPolicy><Start>2026-01-01T00:00:00.0000000Z</Start>"
      "<Expiry>2027-01-01T00:00:00.0000000Z</Expiry><Permission>rl</Permission></AccessPolicy>"
      "</SignedIdentifier><SignedIdentifier><Id>bare</Id></SignedIdentifier></SignedIdentifiers>");
  ASSERT_TRUE(policies.ok()) << policies.status().ToString();
  ASSERT_EQ(policies->size(), 2u);
  EXPECT_EQ((*policies)[0].id, "forever");
  EXPECT_EQ((*policies)[0].permissions, "rl");
  EXPECT_EQ((*policies)[0].expiry, "2027-01-01T00:00:00.0000000Z");
  EXPECT_EQ((*policies)[1].expiry, "");
  EXPECT_TRUE(ParseSignedIdentifiers("").ok());
  EXPECT_FALSE(ParseSignedIdentifiers("<Other/>").ok());
}

TEST(ParseServiceProperties, ReadsSoftDeleteLoggingAndMetrics) {
  auto p = ParseServiceProperties(
      "<StorageServiceProperties><Logging><Version>1.0</Version><Read>false</Read>"
      "<Write>true</Write><Delete>false</Delete></Logging><HourMetrics><Enabled>false</Enabled>"
      "</HourMetrics><MinuteMetrics><Enabled>true</Enabled></MinuteMetrics>"
      "<DeleteRetentionPolicy><Enabled>true</Enabled><Days>5</Days></DeleteRetentionPolicy>"
      "</StorageServiceProperties>");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->logging_read);
  EXPECT_TRUE(p->logging_write);
  EXPECT_FALSE(p->hour_metrics);
  EXPECT_TRUE(p->minute_metrics);
  EXPECT_TRUE(p->delete_retention);
  EXPECT_EQ(p->delete_retention_days, 5);
  EXPECT_FALSE(ParseServiceProperties("not xml").ok());
}

}  // namespace
// The service's error codes become ferry's kinds here, in storage/, and nowhere above it.
TEST(BlobError, MapsTheServiceCodesToFerrysKinds) {
  auto error = [](int status, const char* code) {
    http::Response response;
    response.status = status;
    response.headers.Set("x-ms-error-code", code);
    return BlobError(response, "write 'a'", Condition::IfNoneExists());
  };
  Status gone = error(404, "ContainerNotFound");
  EXPECT_EQ(gone.code(), Code::kNotFound);
  EXPECT_TRUE(gone.endpoint_wide()) << "every item would meet it";
  EXPECT_FALSE(error(404, "BlobNotFound").endpoint_wide());
  EXPECT_EQ(error(412, "ConditionNotMet").code(), Code::kAlreadyExists);
  EXPECT_EQ(error(403, "AuthenticationFailed").code(), Code::kAuth);
  EXPECT_EQ(error(503, "ServerBusy").code(), Code::kThrottled);
}

}  // namespace ferry::storage
