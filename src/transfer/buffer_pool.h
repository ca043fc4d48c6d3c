// The transfer buffers: a bounded pool of reusable memory, so that the bytes held in flight never
// exceed --max-memory, and a block's buffer is used again for the next block instead of being
// freed, mapped afresh and zero-filled by the kernel page by page.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace ferry::transfer {

class BufferPool {
 public:
  explicit BufferPool(uint64_t capacity) : state_(std::make_shared<State>(capacity)) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `size` bytes (contents unspecified), back in the pool when the last
  // copy of the pointer goes. Blocks while the buffers in use would exceed the capacity; a
  // request larger than the whole capacity is granted when no other buffer is in use. Buffers
  // may outlive the pool. Thread-safe.
  std::shared_ptr<char[]> Acquire(size_t size);

  uint64_t capacity() const { return state_->capacity; }
  // Bytes in buffers handed out and not yet back; bytes kept idle for reuse.
  uint64_t in_use() const;
  uint64_t idle() const;

 private:
  struct State {
    explicit State(uint64_t capacity) : capacity(capacity) {}
    ~State();
    void Return(char* data, size_t size);

    const uint64_t capacity;
    std::mutex mu;
    std::condition_variable cv;
    uint64_t in_use = 0;  // handed out
    uint64_t idle = 0;    // kept in `free` for reuse
    std::multimap<size_t, char*> free;
  };
  std::shared_ptr<State> state_;
};

}  // namespace ferry::transfer
