#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "support/temp_dir.h"

namespace ferry::testing {

namespace {

// Starts `argv` with stdin, stdout and stderr on files in `dir`.
pid_t Spawn(const std::vector<std::string>& argv, const ProcessOptions& options,
            const std::string& dir) {
  std::string out_path = dir + "/out", err_path = dir + "/err", in_path = dir + "/in";
  WriteFile(in_path, options.stdin_data);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = ::open(in_path.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& [name, value] : options.env) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

ProcessResult Collect(int status, const std::string& dir) {
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(dir + "/out");
  result.err = ReadFile(dir + "/err");
  return result;
}

}  // namespace

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  TempDir dir;
  pid_t pid = Spawn(argv, options, dir.path());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return Collect(status, dir.path());
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const ProcessOptions& options) {
  char pattern[] = "/tmp/ferry-bg-XXXXXX";
  dir_ = ::mkdtemp(pattern);
  pid_ = Spawn(argv, options, dir_);
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void BackgroundProcess::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool BackgroundProcess::Running() {
  if (pid_ <= 0) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    pid_ = -pid_;
    return false;
  }
  return true;
}

std::string BackgroundProcess::OutputSoFar() const {
  std::ifstream in(dir_ + "/out");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool BackgroundProcess::WaitForOutput(const std::string& text, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (OutputSoFar().find(text) != std::string::npos) return true;
    if (!Running()) return OutputSoFar().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

ProcessResult BackgroundProcess::Wait() {
  if (pid_ > 0) {
    ::waitpid(pid_, &status_, 0);
    pid_ = -pid_;
  }
  return Collect(status_, dir_);
}

std::vector<std::string> FerryArgv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{FERRY_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessOptions FerryOptions(std::map<std::string, std::optional<std::string>> env) {
  for (const char* name : {"AZURE_STORAGE_CONNECTION_STRING",
                           "AZURE_STORAGE_ACCOUNT",
                           "AZURE_STORAGE_KEY",
                           "AZURE_STORAGE_SAS_TOKEN",
                           "FERRY_LOG_LEVEL",
                           "FERRY_AUTH",
                           "AZURE_TENANT_ID",
                           "AZURE_CLIENT_ID",
                           "AZURE_CLIENT_SECRET",
                           "AZURE_CLIENT_CERTIFICATE_PATH",
                           "AZURE_FEDERATED_TOKEN_FILE",
                           "AZURE_AUTHORITY_HOST",
                           "IDENTITY_ENDPOINT",
                           "IDENTITY_HEADER",
                           "IMDS_ENDPOINT",
                           "AWS_ACCESS_KEY_ID",
                           "AWS_SECRET_ACCESS_KEY",
                           "AWS_SESSION_TOKEN",
                           "AWS_REGION",
                           "AWS_DEFAULT_REGION",
                           "AWS_ENDPOINT_URL",
                           "AWS_ENDPOINT_URL_S3",
                           "FERRY_SOURCE_CONNECTION_STRING",
                           "FERRY_SOURCE_SAS_TOKEN",
                           "FERRY_SOURCE_ACCOUNT",
                           "FERRY_SOURCE_KEY",
                           "SSL_CERT_FILE",
                           "HTTPS_PROXY",
                           "https_proxy",
                           "HTTP_PROXY",
                           "http_proxy",
                           "ALL_PROXY",
                           "all_proxy",
                           "NO_PROXY",
                           "no_proxy"}) {
    env.try_emplace(name, std::nullopt);
  }
  // Tests talk only to loopback: where no credential is set, ferry's look for a managed identity
  // goes to a closed local port, not to 169.254.169.254.
  env.try_emplace("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
  ProcessOptions options;
  options.env = std::move(env);
  return options;
}

ProcessResult RunFerry(const std::vector<std::string>& args,
                       std::map<std::string, std::optional<std::string>> env) {
  return RunProcess(FerryArgv(args), FerryOptions(std::move(env)));
}

}  // namespace ferry::testing
