#include "http/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace ferry::http {

namespace {
uint64_t ResponseBytes(const Result<Response>& outcome) {
  if (!outcome.ok()) return 0;
  auto length = outcome->headers.Get("Content-Length");
  uint64_t n = 0;
  if (length) std::from_chars(length->data(), length->data() + length->size(), n);
  return std::max<uint64_t>(n, outcome->body.size());
}
}  // namespace

Pipeline::Pipeline(std::vector<std::shared_ptr<RequestPolicy>> policies,
                   std::shared_ptr<Transport> transport, std::shared_ptr<RetryPolicy> retry,
                   std::shared_ptr<ConcurrencyLimit> concurrency)
    : policies_(std::move(policies)),
      transport_(std::move(transport)),
      retry_(std::move(retry)),
      concurrency_(std::move(concurrency)) {}

Result<Response> Pipeline::Send(const Request& request) {
  for (int attempt = 1;; ++attempt) {
    Request prepared = request;
    for (auto& policy : policies_) FERRY_RETURN_IF_ERROR(policy->Prepare(prepared));
    if (attempt > 1 && prepared.sink != nullptr && prepared.sink->reset) prepared.sink->reset();

    if (concurrency_) concurrency_->Enter();
    Result<Response> outcome = transport_->Send(prepared);
    if (concurrency_) {
      uint64_t received = prepared.method == "HEAD" ? 0 : ResponseBytes(outcome);
      concurrency_->Exit(outcome, prepared.body.size + received);
    }
    std::optional<Duration> delay = retry_->NextDelay(attempt, outcome);
    if (!delay) return outcome;

    ++retries_;
    std::string cause =
        outcome.ok() ? fmt::format("HTTP {}", outcome->status) : outcome.status().message();
    if (outcome.ok()) {
      if (auto code = outcome->headers.Get("x-ms-error-code")) cause += fmt::format(" {}", *code);
    }
    {
      // Network messages end with libcurl's reason, the part that groups them.
      size_t colon = cause.rfind(": ");
      std::string key =
          outcome.ok()
              ? cause
              : "network: " + (colon == std::string::npos ? cause : cause.substr(colon + 2));
      std::lock_guard lock(causes_mu_);
      ++causes_[key];
    }
    spdlog::debug("retry {} of {} {} in {} ms: {}", attempt, request.method, RedactUrl(request.url),
                  delay->count(), cause);
    retry_->clock().SleepFor(*delay);
  }
}

std::map<std::string, uint64_t> Pipeline::RetriesByCause() const {
  std::lock_guard lock(causes_mu_);
  return causes_;
}

}  // namespace ferry::http
