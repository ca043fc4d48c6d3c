// A request's path to the network, in the Azure SDK's style: a short, visible list of policies,
// each doing one cross-cutting part of every request (retry, throttle, request id and date,
// signing, admission to the wire, ...) and handing the request on to the rest, with the
// transport (libcurl) as the last link. Each store composes its own list.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "http/request.h"
#include "http/transport.h"

namespace ferry::http {

class Policy;

// The rest of a pipeline after a policy: the policies that follow it, then the transport.
class NextPolicy {
 public:
  NextPolicy(std::span<const std::shared_ptr<Policy>> rest, Transport& transport)
      : rest_(rest), transport_(transport) {}
  // Sends `request` through the rest of the pipeline and returns its answer.
  Result<Response> operator()(Request& request) const;

 private:
  std::span<const std::shared_ptr<Policy>> rest_;
  Transport& transport_;
};

// One step of every request. Thread-safe: one policy serves every request of its store.
class Policy {
 public:
  virtual ~Policy() = default;
  // Does this policy's part and sends the request on through `next` (once; several times, as a
  // retry does; or not at all, refusing with a Status), and returns the answer.
  virtual Result<Response> Send(Request& request, const NextPolicy& next) = 0;
};

// A policy that only prepares the request (a header, a signature) before it goes on. Put after
// a retry policy, it prepares each attempt afresh, so dates and signatures stay current.
class RequestPolicy : public Policy {
 public:
  virtual Status Prepare(Request& request) = 0;
  Result<Response> Send(Request& request, const NextPolicy& next) final;
};

class Pipeline {
 public:
  Pipeline(std::vector<std::shared_ptr<Policy>> policies, std::shared_ptr<Transport> transport);

  // Sends a copy of `request` through the policies, in order, and the transport. The result is
  // the last HTTP response (any status), or the Status of a failure before one. Thread-safe.
  Result<Response> Send(const Request& request) const;

  const Transport& transport() const { return *transport_; }

 private:
  std::vector<std::shared_ptr<Policy>> policies_;
  std::shared_ptr<Transport> transport_;
};

}  // namespace ferry::http
