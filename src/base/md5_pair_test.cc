#include "base/md5_pair.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ferry {
namespace {

std::string PseudoRandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

TEST(Md5Pair, KnownDigests) {
  Md5Pair empty;
  EXPECT_EQ(Md5Hex(empty.FinishBlock()), "d41d8cd98f00b204e9800998ecf8427e");
  Md5Pair abc;
  abc.Update("abc", 3);
  EXPECT_EQ(Md5Hex(abc.FinishBlock()), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex(abc.FinishWhole()), "900150983cd24fb0d6963f7d28e17f72");
}

// The whole digest and every block's digest equal OpenSSL's, for blocks of aligned and odd
// sizes, fed in pieces of every shape (so both the in-step and the out-of-step paths run).
TEST(Md5Pair, MatchesOpenSslForEverySplit) {
  const std::string data = PseudoRandomBytes(70'000, 7);
  const std::vector<std::vector<size_t>> block_plans = {
      {64, 128, 4096, 1000},  // aligned blocks, then a short last one
      {65, 63, 1, 4096},      // odd sizes: out of step
      {0, 64, 0, 55, 56, 57, 119, 120, 121},
      {70'000},
  };
  for (size_t piece : {1ul, 7ul, 64ul, 100ul, 5000ul}) {
    for (const auto& plan : block_plans) {
      Md5Pair pair;
      size_t offset = 0;
      for (size_t block : plan) {
        block = std::min(block, data.size() - offset);
        for (size_t done = 0; done < block;) {
          size_t n = std::min(piece, block - done);
          pair.Update(data.data() + offset + done, n);
          done += n;
        }
        EXPECT_EQ(pair.FinishBlock(), Md5::Of(std::string_view(data).substr(offset, block)))
            << "block at " << offset << " of " << block << " bytes, pieces of " << piece;
        offset += block;
      }
      EXPECT_EQ(pair.FinishWhole(), Md5::Of(std::string_view(data).substr(0, offset)))
          << "pieces of " << piece;
    }
  }
}

}  // namespace
}  // namespace ferry
