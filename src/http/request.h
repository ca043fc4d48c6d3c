// An HTTP request and response as ferry's layers see them: bodies stream in and out by callback,
// so no file is ever held whole in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ferry::http {

// Header list with case-insensitive names. Order of insertion is kept.
class Headers {
 public:
  // Replaces any header of the same name.
  void Set(std::string_view name, std::string value);
  void Add(std::string_view name, std::string value);
  void Remove(std::string_view name);
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  void Clear() { entries_.clear(); }

  using Entry = std::pair<std::string, std::string>;
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// A request body read by position, so that a retry can send it again from the start.
struct Body {
  uint64_t size = 0;
  // Copies up to `len` bytes starting at `offset` into `buf`; returns the count (0 only at the
  // end). REQUIRES: safe to call again for any offset after an earlier call.
  std::function<Result<size_t>(uint64_t offset, char* buf, size_t len)> read;

  static Body Empty() { return Body{0, nullptr}; }
  static Body FromString(std::string bytes);
  // The first `size` bytes of `data`, shared (kept alive while any copy of the body is).
  static Body FromBuffer(std::shared_ptr<const char[]> data, size_t size);
};

// Receives the bytes of a successful (2xx) response. `write` returns false to abort the
// transfer. `reset` is called before a retry sends the request again, so the sink can discard
// what it had received.
struct Sink {
  std::function<bool(const char* data, size_t len)> write;
  std::function<void()> reset;
};

struct Request {
  std::string method = "GET";
  std::string url;  // absolute, already percent-encoded
  Headers headers;
  Body body;
  Sink* sink = nullptr;  // nullptr: a 2xx body is collected in Response::body
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // error bodies (capped), and 2xx bodies when the request has no sink
};

// The URL with any SAS signature replaced by REDACTED, safe for logs and messages.
std::string RedactUrl(std::string_view url);

}  // namespace ferry::http
