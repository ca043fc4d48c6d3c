#include "http/pipeline.h"

namespace ferry::http {

Result<Response> NextPolicy::operator()(Request& request) const {
  if (rest_.empty()) return transport_.Send(request);
  return rest_.front()->Send(request, NextPolicy(rest_.subspan(1), transport_));
}

Result<Response> RequestPolicy::Send(Request& request, const NextPolicy& next) {
  FERRY_RETURN_IF_ERROR(Prepare(request));
  return next(request);
}

Pipeline::Pipeline(std::vector<std::shared_ptr<Policy>> policies,
                   std::shared_ptr<Transport> transport)
    : policies_(std::move(policies)), transport_(std::move(transport)) {}

Result<Response> Pipeline::Send(const Request& request) const {
  Request copy = request;
  return NextPolicy(policies_, *transport_)(copy);
}

}  // namespace ferry::http
