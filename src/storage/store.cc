#include "storage/store.h"

#include <cstring>

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
