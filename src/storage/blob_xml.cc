#include "storage/blob_xml.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <pugixml.hpp>

#include "base/encoding.h"
#include "base/text.h"
#include "storage/memory_store.h"

namespace ferry::storage {

namespace {

Status Malformed(std::string_view what) {
  return Status(Code::kInternal, fmt::format("malformed {} from the service", what));
}

uint64_t ToU64(std::string_view text) {
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

int64_t ParseHttpDateNs(std::string_view text) {
  std::string copy(text);
  time_t t = curl_getdate(copy.c_str(), nullptr);
  // Beyond what nanoseconds since 1970 can hold (after 2262): not a date ferry can use.
  if (t < 0 || int64_t(t) > INT64_MAX / 1'000'000'000) return 0;
  return int64_t(t) * 1'000'000'000;
}

Result<std::vector<StoredPolicy>> ParseSignedIdentifiers(std::string_view xml) {
  std::vector<StoredPolicy> policies;
  if (xml.find_first_not_of(" \t\r\n") == std::string_view::npos) return policies;  // none
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Malformed("container access policy");
  pugi::xml_node root = doc.child("SignedIdentifiers");
  if (!root) return Malformed("container access policy");
  for (pugi::xml_node id : root.children("SignedIdentifier")) {
    pugi::xml_node policy = id.child("AccessPolicy");
    policies.push_back(
        {id.child_value("Id"), policy.child_value("Permission"), policy.child_value("Expiry")});
  }
  return policies;
}

Result<ServiceProperties> ParseServiceProperties(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Malformed("service properties");
  pugi::xml_node root = doc.child("StorageServiceProperties");
  if (!root) return Malformed("service properties");
  auto yes = [](pugi::xml_node node, const char* name) {
    return std::string_view(node.child_value(name)) == "true";
  };
  ServiceProperties p;
  pugi::xml_node logging = root.child("Logging");
  p.logging_read = yes(logging, "Read");
  p.logging_write = yes(logging, "Write");
  p.logging_delete = yes(logging, "Delete");
  p.hour_metrics = yes(root.child("HourMetrics"), "Enabled");
  p.minute_metrics = yes(root.child("MinuteMetrics"), "Enabled");
  pugi::xml_node retention = root.child("DeleteRetentionPolicy");
  p.delete_retention = yes(retention, "Enabled");
  p.delete_retention_days = std::atoi(retention.child_value("Days"));
  return p;
}

Result<BlobListPage> ParseBlobList(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Malformed("blob listing");
  pugi::xml_node root = doc.child("EnumerationResults");
  if (!root) return Malformed("blob listing");
  BlobListPage page;
  page.next_marker = root.child_value("NextMarker");
  auto name_of = [](pugi::xml_node name) -> std::optional<std::string> {
    std::string text = name.child_value();
    if (!name.attribute("Encoded").as_bool()) return text;
    return PercentDecode(text);
  };
  for (pugi::xml_node prefix : root.child("Blobs").children("BlobPrefix")) {
    std::optional<std::string> name = name_of(prefix.child("Name"));
    if (!name) return Malformed("encoded blob prefix");
    page.prefixes.push_back(std::move(*name));
  }
  for (pugi::xml_node blob : root.child("Blobs").children("Blob")) {
    Entry entry;
    std::optional<std::string> name = name_of(blob.child("Name"));
    if (!name) return Malformed("encoded blob name");
    entry.path = std::move(*name);
    pugi::xml_node props = blob.child("Properties");
    entry.size = ToU64(props.child_value("Content-Length"));
    entry.etag = props.child_value("Etag");
    // Listings give the ETag bare; headers (and If-Match) quote it. ferry keeps the quoted form.
    if (!entry.etag.empty() && entry.etag.front() != '"') entry.etag = '"' + entry.etag + '"';
    entry.mtime_ns = ParseHttpDateNs(props.child_value("Last-Modified"));
    entry.tier = props.child_value("AccessTier");
    entry.content_type = props.child_value("Content-Type");
    if (auto md5 = Base64Decode(props.child_value("Content-MD5")); md5 && md5->size() == 16) {
      Md5Digest digest;
      std::copy(md5->begin(), md5->end(), digest.begin());
      entry.content_md5 = digest;
    }
    for (pugi::xml_node meta : blob.child("Metadata").children()) {
      entry.metadata[meta.name()] = meta.child_value();
    }
    entry.kind = KindFromMetadata(entry.metadata);
    page.entries.push_back(std::move(entry));
  }
  return page;
}

Result<std::vector<StagedBlock>> ParseUncommittedBlocks(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return Malformed("block list");
  pugi::xml_node root = doc.child("BlockList");
  if (!root) return Malformed("block list");
  std::vector<StagedBlock> blocks;
  for (pugi::xml_node block : root.child("UncommittedBlocks").children("Block")) {
    auto id = Base64Decode(block.child_value("Name"));
    if (!id) return Malformed("block id");
    blocks.push_back({std::move(*id), ToU64(block.child_value("Size"))});
  }
  return blocks;
}

std::string BlockListXml(const std::vector<std::string>& block_ids) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : block_ids) {
    xml += "<Latest>" + EscapeXml(Base64Encode(id)) + "</Latest>";
  }
  xml += "</BlockList>";
  return xml;
}

ServiceError ParseServiceError(std::string_view xml) {
  ServiceError error;
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return error;
  pugi::xml_node root = doc.child("Error");
  error.code = root.child_value("Code");
  error.message = root.child_value("Message");
  // The service puts a request id and time on a second line; keep the first.
  if (size_t nl = error.message.find('\n'); nl != std::string::npos) error.message.resize(nl);
  return error;
}

}  // namespace ferry::storage
