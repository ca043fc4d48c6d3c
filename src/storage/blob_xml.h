// The XML documents of the Blob REST API that ferry reads and writes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/store.h"

namespace ferry::storage {

// One page of a List Blobs answer. Entry paths are full blob names (prefix included).
struct BlobListPage {
  std::vector<Entry> entries;
  std::vector<std::string> prefixes;  // with a delimiter: the BlobPrefix names, in order
  std::string next_marker;            // "" on the last page
};

Result<BlobListPage> ParseBlobList(std::string_view xml);

// The uncommitted blocks of a Get Block List answer; ids are decoded from base64.
Result<std::vector<StagedBlock>> ParseUncommittedBlocks(std::string_view xml);

// The body of a Put Block List request; ids are base64-encoded here.
std::string BlockListXml(const std::vector<std::string>& block_ids);

struct ServiceError {
  std::string code;
  std::string message;
};
// The <Error><Code/><Message/></Error> document of a failed request; empty fields if absent.
ServiceError ParseServiceError(std::string_view xml);

// A stored access policy of a container (Get Container ACL).
struct StoredPolicy {
  std::string id;
  std::string permissions;  // "rwdl", or "" when the policy sets none
  std::string expiry;       // ISO 8601 as the service wrote it, or ""
};
Result<std::vector<StoredPolicy>> ParseSignedIdentifiers(std::string_view xml);

// What Get Blob Service Properties says about data protection and monitoring.
struct ServiceProperties {
  bool logging_read = false, logging_write = false, logging_delete = false;
  bool hour_metrics = false, minute_metrics = false;
  bool delete_retention = false;  // blob soft delete
  int delete_retention_days = 0;
};
Result<ServiceProperties> ParseServiceProperties(std::string_view xml);

// Parses an RFC 1123 date ("Tue, 24 Nov 2026 17:45:57 GMT") to Unix nanoseconds; 0 if malformed
// or too far in the future to count in nanoseconds.
int64_t ParseHttpDateNs(std::string_view text);

}  // namespace ferry::storage
