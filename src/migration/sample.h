// Reproducible sampling: a seeded hash of a path, so a seed picks the same items every time,
// whatever order they are listed in.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string_view>

#include "base/encoding.h"

namespace ferry::migration {

inline uint64_t SeededHash(uint64_t seed, std::string_view path) {
  Md5Digest d = Md5::Of(fmt::format("{}\n{}", seed, path));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[size_t(i)];
  return v;
}

}  // namespace ferry::migration
