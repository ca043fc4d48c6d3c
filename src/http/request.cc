#include "http/request.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/text.h"

namespace ferry::http {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void Headers::Set(std::string_view name, std::string value) {
  Remove(name);
  entries_.emplace_back(std::string(name), std::move(value));
}

void Headers::Add(std::string_view name, std::string value) {
  entries_.emplace_back(std::string(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& e) { return EqualsIgnoreCase(e.first, name); });
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [key, value] : entries_) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

Body Body::FromBuffer(std::shared_ptr<const char[]> data, size_t size) {
  Body body;
  body.size = size;
  body.read = [data = std::move(data), size](uint64_t offset, char* buf,
                                             size_t len) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    size_t n = std::min<uint64_t>(len, size - offset);
    std::memcpy(buf, data.get() + offset, n);
    return n;
  };
  return body;
}

Body Body::FromString(std::string bytes) {
  auto data = std::make_shared<std::string>(std::move(bytes));
  Body body;
  body.size = data->size();
  body.read = [data](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    if (offset >= data->size()) return size_t{0};
    size_t n = std::min<uint64_t>(len, data->size() - offset);
    std::memcpy(buf, data->data() + offset, n);
    return n;
  };
  return body;
}

std::string RedactUrl(std::string_view url) { return RedactSecrets(url); }

}  // namespace ferry::http
