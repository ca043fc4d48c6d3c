// Two MD5 digests of one stream of bytes computed in a single pass: one over the whole stream,
// one that restarts at every block. A large upload needs both (the whole file's MD5 is stored
// with the blob; each block's is checked by the service in transit). MD5 is one long chain of
// dependent steps, so a core runs two independent chains side by side for little more than the
// price of one: the pair costs about half of two separate MD5s.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/encoding.h"

namespace ferry {

class Md5Pair {
 public:
  // Feeds `size` bytes to both digests. Fastest when every block but the last is a multiple of
  // 64 bytes long (the two digests then stay in step); any block size gives correct digests.
  void Update(const void* data, size_t size);
  // The digest of the bytes since the last FinishBlock (or the start); starts the next block.
  Md5Digest FinishBlock();
  // The digest of every byte fed. The object must not be used afterwards.
  Md5Digest FinishWhole();

 private:
  // One MD5 computation: chaining value, bytes consumed, and the bytes of a partial chunk.
  struct State {
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    uint64_t length = 0;
    uint8_t tail[64];
    size_t tail_size = 0;

    void Update(const uint8_t* data, size_t size);
    Md5Digest Finish();
  };

  State whole_, block_;
};

}  // namespace ferry
