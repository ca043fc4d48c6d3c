#include "support/azurite.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {

namespace {

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<Azurite> Azurite::Start(const AzuriteOptions& options) {
  std::unique_ptr<Azurite> azurite(new Azurite());
  azurite->https_ = !options.cert_pem.empty();
  azurite->in_memory_ = options.location.empty();
  std::string bin = std::string(FERRY_SOURCE_DIR) + "/node_modules/.bin/azurite-blob";
  if (::access(bin.c_str(), X_OK) != 0) {
    throw std::runtime_error(bin + " is missing: run scripts/setup.sh (npm ci) first");
  }
  char log_template[] = "/tmp/ferry-azurite-XXXXXX";
  int log_fd = ::mkstemp(log_template);
  azurite->log_path_ = log_template;

  for (int attempt = 0; attempt < 3; ++attempt) {
    azurite->port_ = options.port ? options.port : FreeLoopbackPort();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::setpgid(0, 0);  // its own process group, so the whole group can be stopped
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // and never outlives a crashed test
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      // Not --silent: its access log counts requests.
      std::vector<std::string> args{bin, "--blobHost", "127.0.0.1", "--blobPort",
                                    std::to_string(azurite->port_)};
      if (options.location.empty()) {
        args.push_back("--inMemoryPersistence");
      } else {
        args.insert(args.end(), {"--location", options.location});
      }
      if (azurite->https_) {
        args.insert(args.end(), {"--cert", options.cert_pem, "--key", options.key_pem});
        if (options.oauth) args.insert(args.end(), {"--oauth", "basic"});
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    azurite->pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    // Its own listener, not another's on the same port (two test programs can be handed the
    // same free port at once): Azurite says where it listens once it does.
    const std::string listening = fmt::format("successfully listens on {}://127.0.0.1:{}\n",
                                              azurite->https_ ? "https" : "http", azurite->port_);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Accepts(azurite->port_) &&
          ReadFile(azurite->log_path_).find(listening) != std::string::npos) {
        ::close(log_fd);
        return azurite;
      }
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        azurite->pid_ = -1;
        break;  // exited (port taken?): try another port
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ::close(log_fd);
  throw std::runtime_error("Azurite did not start; its log: " + ReadFile(azurite->log_path_));
}

Azurite::~Azurite() {
  // In memory there is nothing to save, and a graceful shutdown holding many blobs takes long.
  Stop(in_memory_ ? SIGKILL : SIGTERM);
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

void Azurite::Kill() { Stop(SIGKILL); }

void Azurite::Stop(int signal) {
  if (pid_ > 0) {
    ::kill(-pid_, signal);
    for (int i = 0; i < 100; ++i) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
}

int64_t Azurite::RequestCount(const std::string& request_prefix) const {
  // Access log lines: 127.0.0.1 - - [date] "METHOD /path HTTP/1.1" status ...
  std::string log = ReadFile(log_path_);
  std::string needle = "\"" + request_prefix;
  int64_t count = 0;
  for (size_t line = 0; line < log.size();) {
    size_t end = log.find('\n', line);
    if (end == std::string::npos) end = log.size();
    std::string_view text(log.data() + line, end - line);
    if (text.find(" HTTP/1.1\" ") != text.npos && text.find(needle) != text.npos) ++count;
    line = end + 1;
  }
  return count;
}

std::string Azurite::BlobEndpoint() const {
  return fmt::format("{}://127.0.0.1:{}/devstoreaccount1", https_ ? "https" : "http", port_);
}

std::string Azurite::ContainerUrl(const std::string& container, const std::string& prefix) const {
  std::string url = BlobEndpoint() + "/" + container;
  if (!prefix.empty()) url += "/" + PercentEncode(prefix, "/");
  return url;
}

std::string Azurite::ConnectionString() const {
  return fmt::format(
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};"
      "BlobEndpoint={};",
      storage::kDevStoreKey, BlobEndpoint());
}

storage::AzureCredentials Azurite::Credentials() const {
  storage::AzureCredentials creds;
  creds.account = std::string(storage::kDevStoreAccount);
  creds.key = *Base64Decode(storage::kDevStoreKey);
  creds.source = "test";
  return creds;
}

Azurite& Azurite::Global() {
  static std::unique_ptr<Azurite> instance = Start();
  return *instance;
}

std::string UniqueContainer(const std::string& hint) {
  static std::atomic<int> counter{0};
  static uint32_t run = std::random_device{}();
  std::string name = fmt::format("{}-{}-{:08x}", hint, ++counter, run);
  for (char& c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '-';
  }
  return name.substr(0, 63);
}

}  // namespace ferry::testing
