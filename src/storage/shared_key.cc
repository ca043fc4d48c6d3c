#include "storage/shared_key.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <map>
#include <random>
#include <vector>

#include "base/encoding.h"
#include "base/text.h"

namespace ferry::storage {

namespace {

std::string HeaderOrEmpty(const http::Request& request, std::string_view name) {
  auto value = request.headers.Get(name);
  return value ? std::string(*value) : std::string();
}

}  // namespace

std::string SharedKeyStringToSign(const http::Request& request, std::string_view account) {
  std::string s = request.method + "\n";
  s += HeaderOrEmpty(request, "Content-Encoding") + "\n";
  s += HeaderOrEmpty(request, "Content-Language") + "\n";
  std::string length = HeaderOrEmpty(request, "Content-Length");
  if (length.empty() && request.body.size > 0) length = std::to_string(request.body.size);
  s += (length == "0" ? "" : length) + "\n";
  s += HeaderOrEmpty(request, "Content-MD5") + "\n";
  s += HeaderOrEmpty(request, "Content-Type") + "\n";
  s += HeaderOrEmpty(request, "Date") + "\n";
  s += HeaderOrEmpty(request, "If-Modified-Since") + "\n";
  s += HeaderOrEmpty(request, "If-Match") + "\n";
  s += HeaderOrEmpty(request, "If-None-Match") + "\n";
  s += HeaderOrEmpty(request, "If-Unmodified-Since") + "\n";
  s += HeaderOrEmpty(request, "Range") + "\n";

  std::map<std::string, std::string> ms_headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower = AsciiLower(name);
    if (lower.starts_with("x-ms-")) ms_headers[lower] = value;
  }
  for (const auto& [name, value] : ms_headers) s += name + ":" + value + "\n";

  // Canonicalized resource: /account/encoded-path, then each query parameter, decoded.
  std::string_view url = request.url;
  size_t scheme = url.find("://");
  size_t path_start = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  size_t query_start = url.find('?');
  std::string_view path = path_start == std::string_view::npos
                              ? "/"
                              : url.substr(path_start, query_start == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : query_start - path_start);
  s += "/" + std::string(account) + std::string(path);

  std::map<std::string, std::vector<std::string>> params;
  if (query_start != std::string_view::npos) {
    std::string_view query = url.substr(query_start + 1);
    while (!query.empty()) {
      size_t end = query.find('&');
      std::string_view param = query.substr(0, end);
      query = end == std::string_view::npos ? "" : query.substr(end + 1);
      if (param.empty()) continue;
      size_t eq = param.find('=');
      std::string name = AsciiLower(PercentDecode(param.substr(0, eq)).value_or(""));
      std::string value =
          eq == std::string_view::npos ? "" : PercentDecode(param.substr(eq + 1)).value_or("");
      params[name].push_back(value);
    }
  }
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    s += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i];
  }
  return s;
}

std::string SharedKeySignature(std::string_view string_to_sign, std::string_view key) {
  return Base64Encode(HmacSha256(key, string_to_sign));
}

Status SharedKeyPolicy::Prepare(http::Request& request) {
  std::string signature = SharedKeySignature(SharedKeyStringToSign(request, account_), key_);
  request.headers.Set("Authorization", fmt::format("SharedKey {}:{}", account_, signature));
  return Status::Ok();
}

Status BlobHeadersPolicy::Prepare(http::Request& request) {
  request.headers.Set("x-ms-version", std::string(kApiVersion));
  request.headers.Set("x-ms-date", HttpTime(int64_t(std::time(nullptr)) * 1'000'000'000));
  if (!request.headers.Has("x-ms-client-request-id")) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    request.headers.Set("x-ms-client-request-id", fmt::format("{:016x}{:016x}", rng(), rng()));
  }
  return Status::Ok();
}

}  // namespace ferry::storage
