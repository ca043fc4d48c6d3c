// The last link of the HTTP pipeline: libcurl, with connections kept alive between requests.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "http/request.h"

namespace ferry::http {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request once. An HTTP answer of any status is a Response; a network failure
  // (refused, reset, timed out, TLS) is a Status with Code::kTransient, or kInvalidInput for a
  // malformed URL. Thread-safe.
  virtual Result<Response> Send(const Request& request) = 0;
  // New connections opened so far (a measure of keep-alive reuse); 0 if not tracked.
  virtual uint64_t connections_opened() const { return 0; }
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than low_speed_bytes per second for low_speed_time is abandoned.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
  bool verify_tls = true;
  std::string no_proxy;  // hosts never reached through a proxy ("*": none); empty: NO_PROXY's
  std::string ca_file;   // PEM certificates to trust instead of the system's; empty: the system's
  size_t max_error_body = 64 * 1024;    // error bodies beyond this are truncated
  size_t max_buffered_body = 64 << 20;  // a sink-less 2xx body beyond this fails the request
};

// Keeps a pool of curl handles; each handle keeps its connections alive, so consecutive requests
// to one host reuse a TCP (and TLS) connection.
class CurlTransport : public Transport {
 public:
  explicit CurlTransport(TransportOptions options = {});
  ~CurlTransport() override;

  Result<Response> Send(const Request& request) override;
  uint64_t connections_opened() const override { return connections_opened_.load(); }

 private:
  void* Acquire();
  void Release(void* handle);

  TransportOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;
  std::atomic<uint64_t> connections_opened_{0};
};

}  // namespace ferry::http
