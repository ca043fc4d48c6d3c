#include "storage/azure_endpoint.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "base/encoding.h"
#include "base/text.h"
#include "http/request.h"

namespace ferry::storage {

namespace {

// Messages quote the URL: never its signature.
Status InvalidUrl(std::string_view message) {
  return Status(Code::kInvalidInput, RedactSecrets(message));
}

bool IsIpOrLocalhost(std::string_view host) {
  if (host == "localhost" || host.starts_with('[')) return true;  // IPv6 literal
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace

std::string AzureEndpoint::ServiceUrl() const {
  std::string url = scheme + "://" + authority;
  if (path_style) url += "/" + account;
  return url;
}

std::string AzureEndpoint::Redacted() const {
  std::string url = ServiceUrl() + "/" + container;
  if (!prefix.empty()) url += "/" + PercentEncode(prefix, "/");
  if (!sas.empty()) url += "?" + sas;
  return http::RedactUrl(url);
}

bool IsValidContainerName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (name == "$root" || name == "$web") return true;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  if (name.front() == '-' || name.back() == '-') return false;
  return name.find("--") == std::string_view::npos;
}

Result<AzureEndpoint> ParseAzureUrl(std::string_view url) {
  AzureEndpoint ep;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return InvalidUrl(fmt::format("'{}' is not a URL", url));
  ep.scheme = AsciiLower(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") {
    return InvalidUrl(
        fmt::format("unsupported scheme '{}' in an Azure Blob URL: use https:// "
                    "(or http:// for a local emulator)",
                    ep.scheme));
  }
  std::string_view rest = url.substr(sep + 3);
  size_t query = rest.find('?');
  if (query != std::string_view::npos) {
    ep.sas = std::string(rest.substr(query + 1));
    rest = rest.substr(0, query);
  }
  if (rest.find('#') != std::string_view::npos) {
    return InvalidUrl("an Azure Blob URL cannot contain '#': percent-encode it as %23");
  }
  size_t slash = rest.find('/');
  ep.authority = std::string(rest.substr(0, slash));
  if (ep.authority.empty()) return InvalidUrl(fmt::format("'{}' has no host", url));
  if (ep.authority.find('@') != std::string::npos) {
    return InvalidUrl(
        "credentials do not belong in the URL's host part: use a SAS query or the "
        "AZURE_STORAGE_* environment variables");
  }
  std::string host = ep.authority;  // without the port
  if (host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  std::vector<std::string_view> segments;
  while (!path.empty()) {
    size_t end = path.find('/');
    std::string_view segment = path.substr(0, end);
    if (segment == "." || segment == ".." || segment == "%2e" || segment == "%2E" ||
        AsciiLower(segment) == "%2e%2e" || AsciiLower(segment) == ".%2e" ||
        AsciiLower(segment) == "%2e.") {
      // Clients fold these away: the URL would name another container or prefix than it shows.
      return InvalidUrl(fmt::format(
          "'{}': '.' and '..' are not allowed in an Azure Blob URL's path", http::RedactUrl(url)));
    }
    if (!segment.empty()) segments.push_back(segment);
    path = end == std::string_view::npos ? "" : path.substr(end + 1);
  }

  size_t blob_label = AsciiLower(host).find(".blob.");
  ep.path_style = blob_label == std::string::npos;
  if (ep.path_style) {
    if (!IsIpOrLocalhost(host)) {
      return InvalidUrl(fmt::format(
          "cannot tell the storage account from '{}': use https://ACCOUNT.blob.core.windows.net/"
          "CONTAINER or, for an emulator, http://127.0.0.1:10000/ACCOUNT/CONTAINER",
          http::RedactUrl(url)));
    }
    if (segments.empty()) return InvalidUrl(fmt::format("'{}' names no storage account", url));
    ep.account = std::string(segments.front());
    segments.erase(segments.begin());
  } else {
    // The account is the first label, whatever follows it (privatelink, a DNS zone such as
    // z12.blob.storage.azure.net); names are lower case, whatever the URL's case.
    ep.account = AsciiLower(host.substr(0, std::min(host.find('.'), blob_label)));
  }
  if (segments.empty()) {
    return InvalidUrl(
        fmt::format("'{}' names no container: add /CONTAINER to the URL", http::RedactUrl(url)));
  }
  ep.container = std::string(segments.front());
  if (!IsValidContainerName(ep.container)) {
    return InvalidUrl(
        fmt::format("'{}' is not a valid container name: use 3-63 lower-case letters, "
                    "digits and single hyphens",
                    ep.container));
  }
  for (size_t i = 1; i < segments.size(); ++i) {
    auto decoded = PercentDecode(segments[i]);
    if (!decoded) return InvalidUrl(fmt::format("bad percent-escape in '{}'", segments[i]));
    if (!ep.prefix.empty()) ep.prefix += '/';
    ep.prefix += *decoded;
  }
  return ep;
}

Result<ConnectionString> ParseConnectionString(std::string_view text) {
  std::string protocol = "https", suffix = "core.windows.net", endpoint;
  ConnectionString cs;
  bool dev = false;
  while (!text.empty()) {
    size_t end = text.find(';');
    std::string_view part = text.substr(0, end);
    text = end == std::string_view::npos ? "" : text.substr(end + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidUrl("malformed connection string: every part must be Key=Value");
    }
    std::string key = AsciiLower(part.substr(0, eq));
    std::string value(part.substr(eq + 1));
    if (key == "defaultendpointsprotocol") {
      protocol = AsciiLower(value);
    } else if (key == "accountname") {
      cs.account = value;
    } else if (key == "accountkey") {
      cs.key = value;
    } else if (key == "endpointsuffix") {
      suffix = value;
    } else if (key == "blobendpoint") {
      endpoint = value;
    } else if (key == "sharedaccesssignature") {
      cs.sas = value.starts_with('?') ? value.substr(1) : value;
    } else if (key == "usedevelopmentstorage") {
      dev = AsciiLower(value) == "true";
    }
    // Other keys (queue, table, file endpoints) do not concern blob storage.
  }
  if (dev) {
    cs.account = std::string(kDevStoreAccount);
    cs.key = std::string(kDevStoreKey);
    if (endpoint.empty()) endpoint = "http://127.0.0.1:10000/devstoreaccount1";
  }
  if (cs.key.empty() && cs.sas.empty()) {
    return InvalidUrl("the connection string has neither AccountKey nor SharedAccessSignature");
  }
  if (!cs.key.empty() && !Base64Decode(cs.key)) {
    return InvalidUrl("the connection string's AccountKey is not valid base64");
  }
  if (endpoint.empty()) {
    if (cs.account.empty()) return InvalidUrl("the connection string has no AccountName");
    endpoint = fmt::format("{}://{}.blob.{}", protocol, cs.account, suffix);
  }
  while (endpoint.ends_with('/')) endpoint.pop_back();
  cs.blob_endpoint = endpoint;
  if (cs.account.empty()) {
    // A SAS-only connection string names its account in the endpoint.
    auto parsed = ParseAzureUrl(endpoint + "/placeholder");
    if (parsed.ok()) cs.account = parsed->account;
  }
  return cs;
}

EnvLookup ProcessEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Result<AzureCredentials> ResolveCredentials(const AzureEndpoint& endpoint, const EnvLookup& env,
                                            std::string_view auth,
                                            const CredentialVariables& names) {
  AzureCredentials creds;
  creds.account = endpoint.account;
  const bool sas_ok = auth != "key", key_ok = auth != "sas";
  if (!endpoint.sas.empty()) {
    if (!sas_ok) return InvalidUrl("--auth key, but the URL carries a SAS: remove one of them");
    if (endpoint.sas.find("sig=") == std::string::npos) {
      return InvalidUrl(
          "the URL's query is not a SAS (it has no sig=): remove it or use a full SAS");
    }
    creds.sas = endpoint.sas;
    creds.source = "the SAS on the URL";
    return creds;
  }
  auto sas_token = sas_ok ? env(names.sas_token) : std::nullopt;
  if (auto token = sas_token) {
    creds.sas = token->starts_with('?') ? token->substr(1) : *token;
    if (creds.sas.find("sig=") == std::string::npos) {
      return InvalidUrl(fmt::format("{} is not a SAS (it has no sig=)", names.sas_token));
    }
    creds.source = names.sas_token;
    return creds;
  }
  if (auto text = env(names.connection_string)) {
    Result<ConnectionString> cs = ParseConnectionString(*text);
    if (!cs.ok()) {
      return InvalidUrl(fmt::format("{}: {}", names.connection_string, cs.status().message()));
    }
    if (!cs->account.empty() && cs->account != endpoint.account) {
      return InvalidUrl(fmt::format("{} is for account '{}', but the URL names account '{}'",
                                    names.connection_string, cs->account, endpoint.account));
    }
    if (!cs->sas.empty() && sas_ok) {
      creds.sas = cs->sas;
    } else if (!cs->key.empty() && key_ok) {
      creds.key = *Base64Decode(cs->key);
    } else {
      return InvalidUrl(fmt::format("--auth {}, but {} has no {}", auth, names.connection_string,
                                    auth == "key" ? "AccountKey" : "SharedAccessSignature"));
    }
    creds.source = names.connection_string;
    return creds;
  }
  auto account = env(names.account);
  auto key = key_ok ? env(names.key) : std::nullopt;
  if (key) {
    if (account && *account != endpoint.account) {
      return InvalidUrl(fmt::format("{} is '{}', but the URL names account '{}'", names.account,
                                    *account, endpoint.account));
    }
    auto decoded = Base64Decode(*key);
    if (!decoded || decoded->empty())
      return InvalidUrl(fmt::format("{} is not valid base64", names.key));
    creds.key = std::move(*decoded);
    creds.source = names.key;
    return creds;
  }
  return Status(Code::kNotFound, fmt::format("no {} for storage account '{}'",
                                             auth == "key"   ? "account key"
                                             : auth == "sas" ? "SAS"
                                                             : "account key or SAS",
                                             endpoint.account));
}

std::optional<int64_t> SasExpiry(std::string_view sas) {
  for (size_t start = 0; start <= sas.size();) {
    size_t end = sas.find('&', start);
    if (end == std::string_view::npos) end = sas.size();
    std::string_view param = sas.substr(start, end - start);
    start = end + 1;
    if (!param.starts_with("se=")) continue;
    std::optional<std::string> value = PercentDecode(param.substr(3));
    if (!value) return std::nullopt;
    struct tm tm {};
    int fields = std::sscanf(value->c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    if (fields != 3 && fields < 5) return std::nullopt;
    if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
      return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(::timegm(&tm));
  }
  return std::nullopt;
}

}  // namespace ferry::storage
