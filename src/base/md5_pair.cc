#include "base/md5_pair.h"

#include <bit>
#include <cstring>

namespace ferry {

namespace {

inline uint32_t F(uint32_t x, uint32_t y, uint32_t z) { return z ^ (x & (y ^ z)); }
inline uint32_t G(uint32_t x, uint32_t y, uint32_t z) { return y ^ (z & (x ^ y)); }
inline uint32_t H(uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; }
inline uint32_t I(uint32_t x, uint32_t y, uint32_t z) { return y ^ (x | ~z); }

inline void LoadWords(const uint8_t* chunk, uint32_t w[16]) {
  std::memcpy(w, chunk, 64);
  if constexpr (std::endian::native == std::endian::big) {
    for (int i = 0; i < 16; ++i) w[i] = __builtin_bswap32(w[i]);
  }
}

// The 64 steps of RFC 1321: STEP(round function, the four variables in their order for this
// step, message word, constant, rotation).
#define FERRY_MD5_ROUNDS(STEP)            \
  STEP(F, a, b, c, d, 0, 0xd76aa478, 7)   \
  STEP(F, d, a, b, c, 1, 0xe8c7b756, 12)  \
  STEP(F, c, d, a, b, 2, 0x242070db, 17)  \
  STEP(F, b, c, d, a, 3, 0xc1bdceee, 22)  \
  STEP(F, a, b, c, d, 4, 0xf57c0faf, 7)   \
  STEP(F, d, a, b, c, 5, 0x4787c62a, 12)  \
  STEP(F, c, d, a, b, 6, 0xa8304613, 17)  \
  STEP(F, b, c, d, a, 7, 0xfd469501, 22)  \
  STEP(F, a, b, c, d, 8, 0x698098d8, 7)   \
  STEP(F, d, a, b, c, 9, 0x8b44f7af, 12)  \
  STEP(F, c, d, a, b, 10, 0xffff5bb1, 17) \
  STEP(F, b, c, d, a, 11, 0x895cd7be, 22) \
  STEP(F, a, b, c, d, 12, 0x6b901122, 7)  \
  STEP(F, d, a, b, c, 13, 0xfd987193, 12) \
  STEP(F, c, d, a, b, 14, 0xa679438e, 17) \
  STEP(F, b, c, d, a, 15, 0x49b40821, 22) \
  STEP(G, a, b, c, d, 1, 0xf61e2562, 5)   \
  STEP(G, d, a, b, c, 6, 0xc040b340, 9)   \
  STEP(G, c, d, a, b, 11, 0x265e5a51, 14) \
  STEP(G, b, c, d, a, 0, 0xe9b6c7aa, 20)  \
  STEP(G, a, b, c, d, 5, 0xd62f105d, 5)   \
  STEP(G, d, a, b, c, 10, 0x02441453, 9)  \
  STEP(G, c, d, a, b, 15, 0xd8a1e681, 14) \
  STEP(G, b, c, d, a, 4, 0xe7d3fbc8, 20)  \
  STEP(G, a, b, c, d, 9, 0x21e1cde6, 5)   \
  STEP(G, d, a, b, c, 14, 0xc33707d6, 9)  \
  STEP(G, c, d, a, b, 3, 0xf4d50d87, 14)  \
  STEP(G, b, c, d, a, 8, 0x455a14ed, 20)  \
  STEP(G, a, b, c, d, 13, 0xa9e3e905, 5)  \
  STEP(G, d, a, b, c, 2, 0xfcefa3f8, 9)   \
  STEP(G, c, d, a, b, 7, 0x676f02d9, 14)  \
  STEP(G, b, c, d, a, 12, 0x8d2a4c8a, 20) \
  STEP(H, a, b, c, d, 5, 0xfffa3942, 4)   \
  STEP(H, d, a, b, c, 8, 0x8771f681, 11)  \
  STEP(H, c, d, a, b, 11, 0x6d9d6122, 16) \
  STEP(H, b, c, d, a, 14, 0xfde5380c, 23) \
  STEP(H, a, b, c, d, 1, 0xa4beea44, 4)   \
  STEP(H, d, a, b, c, 4, 0x4bdecfa9, 11)  \
  STEP(H, c, d, a, b, 7, 0xf6bb4b60, 16)  \
  STEP(H, b, c, d, a, 10, 0xbebfbc70, 23) \
  STEP(H, a, b, c, d, 13, 0x289b7ec6, 4)  \
  STEP(H, d, a, b, c, 0, 0xeaa127fa, 11)  \
  STEP(H, c, d, a, b, 3, 0xd4ef3085, 16)  \
  STEP(H, b, c, d, a, 6, 0x04881d05, 23)  \
  STEP(H, a, b, c, d, 9, 0xd9d4d039, 4)   \
  STEP(H, d, a, b, c, 12, 0xe6db99e5, 11) \
  STEP(H, c, d, a, b, 15, 0x1fa27cf8, 16) \
  STEP(H, b, c, d, a, 2, 0xc4ac5665, 23)  \
  STEP(I, a, b, c, d, 0, 0xf4292244, 6)   \
  STEP(I, d, a, b, c, 7, 0x432aff97, 10)  \
  STEP(I, c, d, a, b, 14, 0xab9423a7, 15) \
  STEP(I, b, c, d, a, 5, 0xfc93a039, 21)  \
  STEP(I, a, b, c, d, 12, 0x655b59c3, 6)  \
  STEP(I, d, a, b, c, 3, 0x8f0ccc92, 10)  \
  STEP(I, c, d, a, b, 10, 0xffeff47d, 15) \
  STEP(I, b, c, d, a, 1, 0x85845dd1, 21)  \
  STEP(I, a, b, c, d, 8, 0x6fa87e4f, 6)   \
  STEP(I, d, a, b, c, 15, 0xfe2ce6e0, 10) \
  STEP(I, c, d, a, b, 6, 0xa3014314, 15)  \
  STEP(I, b, c, d, a, 13, 0x4e0811a1, 21) \
  STEP(I, a, b, c, d, 4, 0xf7537e82, 6)   \
  STEP(I, d, a, b, c, 11, 0xbd3af235, 10) \
  STEP(I, c, d, a, b, 2, 0x2ad7d2bb, 15)  \
  STEP(I, b, c, d, a, 9, 0xeb86d391, 21)

// One chain, or two chains fed the same chunk. The two are written out side by side as plain
// variables, so the compiler interleaves them (arrays in a loop come out markedly slower).
#define FERRY_MD5_STEP1(f, a, b, c, d, g, t, s)     \
  a##1 += f(b##1, c##1, d##1) + w[g] + uint32_t(t); \
  a##1 = std::rotl(a##1, s) + b##1;
#define FERRY_MD5_STEP2(f, a, b, c, d, g, t, s)     \
  FERRY_MD5_STEP1(f, a, b, c, d, g, t, s)           \
  a##2 += f(b##2, c##2, d##2) + w[g] + uint32_t(t); \
  a##2 = std::rotl(a##2, s) + b##2;

void Compress1(uint32_t h1[4], const uint8_t* chunk) {
  uint32_t w[16];
  LoadWords(chunk, w);
  uint32_t a1 = h1[0], b1 = h1[1], c1 = h1[2], d1 = h1[3];
  FERRY_MD5_ROUNDS(FERRY_MD5_STEP1)
  h1[0] += a1, h1[1] += b1, h1[2] += c1, h1[3] += d1;
}

void Compress2(uint32_t h1[4], uint32_t h2[4], const uint8_t* chunk) {
  uint32_t w[16];
  LoadWords(chunk, w);
  uint32_t a1 = h1[0], b1 = h1[1], c1 = h1[2], d1 = h1[3];
  uint32_t a2 = h2[0], b2 = h2[1], c2 = h2[2], d2 = h2[3];
  FERRY_MD5_ROUNDS(FERRY_MD5_STEP2)
  h1[0] += a1, h1[1] += b1, h1[2] += c1, h1[3] += d1;
  h2[0] += a2, h2[1] += b2, h2[2] += c2, h2[3] += d2;
}

#undef FERRY_MD5_STEP2
#undef FERRY_MD5_STEP1
#undef FERRY_MD5_ROUNDS

}  // namespace

void Md5Pair::State::Update(const uint8_t* data, size_t size) {
  length += size;
  if (tail_size > 0) {
    size_t n = std::min(size, 64 - tail_size);
    std::memcpy(tail + tail_size, data, n);
    tail_size += n;
    data += n;
    size -= n;
    if (tail_size < 64) return;
    Compress1(h, tail);
    tail_size = 0;
  }
  for (; size >= 64; data += 64, size -= 64) Compress1(h, data);
  std::memcpy(tail, data, size);
  tail_size = size;
}

Md5Digest Md5Pair::State::Finish() {
  uint64_t bits = length * 8;
  uint8_t pad[72] = {0x80};
  size_t pad_size = (tail_size < 56 ? 56 : 120) - tail_size;
  for (int i = 0; i < 8; ++i) pad[pad_size + size_t(i)] = uint8_t(bits >> (8 * i));
  Update(pad, pad_size + 8);
  Md5Digest digest;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) digest[size_t(4 * i + j)] = uint8_t(h[i] >> (8 * j));
  }
  return digest;
}

void Md5Pair::Update(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (whole_.tail_size != block_.tail_size) {  // out of step: a block of an odd size
    whole_.Update(p, size);
    block_.Update(p, size);
    return;
  }
  whole_.length += size;
  block_.length += size;
  if (whole_.tail_size > 0) {
    size_t n = std::min(size, 64 - whole_.tail_size);
    std::memcpy(whole_.tail + whole_.tail_size, p, n);
    whole_.tail_size += n;
    p += n;
    size -= n;
    if (whole_.tail_size < 64) {
      std::memcpy(block_.tail, whole_.tail, whole_.tail_size);
      block_.tail_size = whole_.tail_size;
      return;
    }
    Compress2(whole_.h, block_.h, whole_.tail);
    whole_.tail_size = block_.tail_size = 0;
  }
  for (; size >= 64; p += 64, size -= 64) Compress2(whole_.h, block_.h, p);
  std::memcpy(whole_.tail, p, size);
  std::memcpy(block_.tail, p, size);
  whole_.tail_size = block_.tail_size = size;
}

Md5Digest Md5Pair::FinishBlock() {
  Md5Digest digest = block_.Finish();
  block_ = State();
  return digest;
}

Md5Digest Md5Pair::FinishWhole() { return whole_.Finish(); }

}  // namespace ferry
