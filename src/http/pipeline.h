// A request's path to the network: a short, visible list of policies that prepare each attempt
// (request id, date, signature, ...), then the retry policy around the transport.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "http/concurrency.h"
#include "http/request.h"
#include "http/retry_policy.h"
#include "http/transport.h"

namespace ferry::http {

// One cross-cutting step applied to every attempt of a request, in order, just before it is
// sent. Policies run again on a retry, so time-dependent headers and signatures stay fresh.
class RequestPolicy {
 public:
  virtual ~RequestPolicy() = default;
  virtual Status Prepare(Request& request) = 0;
};

class Pipeline {
 public:
  // `concurrency`, when given, admits each attempt to the transport (and learns from its
  // outcome); waits for admission and between retries happen outside it.
  Pipeline(std::vector<std::shared_ptr<RequestPolicy>> policies,
           std::shared_ptr<Transport> transport, std::shared_ptr<RetryPolicy> retry,
           std::shared_ptr<ConcurrencyLimit> concurrency = nullptr);

  // Sends `request` through the policies and the transport, retrying retriable outcomes. The
  // result is the last HTTP response (any status), or the Status of the last network failure.
  // Thread-safe.
  Result<Response> Send(const Request& request);

  const Transport& transport() const { return *transport_; }

  // Attempts beyond the first, since construction.
  uint64_t retries() const { return retries_.load(); }
  // The same, by cause ("HTTP 503", "network: Connection reset by peer", ...).
  std::map<std::string, uint64_t> RetriesByCause() const;

 private:
  std::vector<std::shared_ptr<RequestPolicy>> policies_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<RetryPolicy> retry_;
  std::shared_ptr<ConcurrencyLimit> concurrency_;
  std::atomic<uint64_t> retries_{0};
  mutable std::mutex causes_mu_;
  std::map<std::string, uint64_t> causes_;
};

}  // namespace ferry::http
