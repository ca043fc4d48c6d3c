// Reproducible sampling: a seeded hash of a path, so a seed picks the same items every time,
// whatever order they are listed in.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <queue>
#include <set>
#include <string>
#include <string_view>

#include "base/encoding.h"

namespace ferry::migration {

inline uint64_t SeededHash(uint64_t seed, std::string_view path) {
  Md5Digest d = Md5::Of(fmt::format("{}\n{}", seed, path));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[size_t(i)];
  return v;
}

// A reproducible sample of at most `size` paths: those with the lowest seeded hash of all that
// are offered, in any order. Memory is bounded by `size`.
class SeededSample {
 public:
  SeededSample(uint64_t seed, int64_t size) : seed_(seed), size_(size) {}
  void Offer(const std::string& path) {
    lowest_.emplace(SeededHash(seed_, path), path);
    if (int64_t(lowest_.size()) > size_) lowest_.pop();
  }
  // The sample, taken out (the object is empty afterwards).
  std::set<std::string> Take() {
    std::set<std::string> paths;
    for (; !lowest_.empty(); lowest_.pop()) paths.insert(lowest_.top().second);
    return paths;
  }

 private:
  uint64_t seed_;
  int64_t size_;
  std::priority_queue<std::pair<uint64_t, std::string>> lowest_;
};

}  // namespace ferry::migration
