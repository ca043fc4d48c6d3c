#include "storage/endpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <ctime>

#include "base/encoding.h"
#include "base/text.h"
#include "storage/entra_id.h"
#include "storage/local_store.h"

namespace ferry::storage {

std::string EndpointSpec::Redacted() const {
  switch (type) {
    case EndpointType::kLocal:
      return local_root;
    case EndpointType::kS3:
      return s3_url;
    case EndpointType::kAzureBlob:
      break;
  }
  return azure.Redacted();
}

Result<EndpointSpec> ParseEndpoint(std::string_view url) {
  if (url.empty()) return Status(Code::kInvalidInput, "empty endpoint: give a folder or a URL");
  EndpointSpec spec;
  size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    std::string scheme(url.substr(0, sep));
    for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "file") {
      std::string_view path = url.substr(sep + 3);
      if (!path.starts_with('/')) {
        return Status(Code::kInvalidInput,
                      RedactSecrets(fmt::format(
                          "'{}': a file URL needs an absolute path, as file:///data", url)));
      }
      auto decoded = PercentDecode(path);
      if (!decoded)
        return Status(Code::kInvalidInput,
                      RedactSecrets(fmt::format("bad percent-escape in '{}'", url)));
      spec.type = EndpointType::kLocal;
      spec.local_root = *decoded;
    } else if (scheme == "s3") {
      spec.type = EndpointType::kS3;
      spec.s3_url = "s3://" + std::string(url.substr(sep + 3));
      while (spec.s3_url.ends_with('/') && spec.s3_url.size() > 5) spec.s3_url.pop_back();
      Result<S3Endpoint> valid = ParseS3Url(spec.s3_url, [](const char*) { return std::nullopt; });
      if (!valid.ok()) return valid.status();
    } else if (scheme == "http" || scheme == "https") {
      Result<AzureEndpoint> azure = ParseAzureUrl(url);
      if (!azure.ok()) return azure.status();
      spec.type = EndpointType::kAzureBlob;
      spec.azure = std::move(azure).value();
    } else {
      return Status(Code::kInvalidInput,
                    fmt::format("unsupported scheme '{}://': ferry reads and writes local folders "
                                "(/path or file:///path) and Azure Blob URLs (https://...), and "
                                "reads S3 buckets (s3://bucket/prefix)",
                                scheme));
    }
  } else {
    spec.type = EndpointType::kLocal;
    spec.local_root = std::string(url);
    if (!url.starts_with('/')) {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd) == nullptr) {
        return Status(Code::kIo, "cannot read the working directory");
      }
      spec.local_root = std::string(cwd) + "/" + spec.local_root;
    }
  }
  if (spec.type == EndpointType::kLocal) {
    while (spec.local_root.size() > 1 && spec.local_root.back() == '/') spec.local_root.pop_back();
    while (spec.local_root.ends_with("/.")) spec.local_root.resize(spec.local_root.size() - 2);
  }
  return spec;
}

bool IsAuthKind(std::string_view auth) {
  for (std::string_view kind : kAuthKinds) {
    if (auth == kind) return true;
  }
  return false;
}

Result<AzureCredentials> ChooseCredentials(const AzureEndpoint& endpoint, const EnvLookup& env,
                                           const AzureBlobOptions& options) {
  const std::string& auth = options.auth;
  if (!IsAuthKind(auth)) {
    return Status(Code::kInvalidInput, fmt::format("--auth must be one of {}, not '{}'",
                                                   fmt::join(kAuthKinds, ", "), auth));
  }
  const bool entra_kind = auth != "auto" && auth != "key" && auth != "sas";
  const CredentialVariables& names = options.variables;
  if (!entra_kind) {
    Result<AzureCredentials> shared = ResolveCredentials(endpoint, env, auth, names);
    if (shared.ok() || shared.status().code() != Code::kNotFound) return shared;
    if (auth != "auto") {
      return Status(
          Code::kInvalidInput,
          auth == "key"
              ? fmt::format("{}: set {}, or {} and {}", shared.status().message(),
                            names.connection_string, names.account, names.key)
              : fmt::format("{}: set {}, or {}, or add a SAS query to the URL",
                            shared.status().message(), names.connection_string, names.sas_token));
    }
  }
  EntraOptions entra_options{options.transport, options.retry, options.clock};
  // A secret goes to the authority only over a verified connection, whatever
  // --insecure-skip-tls-verify allows the storage (a self-signed test endpoint).
  entra_options.transport.verify_tls = true;
  Result<std::shared_ptr<TokenCredential>> entra =
      EntraCredential(entra_kind ? std::string_view(auth) : "auto", env, entra_options);
  if (!entra.ok() && entra.status().code() == Code::kNotFound) {
    return Status(
        Code::kInvalidInput,
        fmt::format("no credentials for storage account '{}': sign in with Entra ID "
                    "(AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; a managed "
                    "identity; or 'az login'), or set {}, or {} and {}, or {}, or add a SAS "
                    "query to the URL (README: \"Signing in to Azure\")",
                    endpoint.account, names.connection_string, names.account, names.key,
                    names.sas_token));
  }
  if (!entra.ok()) return entra.status();
  if (endpoint.scheme != "https") {
    return Status(Code::kInvalidInput,
                  fmt::format("{} signs in with tokens, which ferry sends only over https: use an "
                              "https URL for {}",
                              (*entra)->Describe(), endpoint.Redacted()));
  }
  AzureCredentials creds;
  creds.account = endpoint.account;
  creds.entra = *entra;
  creds.source = (*entra)->Describe();
  return creds;
}

Result<std::unique_ptr<Store>> OpenStore(const EndpointSpec& spec, const EnvLookup& env,
                                         const AzureBlobOptions& azure_options) {
  if (spec.type == EndpointType::kLocal) {
    return std::unique_ptr<Store>(new LocalStore(spec.local_root));
  }
  if (spec.type == EndpointType::kS3) {
    Result<S3Endpoint> endpoint = ParseS3Url(spec.s3_url, env);
    if (!endpoint.ok()) return endpoint.status();
    Result<AwsCredentials> credentials = AwsCredentialsFromEnv(env);
    if (!credentials.ok()) return credentials.status();
    S3Options options;
    options.transport = azure_options.transport;
    options.retry = azure_options.retry;
    options.clock = azure_options.clock;
    return std::unique_ptr<Store>(
        new S3Store(std::move(endpoint).value(), std::move(credentials).value(), options));
  }
  Result<AzureCredentials> creds = ChooseCredentials(spec.azure, env, azure_options);
  if (!creds.ok()) return creds.status();
  if (std::optional<int64_t> expiry = SasExpiry(creds->sas)) {
    if (*expiry <= std::time(nullptr)) {
      return Status(Code::kAuth,
                    fmt::format("the SAS for {} expired at {} (its se= field): create a new one",
                                spec.Redacted(), HumanTime(*expiry * 1'000'000'000)));
    }
  }
  return std::unique_ptr<Store>(
      new AzureBlobStore(spec.azure, std::move(creds).value(), azure_options));
}

}  // namespace ferry::storage
