// Where an Azure Blob target is and how ferry proves who it is: URL parsing, connection strings,
// and credentials from the environment. Credentials are never stored or printed.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ferry::storage {

// The account key of Azurite's built-in account; public, documented by Microsoft.
inline constexpr std::string_view kDevStoreAccount = "devstoreaccount1";
inline constexpr std::string_view kDevStoreKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct AzureEndpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // host[:port]
  std::string account;
  std::string container;
  std::string prefix;       // decoded, without leading or trailing '/'; "" for the whole container
  bool path_style = false;  // account in the path (Azurite, IP hosts) rather than the host name
  std::string sas;          // the SAS query from the URL without '?', or ""

  // scheme://authority[/account], without a trailing '/'.
  std::string ServiceUrl() const;
  // The URL for messages and the catalog: any SAS signature shows as REDACTED.
  std::string Redacted() const;
};

// Parses https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX][?SAS] (any host whose first
// label is followed by ".blob.") or path-style http://HOST[:PORT]/ACCOUNT/CONTAINER[/PREFIX].
// Errors are Code::kInvalidInput with a message that says what to change.
Result<AzureEndpoint> ParseAzureUrl(std::string_view url);

// True for names Azure accepts as a container: 3-63 of [a-z0-9-], starting with a letter or
// digit, no "--", not ending in '-'.
bool IsValidContainerName(std::string_view name);

struct ConnectionString {
  std::string account;
  std::string key;            // base64 as written
  std::string sas;            // SharedAccessSignature, without '?'
  std::string blob_endpoint;  // BlobEndpoint, or derived from protocol/account/suffix
};

// Parses "Key=Value;..." connection strings, including UseDevelopmentStorage=true.
Result<ConnectionString> ParseConnectionString(std::string_view text);

class TokenCredential;  // entra_id.h

struct AzureCredentials {
  std::string account;
  std::string key;  // decoded key bytes, for Shared Key; empty when `sas` is used
  std::string sas;  // SAS query without '?'
  std::shared_ptr<TokenCredential> entra;  // Entra ID tokens, instead of a key or a SAS
  std::string source;  // where they came from, for messages ("AZURE_STORAGE_KEY", ...)
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup ProcessEnvironment();

// The variables a key or SAS comes from: the target's are Azure's own; a Blob source's have
// names of their own (kSourceVariables), so neither is mistaken for the other.
struct CredentialVariables {
  const char* sas_token = "AZURE_STORAGE_SAS_TOKEN";
  const char* connection_string = "AZURE_STORAGE_CONNECTION_STRING";
  const char* account = "AZURE_STORAGE_ACCOUNT";
  const char* key = "AZURE_STORAGE_KEY";
};
inline constexpr CredentialVariables kSourceVariables{"FERRY_SOURCE_SAS_TOKEN",
                                                      "FERRY_SOURCE_CONNECTION_STRING",
                                                      "FERRY_SOURCE_ACCOUNT", "FERRY_SOURCE_KEY"};

// Chooses a key or SAS for `endpoint`, in order: a SAS on the URL; AZURE_STORAGE_SAS_TOKEN;
// AZURE_STORAGE_CONNECTION_STRING; AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY. `auth` "key" or
// "sas" takes only that kind ("auto": either). A credential for a different account than the
// URL's is Code::kInvalidInput; none at all is Code::kNotFound (Entra ID may then sign in: see
// ChooseCredentials in endpoint.h). `names` gives the variables' names (those of a source).
Result<AzureCredentials> ResolveCredentials(const AzureEndpoint& endpoint, const EnvLookup& env,
                                            std::string_view auth = "auto",
                                            const CredentialVariables& names = {});

// The expiry of a SAS (its se= field: "2026-11-24", "2026-11-24T21:00Z" or
// "2026-11-24T21:00:00.5Z", percent-encoded or not) in Unix seconds; nullopt if absent or
// unreadable (the service then decides).
std::optional<int64_t> SasExpiry(std::string_view sas);

}  // namespace ferry::storage
