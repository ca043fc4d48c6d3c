#include "storage/store.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <random>

namespace ferry::storage {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kFile:
      return "file";
    case Kind::kFolder:
      return "folder";
    case Kind::kSymlink:
      return "symlink";
    case Kind::kSpecial:
      return "special";
  }
  return "unknown";
}

Result<size_t> Store::ReadInto(std::string_view path, uint64_t offset, char* buffer,
                               size_t length) {
  size_t got = 0;
  http::Sink sink{[&](const char* data, size_t n) {
                    if (n > length - got) return false;
                    std::memcpy(buffer + got, data, n);
                    got += n;
                    return true;
                  },
                  [&] { got = 0; }};
  FERRY_RETURN_IF_ERROR(Read(path, offset, length, sink));
  return got;
}

Result<LevelPage> Store::ListLevel(std::string_view, std::string_view, const ListOptions&) {
  return Status(Code::kUnsupported, Describe() + " cannot be listed by level");
}

Result<Md5Digest> ReadMd5(Store& store, std::string_view path) {
  Md5 md5;
  http::Sink sink{[&](const char* p, size_t n) {
                    md5.Update(p, n);
                    return true;
                  },
                  [&] { md5 = Md5(); }};
  FERRY_RETURN_IF_ERROR(store.Read(path, 0, UINT64_MAX, sink));
  return md5.Finish();
}

namespace {

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Result<ProbeReport> ProbeWritable(Store& store, size_t bytes) {
  std::mt19937_64 rng{std::random_device{}()};
  std::string probe = fmt::format("{}{:016x}", kProbePrefix, rng());
  std::string data(bytes, '\0');
  for (char& c : data) c = char(rng());
  WriteOptions options;
  options.condition = Condition::IfNoneExists();
  options.content_md5 = Md5::Of(data);
  ProbeReport report;
  auto start = std::chrono::steady_clock::now();
  Result<WriteResult> written = store.Write(probe, http::Body::FromString(data), options);
  if (!written.ok() && written.status().code() == Code::kAlreadyExists) {
    // A retried write whose first attempt landed: the random name makes it ours if it matches.
    Result<Entry> there = store.Stat(probe);
    if (there.ok() && there->size == data.size()) written = WriteResult{};
  }
  if (!written.ok()) return written.status();
  report.write_ms = MillisSince(start);

  start = std::chrono::steady_clock::now();
  Result<Md5Digest> back = ReadMd5(store, probe);
  report.read_ms = MillisSince(start);
  start = std::chrono::steady_clock::now();
  Status deleted = store.Delete(probe, Condition::None());
  report.delete_ms = MillisSince(start);
  if (!back.ok()) return back.status();
  if (*back != *options.content_md5) {
    return Status(Code::kInternal, "the probe read back differs from what was written");
  }
  // Not found: a retried delete whose first attempt landed.
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return deleted;
  return report;
}

Result<std::string> ReadAll(const http::Body& body) {
  std::string out(body.size, '\0');
  uint64_t done = 0;
  while (done < body.size) {
    Result<size_t> n = body.read(done, out.data() + done, body.size - done);
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(Code::kIo, "body ended before its declared size");
    done += *n;
  }
  return out;
}

namespace {

class OrderCheckedLister : public Lister {
 public:
  OrderCheckedLister(std::unique_ptr<Lister> inner, std::string what)
      : inner_(std::move(inner)), what_(std::move(what)) {}
  Result<bool> Next(Entry& entry) override {
    Result<bool> more = inner_->Next(entry);
    if (!more.ok() || !*more) return more;
    if (started_ && entry.path <= last_) {
      misordered_ = true;
      return Status(Code::kRefused,
                    fmt::format("{} listed '{}' after '{}': out of byte order (S3 and Azure sort "
                                "by UTF-8 bytes), so ferry cannot tell what is gone; nothing was "
                                "changed",
                                what_, entry.path, last_));
    }
    started_ = true;
    last_ = entry.path;
    return true;
  }
  void SkipContents() override { inner_->SkipContents(); }
  // A misordered listing ends: nothing after it can be trusted.
  std::string Unlisted() const override { return misordered_ ? "" : inner_->Unlisted(); }

 private:
  std::unique_ptr<Lister> inner_;
  std::string what_;
  std::string last_;
  bool started_ = false;
  bool misordered_ = false;
};

}  // namespace

Result<RootIdentity> ObjectStoreIdentity(Store& store, std::string kind) {
  RootIdentity identity;
  identity.filesystem = std::move(kind);
  Result<std::unique_ptr<Lister>> lister =
      store.List("", ListOptions{.metadata = false, .concurrency = 1});
  if (!lister.ok()) return lister.status();
  Entry first;
  Result<bool> any = (*lister)->Next(first);
  if (!any.ok()) return any.status();
  identity.empty = !*any;
  return identity;
}

std::unique_ptr<Lister> InByteOrder(std::unique_ptr<Lister> inner, std::string what) {
  return std::make_unique<OrderCheckedLister>(std::move(inner), std::move(what));
}

Kind KindFromMetadata(const Metadata& metadata) {
  auto is_true = [&](const char* key) {
    auto it = metadata.find(key);
    return it != metadata.end() && (it->second == "true" || it->second == "True");
  };
  if (is_true("hdi_isfolder")) return Kind::kFolder;
  if (is_true("is_symlink")) return Kind::kSymlink;
  return Kind::kFile;
}

std::string JoinPath(std::string_view prefix, std::string_view path) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (prefix.empty()) return std::string(path);
  if (path.empty()) return std::string(prefix);
  std::string out(prefix);
  out += '/';
  out += path;
  return out;
}

}  // namespace ferry::storage
