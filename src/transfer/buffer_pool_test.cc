#include "transfer/buffer_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace ferry::transfer {
namespace {

TEST(BufferPool, ReusesAReturnedBufferOfTheSameSize) {
  BufferPool pool(64 << 20);
  char* first = nullptr;
  {
    auto a = pool.Acquire(8 << 20);
    first = a.get();
    EXPECT_EQ(pool.in_use(), 8u << 20);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  auto b = pool.Acquire((8 << 20) - 100);  // rounds to the same size
  EXPECT_EQ(b.get(), first) << "the same memory, not a fresh mapping";
}

TEST(BufferPool, NeverHandsOutMoreThanItsCapacity) {
  BufferPool pool(16 << 20);
  auto a = pool.Acquire(8 << 20);
  auto b = pool.Acquire(8 << 20);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto c = pool.Acquire(4 << 20);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load()) << "waits while 16 MiB are in use";
  a.reset();
  waiter.join();
  EXPECT_TRUE(got.load());
}

TEST(BufferPool, ARequestLargerThanTheCapacityIsGrantedAlone) {
  BufferPool pool(1 << 20);
  auto big = pool.Acquire(4 << 20);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(pool.in_use(), 4u << 20);
}

TEST(BufferPool, IdleBuffersGiveWayToOtherSizesAndMayOutliveThePool) {
  std::shared_ptr<char[]> kept;
  {
    BufferPool pool(8 << 20);
    pool.Acquire(6 << 20).reset();  // idle: 6 MiB kept for reuse
    EXPECT_EQ(pool.idle(), 6u << 20);
    auto other = pool.Acquire(4 << 20);  // 4 + 6 > 8: the idle one is freed to make room
    EXPECT_EQ(pool.in_use(), 4u << 20);
    EXPECT_EQ(pool.idle(), 0u);
    kept = pool.Acquire(1 << 20);
  }
  kept[0] = 'x';  // still valid after the pool is gone
  kept.reset();
}

}  // namespace
}  // namespace ferry::transfer
