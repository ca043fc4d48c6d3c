#include "storage/entra_id.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "base/encoding.h"
#include "base/text.h"

extern char** environ;

namespace ferry::storage {

namespace {

int64_t NowSeconds(http::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

std::string Base64Url(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::string Form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string form;
  for (const auto& [name, value] : fields) {
    if (!form.empty()) form += '&';
    form += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return form;
}

// The token endpoints' own path to the network: retries (the authority and IMDS answer 429 and
// 5xx at times), then libcurl.
class TokenClient {
 public:
  explicit TokenClient(const EntraOptions& options)
      : clock_(options.clock ? options.clock : http::SystemClock()) {
    pipeline_ = std::make_unique<http::Pipeline>(
        std::vector<std::shared_ptr<http::Policy>>{
            std::make_shared<http::RetryPolicy>(options.retry, clock_)},
        std::make_shared<http::CurlTransport>(options.transport));
  }

  // Sends the request and reads a token from the answer; `who` names the identity in errors.
  Result<AccessToken> Ask(http::Request request, std::string_view who) {
    Result<http::Response> answer = Send(request, who);
    if (!answer.ok()) return answer.status();
    return Parse(*answer, who);
  }

  // The endpoint's answer, whatever its status.
  Result<http::Response> Send(http::Request& request, std::string_view who) {
    Result<http::Response> answer = pipeline_->Send(request);
    if (!answer.ok()) {
      return Status(Code::kAuth,
                    fmt::format("{}: the token endpoint {} did not answer: {}", who,
                                http::RedactUrl(request.url), answer.status().message()));
    }
    return answer;
  }

  http::Clock& clock() { return *clock_; }

 private:
  Result<AccessToken> Parse(const http::Response& answer, std::string_view who) {
    nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
    if (answer.status / 100 != 2) {
      std::string why;
      for (const char* field : {"error_description", "error"}) {
        if (why.empty() && body.is_object() && body.contains(field) && body[field].is_string()) {
          why = body[field].get<std::string>();
        }
      }
      if (why.empty()) why = fmt::format("HTTP {}", answer.status);
      why = why.substr(0, why.find_first_of("\r\n"));  // AADSTS code and text; not the trace ids
      return Status(Code::kAuth, fmt::format("{}: Entra ID refused the sign-in: {}", who, why));
    }
    if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string()) {
      return Status(Code::kAuth, fmt::format("{}: the token endpoint's answer has no token", who));
    }
    std::optional<int64_t> expiry = TokenExpiry(answer.body, NowSeconds(*clock_));
    if (!expiry) {
      return Status(Code::kAuth, fmt::format("{}: the token endpoint's answer has no expiry", who));
    }
    return AccessToken{body["access_token"].get<std::string>(), *expiry};
  }

  std::shared_ptr<http::Clock> clock_;
  std::unique_ptr<http::Pipeline> pipeline_;
};

http::Request FormPost(std::string url, std::string form) {
  http::Request request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.body = http::Body::FromString(std::move(form));
  return request;
}

// The authority's token URL for a tenant: AZURE_AUTHORITY_HOST (https only) or the public cloud.
Result<std::string> TokenUrl(const EnvLookup& env, const std::string& tenant) {
  std::string host = env("AZURE_AUTHORITY_HOST").value_or("https://login.microsoftonline.com");
  while (!host.empty() && host.back() == '/') host.pop_back();
  if (!host.starts_with("https://")) {
    return InvalidInput(fmt::format("AZURE_AUTHORITY_HOST must be an https URL, not '{}'", host));
  }
  return fmt::format("{}/{}/oauth2/v2.0/token", host, PercentEncode(tenant));
}

// A service principal or workload identity: the client credentials grant, with a secret or a
// client assertion made anew for each request.
class ClientCredential : public TokenCredential {
 public:
  ClientCredential(std::string describe, std::string url, std::string client_id,
                   std::function<Result<std::string>(const std::string& form_url)> proof,
                   std::string proof_field, const EntraOptions& options)
      : describe_(std::move(describe)),
        url_(std::move(url)),
        client_id_(std::move(client_id)),
        proof_(std::move(proof)),
        proof_field_(std::move(proof_field)),
        client_(options) {}

  Result<AccessToken> Fetch() override {
    Result<std::string> proof = proof_(url_);
    if (!proof.ok())
      return Status(proof.status().code(), describe_ + ": " + proof.status().message());
    std::string form = proof_field_ == "client_secret"
                           ? Form({{"client_id", client_id_},
                                   {"scope", kStorageScope},
                                   {"client_secret", *proof},
                                   {"grant_type", "client_credentials"}})
                           : Form({{"client_id", client_id_},
                                   {"scope", kStorageScope},
                                   {"client_assertion_type",
                                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                                   {"client_assertion", *proof},
                                   {"grant_type", "client_credentials"}});
    return client_.Ask(FormPost(url_, std::move(form)), describe_);
  }
  std::string Describe() const override { return describe_; }

 private:
  std::string describe_, url_, client_id_;
  std::function<Result<std::string>(const std::string&)> proof_;
  std::string proof_field_;
  TokenClient client_;
};

Result<std::string> ReadWholeFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidInput(fmt::format("cannot read {} '{}'", what, path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A client assertion signed with the certificate's key (RS256), as Entra ID expects from a
// service principal with a certificate: x5t is the certificate's SHA-1 thumbprint.
Result<std::string> CertificateAssertion(const std::string& pem_path, const std::string& client_id,
                                         const std::string& audience, int64_t now) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(pem_path.c_str(), "r"), BIO_free);
  if (!bio)
    return InvalidInput(fmt::format("cannot read AZURE_CLIENT_CERTIFICATE_PATH '{}'", pem_path));
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  BIO_reset(bio.get());
  // An encrypted key is refused, never prompted for.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr), EVP_PKEY_free);
  ERR_clear_error();
  if (!cert || !key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return InvalidInput(fmt::format(
        "AZURE_CLIENT_CERTIFICATE_PATH '{}' must hold a PEM certificate and its unencrypted RSA "
        "private key",
        pem_path));
  }
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int sha1_size = 0;
  unsigned char jti[16];
  if (X509_digest(cert.get(), EVP_sha1(), sha1, &sha1_size) != 1 ||
      RAND_bytes(jti, sizeof jti) != 1) {
    ERR_clear_error();
    return InvalidInput(
        fmt::format("AZURE_CLIENT_CERTIFICATE_PATH '{}': cannot make an assertion", pem_path));
  }
  nlohmann::json header{
      {"alg", "RS256"},
      {"typ", "JWT"},
      {"x5t", Base64Url(std::string_view(reinterpret_cast<char*>(sha1), sha1_size))}};
  nlohmann::json claims{
      {"aud", audience},  {"iss", client_id},
      {"sub", client_id}, {"jti", HexEncode(std::string_view(reinterpret_cast<char*>(jti), 16))},
      {"nbf", now},       {"iat", now},
      {"exp", now + 600}};
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return InvalidInput(
        fmt::format("AZURE_CLIENT_CERTIFICATE_PATH '{}': the key cannot sign RS256", pem_path));
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return InvalidInput(
        fmt::format("AZURE_CLIENT_CERTIFICATE_PATH '{}': signing failed", pem_path));
  }
  signature.resize(size);
  return signing_input + "." + Base64Url(signature);
}

// The identity endpoints are on the machine itself (plain http, the token in the clear): never
// through a proxy.
EntraOptions Local(EntraOptions options) {
  options.transport.no_proxy = "*";
  return options;
}

// A managed identity: App Service's local endpoint (IDENTITY_ENDPOINT with IDENTITY_HEADER), else
// the VM's IMDS.
class ManagedIdentityCredential : public TokenCredential {
 public:
  ManagedIdentityCredential(const EnvLookup& env, const EntraOptions& options)
      : client_(Local(options)) {
    client_id_ = env("AZURE_CLIENT_ID").value_or("");
    std::string user_assigned = client_id_.empty() ? "" : "&client_id=" + PercentEncode(client_id_);
    auto endpoint = env("IDENTITY_ENDPOINT");
    auto header = env("IDENTITY_HEADER");
    if (endpoint && header) {
      url_ = fmt::format("{}?api-version=2019-08-01&resource={}{}", *endpoint,
                         PercentEncode(kStorageResource), user_assigned);
      header_ = {"X-IDENTITY-HEADER", *header};
      where_ = "App Service";
    } else {
      std::string host =
          env("AZURE_POD_IDENTITY_AUTHORITY_HOST").value_or("http://169.254.169.254");
      while (!host.empty() && host.back() == '/') host.pop_back();
      url_ = fmt::format("{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}{}",
                         host, PercentEncode(kStorageResource), user_assigned);
      header_ = {"Metadata", "true"};
      where_ = "IMDS";
    }
  }

  Result<AccessToken> Fetch() override {
    http::Request request;
    request.url = url_;
    request.headers.Set(header_.first, header_.second);
    return client_.Ask(std::move(request), Describe());
  }
  std::string Describe() const override {
    return fmt::format("Entra ID: managed identity ({}, {})",
                       client_id_.empty() ? "system-assigned" : "user-assigned " + client_id_,
                       where_);
  }

 private:
  TokenClient client_;
  std::string client_id_, url_, where_;
  std::pair<std::string, std::string> header_;
};

// An Azure Arc-enabled server's agent (IDENTITY_ENDPOINT with IMDS_ENDPOINT). Its first answer is
// a 401 naming a key file only root and the agent's group can read (`WWW-Authenticate: Basic
// realm=PATH`); the second request carries that file's content. The path must be a .key file of
// at most 4 KiB in the agent's token folder, so that whoever answers on the endpoint cannot make
// ferry send any other file.
class ArcCredential : public TokenCredential {
 public:
  ArcCredential(const EnvLookup& env, const EntraOptions& options)
      : client_(Local(options)), key_folder_(options.arc_key_folder) {
    client_id_ = env("AZURE_CLIENT_ID").value_or("");
    url_ = fmt::format("{}?api-version=2020-06-01&resource={}", env("IDENTITY_ENDPOINT").value(),
                       PercentEncode(kStorageResource));
  }

  Result<AccessToken> Fetch() override {
    if (!client_id_.empty()) {
      return InvalidInput(fmt::format(
          "{}: Azure Arc has only the machine's system-assigned identity; unset AZURE_CLIENT_ID "
          "('{}') or choose another credential with --auth",
          Describe(), client_id_));
    }
    http::Request challenge;
    challenge.url = url_;
    challenge.headers.Set("Metadata", "true");
    Result<http::Response> answer = client_.Send(challenge, Describe());
    if (!answer.ok()) return answer.status();
    Result<std::string> key = ChallengeKey(*answer);
    if (!key.ok()) return key.status();
    http::Request request;
    request.url = url_;
    request.headers.Set("Metadata", "true");
    request.headers.Set("Authorization", "Basic " + *key);
    return client_.Ask(std::move(request), Describe());
  }
  std::string Describe() const override {
    return "Entra ID: managed identity (system-assigned, Azure Arc)";
  }

 private:
  // The content of the key file the agent's 401 names.
  Result<std::string> ChallengeKey(const http::Response& answer) const {
    std::string challenge(answer.headers.Get("WWW-Authenticate").value_or(""));
    constexpr std::string_view kRealm = "Basic realm=";
    if (answer.status != 401 || !challenge.starts_with(kRealm)) {
      return Status(
          Code::kAuth,
          fmt::format("{}: the agent at {} answered HTTP {} without the key-file "
                      "challenge Azure Arc sends; is the Connected Machine agent running?",
                      Describe(), http::RedactUrl(url_), answer.status));
    }
    std::filesystem::path path(challenge.substr(kRealm.size()));
    std::error_code error;
    if (path.parent_path() != key_folder_ || path.extension() != ".key" ||
        !std::filesystem::is_regular_file(path, error)) {
      return Status(Code::kAuth, fmt::format("{}: the agent named the key file '{}', which is not "
                                             "a .key file in {}; refused",
                                             Describe(), path.string(), key_folder_.string()));
    }
    constexpr uintmax_t kMaxKey = 4096;
    uintmax_t size = std::filesystem::file_size(path, error);
    if (error || size > kMaxKey) {
      return Status(Code::kAuth, fmt::format("{}: the key file '{}' is larger than 4 KiB; refused",
                                             Describe(), path.string()));
    }
    Result<std::string> key = ReadWholeFile(path.string(), "the Azure Arc key file");
    if (!key.ok()) {
      return Status(Code::kAuth, fmt::format("{}: {} (ferry must run as root or in the "
                                             "himds group to read it)",
                                             Describe(), key.status().message()));
    }
    return *key;
  }

  TokenClient client_;
  std::filesystem::path key_folder_;
  std::string client_id_, url_;
};

// The managed identity this machine offers: Azure Arc's agent, App Service, or IMDS.
std::shared_ptr<TokenCredential> ManagedIdentity(const EnvLookup& env,
                                                 const EntraOptions& options) {
  if (env("IDENTITY_ENDPOINT") && !env("IDENTITY_HEADER") && env("IMDS_ENDPOINT")) {
    return std::make_shared<ArcCredential>(env, options);
  }
  return std::make_shared<ManagedIdentityCredential>(env, options);
}

// Runs a program (no shell) and returns its exit status, stdout and stderr.
struct Ran {
  int status = -1;
  std::string out, err;
};

// Reads both pipes until the program closes them (true) or `limit` passes (false).
bool ReadUntilClosed(int out, int err, Ran& ran, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
  std::string* into[2] = {&ran.out, &ran.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int ready = ::poll(fds, 2, int(left.count()));
    if (ready < 0 && errno == EINTR) continue;  // a signal (a stop is seen by the caller)
    if (ready <= 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        into[i]->append(buffer, size_t(n));
      } else {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  return true;
}

Result<Ran> RunProgram(std::vector<std::string> argv) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status(Code::kIo, "pipe failed");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Status(Code::kIo, "pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attributes;  // a group of its own: a stuck run is killed with its children
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out[1]);
  ::close(err[1]);
  Ran ran;
  if (spawned == 0) {
    bool finished = ReadUntilClosed(out[0], err[0], ran, std::chrono::seconds(120));
    if (!finished) ::kill(-pid, SIGKILL);  // two minutes without an end: stuck
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::close(out[0]);
  ::close(err[0]);
  if (spawned != 0) return Status(Code::kNotFound, fmt::format("cannot run {}", argv[0]));
  return ran;
}

bool OnPath(const EnvLookup& env, std::string_view program) {
  std::string path = env("PATH").value_or("");
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (!dir.empty() && ::access((dir + "/" + std::string(program)).c_str(), X_OK) == 0)
      return true;
  }
  return false;
}

class AzureCliCredential : public TokenCredential {
 public:
  explicit AzureCliCredential(const EntraOptions& options)
      : clock_(options.clock ? options.clock : http::SystemClock()) {}

  Result<AccessToken> Fetch() override {
    Result<Ran> ran = RunProgram({"az", "account", "get-access-token", "--resource",
                                  std::string(kStorageResource), "--output", "json"});
    if (!ran.ok()) {
      return Status(Code::kAuth,
                    "Entra ID: Azure CLI: 'az' cannot be run: install the Azure CLI "
                    "and run 'az login'");
    }
    if (ran->status != 0) {
      std::string why = ran->err.substr(0, ran->err.find('\n'));
      return Status(Code::kAuth,
                    fmt::format("Entra ID: Azure CLI: 'az account get-access-token' failed ({}): "
                                "run 'az login'",
                                RedactSecrets(why)));
    }
    nlohmann::json body = nlohmann::json::parse(ran->out, nullptr, false);
    std::optional<int64_t> expiry = TokenExpiry(ran->out, NowSeconds(*clock_));
    if (!body.is_object() || !body.contains("accessToken") || !body["accessToken"].is_string() ||
        !expiry) {
      return Status(Code::kAuth,
                    "Entra ID: Azure CLI: 'az account get-access-token' gave no token");
    }
    return AccessToken{body["accessToken"].get<std::string>(), *expiry};
  }
  std::string Describe() const override { return "Entra ID: Azure CLI (the signed-in account)"; }

 private:
  std::shared_ptr<http::Clock> clock_;
};

// DefaultAzureCredential's order among those the environment sets up; the first to give a token
// stays.
class ChainCredential : public TokenCredential {
 public:
  explicit ChainCredential(std::vector<std::shared_ptr<TokenCredential>> chain)
      : chain_(std::move(chain)) {}
  Result<AccessToken> Fetch() override {
    std::lock_guard lock(mu_);
    if (chosen_) return chosen_->Fetch();
    std::string tried;
    for (auto& credential : chain_) {
      Result<AccessToken> token = credential->Fetch();
      if (token.ok()) {
        chosen_ = credential;
        return token;
      }
      tried += (tried.empty() ? "" : "; ") + token.status().message();
    }
    return Status(Code::kAuth, "no Entra ID credential gave a token: " + tried);
  }
  std::string Describe() const override {
    std::lock_guard lock(mu_);
    if (chosen_) return chosen_->Describe();
    std::string all;
    for (const auto& c : chain_) all += (all.empty() ? "" : ", then ") + c->Describe();
    return all;
  }

 private:
  std::vector<std::shared_ptr<TokenCredential>> chain_;
  mutable std::mutex mu_;
  std::shared_ptr<TokenCredential> chosen_;
};

struct ClientIds {
  std::string tenant, client;
};
Result<ClientIds> NeedClientIds(const EnvLookup& env, std::string_view for_what) {
  auto tenant = env("AZURE_TENANT_ID");
  auto client = env("AZURE_CLIENT_ID");
  if (!tenant || tenant->empty() || !client || client->empty()) {
    return InvalidInput(fmt::format("{} needs AZURE_TENANT_ID and AZURE_CLIENT_ID", for_what));
  }
  return ClientIds{*tenant, *client};
}

Result<std::shared_ptr<TokenCredential>> ServicePrincipal(const EnvLookup& env,
                                                          const EntraOptions& options) {
  auto secret = env("AZURE_CLIENT_SECRET");
  auto cert = env("AZURE_CLIENT_CERTIFICATE_PATH");
  if (!secret && !cert) {
    return InvalidInput(
        "--auth env needs AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, with "
        "AZURE_TENANT_ID and AZURE_CLIENT_ID");
  }
  Result<ClientIds> ids = NeedClientIds(env, "a service principal");
  if (!ids.ok()) return ids.status();
  Result<std::string> url = TokenUrl(env, ids->tenant);
  if (!url.ok()) return url.status();
  if (secret) {
    return std::shared_ptr<TokenCredential>(std::make_shared<ClientCredential>(
        fmt::format("Entra ID: service principal {} (client secret)", ids->client), *url,
        ids->client,
        [secret = *secret](const std::string&) -> Result<std::string> { return secret; },
        "client_secret", options));
  }
  auto clock = options.clock ? options.clock : http::SystemClock();
  return std::shared_ptr<TokenCredential>(std::make_shared<ClientCredential>(
      fmt::format("Entra ID: service principal {} (certificate)", ids->client), *url, ids->client,
      [path = *cert, client = ids->client, clock](const std::string& audience) {
        return CertificateAssertion(path, client, audience, NowSeconds(*clock));
      },
      "client_assertion", options));
}

Result<std::shared_ptr<TokenCredential>> WorkloadIdentity(const EnvLookup& env,
                                                          const EntraOptions& options) {
  auto file = env("AZURE_FEDERATED_TOKEN_FILE");
  if (!file) return InvalidInput("--auth workload needs AZURE_FEDERATED_TOKEN_FILE");
  Result<ClientIds> ids = NeedClientIds(env, "workload identity");
  if (!ids.ok()) return ids.status();
  Result<std::string> url = TokenUrl(env, ids->tenant);
  if (!url.ok()) return url.status();
  return std::shared_ptr<TokenCredential>(std::make_shared<ClientCredential>(
      fmt::format("Entra ID: workload identity {}", ids->client), *url, ids->client,
      [path = *file](const std::string&) -> Result<std::string> {
        // Read for each request: the platform rotates the file.
        Result<std::string> text = ReadWholeFile(path, "AZURE_FEDERATED_TOKEN_FILE");
        if (!text.ok()) return text.status();
        std::string token = *text;
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
          token.pop_back();
        }
        return token;
      },
      "client_assertion", options));
}

// Whether a managed-identity endpoint answers here (App Service's or Arc's variables, or IMDS
// accepting a connection within half a second).
bool ManagedIdentityAvailable(const EnvLookup& env, const EntraOptions& options) {
  if (env("IDENTITY_ENDPOINT") && (env("IDENTITY_HEADER") || env("IMDS_ENDPOINT"))) return true;
  EntraOptions probe = options;
  probe.transport.connect_timeout = std::chrono::milliseconds(500);
  probe.transport.low_speed_time = std::chrono::seconds(2);
  probe.transport.no_proxy = "*";
  std::string host = env("AZURE_POD_IDENTITY_AUTHORITY_HOST").value_or("http://169.254.169.254");
  http::Request request;
  request.url = host + "/metadata/identity/oauth2/token";  // without Metadata: IMDS says 400
  http::CurlTransport transport(probe.transport);
  return transport.Send(request).ok();
}

}  // namespace

std::optional<int64_t> TokenExpiry(const std::string& json_text, int64_t now) {
  nlohmann::json body = nlohmann::json::parse(json_text, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  auto integer = [](const nlohmann::json& v) -> std::optional<int64_t> {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      int64_t value = 0;
      auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), value);
      if (!s.empty() && err == std::errc() && end == s.data() + s.size()) return value;
    }
    return std::nullopt;
  };
  if (body.contains("expires_in")) {
    if (auto in = integer(body["expires_in"])) return now + *in;
  }
  if (body.contains("expires_on")) {
    if (auto on = integer(body["expires_on"])) return on;
  }
  if (body.contains("expiresOn") && body["expiresOn"].is_string()) {
    std::tm tm{};  // the Azure CLI's local time, "2026-11-30 21:00:00.000000"
    std::istringstream in(body["expiresOn"].get<std::string>());
    in >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
    if (!in.fail()) {
      tm.tm_isdst = -1;
      return int64_t(std::mktime(&tm));
    }
  }
  return std::nullopt;
}

Result<std::shared_ptr<TokenCredential>> EntraCredential(std::string_view kind,
                                                         const EnvLookup& env,
                                                         const EntraOptions& options) {
  if (kind == "env") return ServicePrincipal(env, options);
  if (kind == "workload") return WorkloadIdentity(env, options);
  if (kind == "managed-identity") return ManagedIdentity(env, options);
  if (kind == "azure-cli") {
    return std::shared_ptr<TokenCredential>(std::make_shared<AzureCliCredential>(options));
  }
  if (kind != "auto") return InvalidInput(fmt::format("unknown Entra ID credential '{}'", kind));
  std::vector<std::shared_ptr<TokenCredential>> chain;
  if (env("AZURE_CLIENT_SECRET") || env("AZURE_CLIENT_CERTIFICATE_PATH")) {
    Result<std::shared_ptr<TokenCredential>> sp = ServicePrincipal(env, options);
    if (!sp.ok()) return sp.status();  // set up in part: say what is missing
    chain.push_back(*sp);
  }
  if (env("AZURE_FEDERATED_TOKEN_FILE")) {
    Result<std::shared_ptr<TokenCredential>> wi = WorkloadIdentity(env, options);
    if (!wi.ok()) return wi.status();
    chain.push_back(*wi);
  }
  if (ManagedIdentityAvailable(env, options)) {
    chain.push_back(ManagedIdentity(env, options));
  }
  if (OnPath(env, "az")) {
    chain.push_back(std::make_shared<AzureCliCredential>(options));
  }
  if (chain.empty()) return Status(Code::kNotFound, "no Entra ID credential is set up here");
  if (chain.size() == 1) return chain.front();
  return std::shared_ptr<TokenCredential>(std::make_shared<ChainCredential>(std::move(chain)));
}

TokenCache::TokenCache(std::shared_ptr<TokenCredential> credential,
                       std::shared_ptr<http::Clock> clock)
    : credential_(std::move(credential)), clock_(clock ? std::move(clock) : http::SystemClock()) {}

Result<std::string> TokenCache::Token(bool refresh) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowSeconds(*clock_);
  const bool valid = !token_.token.empty() && now < token_.expires_on;
  // A refresh asked for by a request that went out with an older token than this one (another
  // thread fetched meanwhile) takes this one.
  bool fresh = valid && now < refresh_at_ && (!refresh || now - fetched_at_ < 5);
  if (fresh) return token_.token;
  // A fetch that just failed is not repeated by every waiting request.
  if (!last_failure_.ok() && now - failed_at_ < 5) {
    if (valid && !refresh) return token_.token;
    return last_failure_;
  }
  Result<AccessToken> token = credential_->Fetch();
  if (!token.ok()) {
    last_failure_ = token.status();
    failed_at_ = now;
    // The endpoint is down for a moment: the token in hand serves until it expires.
    if (valid && !refresh) return token_.token;
    return token.status();
  }
  last_failure_ = Status::Ok();
  ++fetches_;
  token_ = std::move(token).value();
  fetched_at_ = now;
  int64_t life = std::max<int64_t>(0, token_.expires_on - now);
  refresh_at_ = token_.expires_on - std::min<int64_t>(300, life / 2);
  return token_.token;
}

int64_t TokenCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Result<http::Response> BearerTokenPolicy::Send(http::Request& request,
                                               const http::NextPolicy& next) {
  Result<std::string> token = cache_->Token();
  if (!token.ok()) return token.status();
  request.headers.Set("Authorization", "Bearer " + *token);
  Result<http::Response> answer = next(request);
  if (!answer.ok() || answer->status != 401) return answer;
  // Expired or revoked since it was fetched (a clock skew, a long transfer): one new token, one
  // more try.
  token = cache_->Token(/*refresh=*/true);
  if (!token.ok()) return token.status();
  request.headers.Set("Authorization", "Bearer " + *token);
  return next(request);
}

}  // namespace ferry::storage
