#include "http/transport.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace ferry::http {

namespace {

struct Exchange {
  const Request* request = nullptr;
  const TransportOptions* options = nullptr;
  Response* response = nullptr;
  uint64_t sent = 0;
  Status body_error;          // set when the request body reader failed
  bool sink_refused = false;  // set when the sink asked to stop
  bool buffered_too_much = false;
  bool headers_ended = false;  // the blank line after the last response's headers was seen
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty()) {
    ex->headers_ended = true;
    return size * count;
  }
  if (line.starts_with("HTTP/")) {
    // A new status line (the first, or one after 100-continue): start the response afresh.
    ex->headers_ended = false;
    ex->response->headers.Clear();
    ex->response->body.clear();
    ex->response->status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos && line.size() >= sp + 4) {
      std::string_view code = line.substr(sp + 1, 3);
      std::from_chars(code.data(), code.data() + code.size(), ex->response->status);
    }
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    ex->response->headers.Add(line.substr(0, colon), std::string(value));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * count;
  // OnHeader has seen the status line before any body byte arrives.
  bool success = ex->response->status >= 200 && ex->response->status < 300;
  if (success && ex->request->sink != nullptr) {
    if (!ex->request->sink->write(data, n)) {
      ex->sink_refused = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return n;
  }
  size_t cap = success ? ex->options->max_buffered_body : ex->options->max_error_body;
  if (ex->response->body.size() + n > cap) {
    if (success) {
      ex->buffered_too_much = true;
      return CURL_WRITEFUNC_ERROR;
    }
    ex->response->body.append(data, cap - ex->response->body.size());
    return n;
  }
  ex->response->body.append(data, n);
  return n;
}

size_t OnRead(char* buf, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const Body& body = ex->request->body;
  if (ex->sent >= body.size) return 0;
  size_t want = std::min<uint64_t>(size * count, body.size - ex->sent);
  Result<size_t> got = body.read(ex->sent, buf, want);
  if (!got.ok()) {
    ex->body_error = got.status();
    return CURL_READFUNC_ABORT;
  }
  if (*got == 0) {
    ex->body_error = Status(Code::kIo, "request body ended before its declared size");
    return CURL_READFUNC_ABORT;
  }
  ex->sent += *got;
  return *got;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* ex = static_cast<Exchange*>(user);
  if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  ex->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

Code CodeForCurl(CURLcode rc) {
  switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Code::kInvalidInput;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return Code::kTransient;
    case CURLE_PEER_FAILED_VERIFICATION:
      return Code::kAuth;
    default:
      return Code::kTransient;
  }
}

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

CurlTransport::CurlTransport(TransportOptions options) : options_(options) {
  static GlobalInit init;
}

CurlTransport::~CurlTransport() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* CurlTransport::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

Result<Response> CurlTransport::Send(const Request& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return Status(Code::kInternal, "libcurl could not create a handle");
  curl_easy_reset(curl);  // keeps the connection cache, clears per-request options

  Response response;
  Exchange ex;
  ex.request = &request;
  ex.options = &options_;
  ex.response = &response;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, long(options_.low_speed_time.count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.no_proxy.empty())
    curl_easy_setopt(curl, CURLOPT_NOPROXY, options_.no_proxy.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);

  const std::string& method = request.method;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT" || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.size));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &ex);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, OnSeek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &ex);
    if (method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  long connects = 0;
  if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) {
    connections_opened_ += uint64_t(connects);
  }

  if (rc != CURLE_OK) {
    curl_easy_cleanup(curl);  // the connection may be in an unknown state: do not reuse it
    if (!ex.body_error.ok()) return ex.body_error;
    if (ex.sink_refused) return Status(Code::kIo, "the response body could not be stored");
    if (ex.buffered_too_much) {
      return Status(Code::kInternal, "response body larger than the in-memory limit");
    }
    return Status(CodeForCurl(rc),
                  fmt::format("{} {}: {}", method, RedactUrl(request.url), curl_easy_strerror(rc)));
  }
  if (!ex.headers_ended) {
    // The connection closed inside the headers, and libcurl took what came as the answer.
    curl_easy_cleanup(curl);
    return Status(Code::kTransient, fmt::format("{} {}: the response ended inside its headers",
                                                method, RedactUrl(request.url)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = int(status);
  Release(curl);
  return response;
}

}  // namespace ferry::http
