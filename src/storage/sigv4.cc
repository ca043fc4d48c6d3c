#include "storage/sigv4.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "base/encoding.h"

namespace ferry::storage {

namespace {

// "https://host:port/path?query" → host[:port] as the Host header carries it, the path, and
// the query.
struct UrlParts {
  std::string host, path, query;
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts parts;
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t slash = url.find_first_of("/?", start);
  parts.host = std::string(url.substr(start, slash - start));
  std::string_view rest = slash == std::string_view::npos ? "" : url.substr(slash);
  size_t question = rest.find('?');
  parts.path = std::string(rest.substr(0, question));
  if (parts.path.empty()) parts.path = "/";
  if (question != std::string_view::npos) parts.query = std::string(rest.substr(question + 1));
  // The default port is left out of the Host header.
  bool https = url.starts_with("https://");
  if ((https && parts.host.ends_with(":443")) || (!https && parts.host.ends_with(":80"))) {
    parts.host.resize(parts.host.rfind(':'));
  }
  return parts;
}

// The query with each name and value encoded as AWS does (every byte but the unreserved ones),
// sorted by name, then value.
std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> fields;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view field = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (field.empty()) continue;
    size_t eq = field.find('=');
    std::string_view name = field.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : field.substr(eq + 1);
    fields.emplace_back(PercentEncode(PercentDecode(name).value_or(std::string(name))),
                        PercentEncode(PercentDecode(value).value_or(std::string(value))));
  }
  std::sort(fields.begin(), fields.end());
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string Trim(std::string_view value) {
  size_t begin = value.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  size_t end = value.find_last_not_of(" \t");
  std::string out;
  bool space = false;  // inner runs of spaces become one
  for (char c : value.substr(begin, end - begin + 1)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The signed headers: every header the request carries (Host included), by lower-case name.
std::vector<std::pair<std::string, std::string>> SignedHeaders(const http::Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(AsciiLower(name), Trim(value));
  }
  if (!request.headers.Has("host")) headers.emplace_back("host", SplitUrl(request.url).host);
  std::sort(headers.begin(), headers.end());
  return headers;
}

std::string SignedHeaderNames(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string names;
  for (const auto& header : headers) {
    if (!names.empty()) names += ';';
    names += header.first;
  }
  return names;
}

}  // namespace

std::string CanonicalRequestV4(const http::Request& request, std::string_view payload_hash) {
  UrlParts url = SplitUrl(request.url);
  auto headers = SignedHeaders(request);
  std::string canonical_headers;
  for (const auto& [name, value] : headers) canonical_headers += name + ":" + value + "\n";
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, url.path, CanonicalQuery(url.query),
                     canonical_headers, SignedHeaderNames(headers), payload_hash);
}

Status SignV4(http::Request& request, const AwsCredentials& credentials, std::string_view service,
              std::chrono::system_clock::time_point now) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::string date = fmt::format("{:%Y%m%d}", utc);
  std::string stamp = fmt::format("{:%Y%m%dT%H%M%SZ}", utc);
  std::string payload_hash =
      request.body.size == 0 ? HexEncode(Sha256("")) : std::string(kUnsignedPayload);
  request.headers.Remove("Authorization");
  request.headers.Set("x-amz-date", stamp);
  request.headers.Set("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty()) {
    request.headers.Set("x-amz-security-token", credentials.session_token);
  }
  std::string scope = fmt::format("{}/{}/{}/aws4_request", date, credentials.region, service);
  std::string to_sign = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", stamp, scope,
                                    HexEncode(Sha256(CanonicalRequestV4(request, payload_hash))));
  std::string key = HmacSha256("AWS4" + credentials.secret_access_key, date);
  key = HmacSha256(key, credentials.region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  request.headers.Set(
      "Authorization",
      fmt::format("AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={}",
                  credentials.access_key_id, scope, SignedHeaderNames(SignedHeaders(request)),
                  HexEncode(HmacSha256(key, to_sign))));
  return Status::Ok();
}

Status SigV4Policy::Prepare(http::Request& request) {
  return SignV4(request, credentials_, "s3", clock_->Now());
}

}  // namespace ferry::storage
