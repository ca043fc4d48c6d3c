#include "transfer/buffer_pool.h"

#include <algorithm>
#include <iterator>

namespace ferry::transfer {

namespace {
// Sizes are rounded up so that blocks of one file (and small files of similar sizes) share.
constexpr size_t kGrain = 64 * 1024;
size_t Rounded(size_t size) { return (std::max<size_t>(size, 1) + kGrain - 1) / kGrain * kGrain; }
}  // namespace

BufferPool::State::~State() {
  for (auto& [size, data] : free) delete[] data;
}

void BufferPool::State::Return(char* data, size_t size) {
  {
    std::lock_guard lock(mu);
    in_use -= size;
    free.emplace(size, data);
    idle += size;
  }
  cv.notify_all();
}

std::shared_ptr<char[]> BufferPool::Acquire(size_t size) {
  size = Rounded(size);
  State& s = *state_;
  char* data = nullptr;
  {
    std::unique_lock lock(s.mu);
    s.cv.wait(lock, [&] { return s.in_use == 0 || s.in_use + size <= s.capacity; });
    s.in_use += size;
    auto fit = s.free.find(size);
    if (fit != s.free.end()) {
      data = fit->second;
      s.free.erase(fit);
      s.idle -= size;
    } else {
      // Room for a new buffer: idle ones of other sizes go, largest first, while the total
      // would be over the capacity.
      while (!s.free.empty() && s.in_use + s.idle > s.capacity) {
        auto largest = std::prev(s.free.end());
        s.idle -= largest->first;
        delete[] largest->second;
        s.free.erase(largest);
      }
    }
  }
  if (data == nullptr) data = new char[size];  // not zero-filled: the caller writes it over
  return std::shared_ptr<char[]>(data, [state = state_, size](char* p) { state->Return(p, size); });
}

uint64_t BufferPool::idle() const {
  std::lock_guard lock(state_->mu);
  return state_->idle;
}

uint64_t BufferPool::in_use() const {
  std::lock_guard lock(state_->mu);
  return state_->in_use;
}

}  // namespace ferry::transfer
