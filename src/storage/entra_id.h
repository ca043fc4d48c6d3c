// Microsoft Entra ID sign-in for Azure Storage, with the conventions of the Azure SDKs'
// DefaultAzureCredential: a service principal (secret or certificate), workload identity, a
// managed identity (IMDS, App Service, Arc) or the Azure CLI. Tokens are asked for the scope
// https://storage.azure.com/.default, kept in memory only, refreshed before they expire, and sent
// only over https. No token or secret appears in a message this file makes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/pipeline.h"
#include "http/retry_policy.h"
#include "http/transport.h"
#include "storage/azure_endpoint.h"

namespace ferry::storage {

inline constexpr std::string_view kStorageResource = "https://storage.azure.com";
inline constexpr std::string_view kStorageScope = "https://storage.azure.com/.default";

struct AccessToken {
  std::string token;
  int64_t expires_on = 0;  // Unix seconds
};

// One way of getting tokens. Fetch always asks anew (TokenCache keeps them).
class TokenCredential {
 public:
  virtual ~TokenCredential() = default;
  virtual Result<AccessToken> Fetch() = 0;
  // Which identity, for `check` and `init`: "Entra ID: service principal <client id>".
  virtual std::string Describe() const = 0;
};

// Where the token endpoints are, and how to reach them.
struct EntraOptions {
  http::TransportOptions transport;  // CA file, proxy and timeouts as for storage
  http::RetryOptions retry;
  std::shared_ptr<http::Clock> clock;  // null: the system clock
  // Where Azure Arc's agent keeps the key files its challenge names; tests move it.
  std::string arc_key_folder = "/var/opt/azcmagent/tokens";
};

// The Entra ID credential `kind` names ("env", "workload", "managed-identity", "azure-cli"), from
// the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
// AZURE_CLIENT_CERTIFICATE_PATH; AZURE_FEDERATED_TOKEN_FILE; IDENTITY_ENDPOINT with
// IDENTITY_HEADER (App Service) or IMDS_ENDPOINT (Azure Arc), else IMDS
// (AZURE_POD_IDENTITY_AUTHORITY_HOST moves it); AZURE_AUTHORITY_HOST for another cloud. "auto"
// tries env, workload, managed identity (App Service or Arc when their variables are set) and the
// Azure CLI (when `az` is on the PATH), in that order, and keeps the first that gives a token.
// Code::kInvalidInput (naming what to set) when none applies.
Result<std::shared_ptr<TokenCredential>> EntraCredential(std::string_view kind,
                                                         const EnvLookup& env,
                                                         const EntraOptions& options);

// A credential's current token, fetched once for every thread that needs it and again before
// it expires (when less than five minutes, or half its life, is left). Thread-safe.
class TokenCache {
 public:
  TokenCache(std::shared_ptr<TokenCredential> credential, std::shared_ptr<http::Clock> clock);
  // The token; `refresh` fetches a new one unless another thread just did.
  Result<std::string> Token(bool refresh = false);
  const TokenCredential& credential() const { return *credential_; }
  int64_t fetches() const;

 private:
  std::shared_ptr<TokenCredential> credential_;
  std::shared_ptr<http::Clock> clock_;
  mutable std::mutex mu_;
  AccessToken token_;
  Status last_failure_;     // of the last fetch, when it failed
  int64_t failed_at_ = 0;   // Unix seconds
  int64_t refresh_at_ = 0;  // Unix seconds
  int64_t fetched_at_ = 0;
  int64_t fetches_ = 0;
};

// Signs each request with the bearer token; a 401 gets one new token and one retry.
class BearerTokenPolicy : public http::Policy {
 public:
  explicit BearerTokenPolicy(std::shared_ptr<TokenCache> cache) : cache_(std::move(cache)) {}
  Result<http::Response> Send(http::Request& request, const http::NextPolicy& next) override;

 private:
  std::shared_ptr<TokenCache> cache_;
};

// The expiry in a token answer: now + expires_in (relative: immune to clock skew), else
// expires_on (Unix seconds, as a number or a string), else the Azure CLI's local
// "YYYY-MM-DD HH:MM:SS.ffffff" expiresOn. For tests.
std::optional<int64_t> TokenExpiry(const std::string& json_text, int64_t now);

}  // namespace ferry::storage
