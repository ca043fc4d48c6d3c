// Errors as values. Every fallible call below the CLI returns a Status or a Result<T>; nothing
// throws across a layer boundary.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ferry {

// What went wrong, in terms a caller can act on.
enum class Code {
  kOk,
  kNotFound,            // the object, container or path does not exist
  kAlreadyExists,       // a create-only write (If-None-Match: *) met an existing object
  kPreconditionFailed,  // an If-Match write met a different ETag
  kThrottled,           // the service asked us to slow down (429, 503 ServerBusy)
  kAuth,                // credentials missing, wrong or expired (401, 403)
  kTransient,           // network error or 5xx that may succeed on retry
  kInvalidInput,        // the request or the caller's input is malformed
  kIo,                  // local file system error
  kUnsupported,         // the endpoint cannot do this operation
  kCancelled,           // the operator stopped the run before this was done
  kRefused,             // a safety check refused to go on (the message says what to fix)
  kInternal,            // anything else: a bug or an unexpected answer
};

std::string_view CodeName(Code code);

class Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Service details, set when the error came from an HTTP endpoint.
  int http_status() const { return http_status_; }
  const std::string& service_code() const { return service_code_; }
  const std::string& request_id() const { return request_id_; }
  Status& WithHttp(int http_status, std::string service_code, std::string request_id) {
    http_status_ = http_status;
    service_code_ = std::move(service_code);
    request_id_ = std::move(request_id);
    return *this;
  }

  // Whether the error is about the endpoint as a whole (its container or root is gone), not the
  // one item the request was for: every other request would meet it too. Set by the store that
  // knows its service's codes.
  bool endpoint_wide() const { return endpoint_wide_; }
  Status& WithEndpointWide() {
    endpoint_wide_ = true;
    return *this;
  }

  // "not-found: blob 'a/b' does not exist (HTTP 404 BlobNotFound, request 1234)"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int http_status_ = 0;
  std::string service_code_;
  std::string request_id_;
  bool endpoint_wide_ = false;
};

// Input that cannot be used as given (a user's flag, a URL, a configuration): the message says
// what to change.
inline Status InvalidInput(std::string message) {
  return Status(Code::kInvalidInput, std::move(message));
}

// Ends the process with `status` in the message: a Result's value was taken without one.
[[noreturn]] void DieOnMissingValue(const Status& status);

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  // REQUIRES: !status.ok() (an OK status with no value is a programming error, made an
  // internal error here).
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status(Code::kInternal, "a Result was made of an OK status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // The value. REQUIRES: ok(). Checked in every build: taking the value of an error ends the
  // process with the error's message, never undefined behaviour.
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }

 private:
  T& Checked() {
    if (!value_) DieOnMissingValue(status_);
    return *value_;
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace ferry

#define FERRY_RETURN_IF_ERROR(expr) \
  do {                              \
    ::ferry::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)
