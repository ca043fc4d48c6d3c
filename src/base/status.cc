#include "base/status.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace ferry {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not-found";
    case Code::kAlreadyExists:
      return "already-exists";
    case Code::kPreconditionFailed:
      return "precondition-failed";
    case Code::kThrottled:
      return "throttled";
    case Code::kAuth:
      return "auth";
    case Code::kTransient:
      return "transient";
    case Code::kInvalidInput:
      return "invalid-input";
    case Code::kIo:
      return "io";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kCancelled:
      return "cancelled";
    case Code::kRefused:
      return "refused";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

void DieOnMissingValue(const Status& status) {
  std::fprintf(stderr, "ferry: internal error: the value of a failed Result was taken (%s)\n",
               status.ToString().c_str());
  std::abort();
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = fmt::format("{}: {}", CodeName(code_), message_);
  if (http_status_ != 0) {
    out += fmt::format(" (HTTP {}", http_status_);
    if (!service_code_.empty()) out += " " + service_code_;
    if (!request_id_.empty()) out += ", request " + request_id_;
    out += ")";
  }
  return out;
}

}  // namespace ferry
