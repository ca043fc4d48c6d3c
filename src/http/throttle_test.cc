#include "http/throttle.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/fake_clock.h"

namespace ferry::http {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

constexpr double kMiB = 1 << 20;

LimitAt Constant(std::optional<double> rate) {
  return [rate](auto) { return rate; };
}

double SecondsSince(FakeClock& clock, std::chrono::system_clock::time_point start) {
  return std::chrono::duration<double>(clock.Now() - start).count();
}

TEST(RateLimiter, HoldsTheAverageRateAfterTheBurst) {
  auto clock = std::make_shared<FakeClock>();
  RateLimiter limiter(Constant(20 * kMiB), clock, 500ms);
  auto start = clock->Now();
  for (int i = 0; i < 100; ++i) limiter.Acquire(2 * kMiB);  // 200 MiB at 20 MiB/s
  // The last 2 MiB are granted at 9.4 s (10 s of bookings, less the half-second burst); the
  // whole 200 MiB have been sent by the time the last booking ends.
  EXPECT_NEAR(SecondsSince(*clock, start), 9.4, 0.01);
  EXPECT_NEAR(std::chrono::duration<double>(limiter.throttled()).count(), 9.4, 0.01);
}

TEST(RateLimiter, UnlimitedNeverWaitsAndAnIdleBucketLendsOnlyOneBurst) {
  auto clock = std::make_shared<FakeClock>();
  RateLimiter unlimited(Constant(std::nullopt), clock);
  for (int i = 0; i < 1000; ++i) unlimited.Acquire(1e9);
  EXPECT_TRUE(clock->sleeps.empty());

  RateLimiter limiter(Constant(100), clock, 500ms);
  clock->Advance(1h);  // a long idle spell lends no more than the burst
  auto start = clock->Now();
  for (int i = 0; i < 150; ++i) limiter.Acquire(1);
  EXPECT_NEAR(SecondsSince(*clock, start), 0.99, 0.011) << "50 free, then 100 per second";
}

TEST(RateLimiter, APausedLimitHoldsUntilTheScheduleLiftsIt) {
  auto clock = std::make_shared<FakeClock>();
  auto start = clock->Now();
  // Paused for the first 30 minutes, then 1,000 units per second.
  RateLimiter limiter(
      [start](std::chrono::system_clock::time_point now) {
        return now - start < 30min ? std::optional<double>(0) : std::optional<double>(1000);
      },
      clock, 0ms);
  limiter.Acquire(0);  // even a bodiless request waits
  EXPECT_NEAR(SecondsSince(*clock, start), 1800, 1.0);
  for (const auto& sleep : clock->sleeps) EXPECT_LE(sleep, 1s) << "looks again every second";
  auto resumed = clock->Now();
  limiter.Acquire(500);
  limiter.Acquire(500);
  EXPECT_NEAR(SecondsSince(*clock, resumed), 0.5, 0.01);
  EXPECT_NEAR(std::chrono::duration<double>(limiter.throttled()).count(), 1800.5, 1.0);
}

TEST(RateLimiter, SwitchesRateWhenTheScheduleDoes) {
  auto clock = std::make_shared<FakeClock>();
  auto start = clock->Now();
  // 10 units/s for the first minute, then 100 units/s.
  RateLimiter limiter(
      [start](std::chrono::system_clock::time_point now) {
        return std::optional<double>(now - start < 1min ? 10 : 100);
      },
      clock, 0ms);
  for (int i = 0; i < 600; ++i) limiter.Acquire(1);  // one minute's worth at 10/s
  double slow = SecondsSince(*clock, start);
  EXPECT_NEAR(slow, 59.9, 0.2);
  auto fast_start = clock->Now();
  for (int i = 0; i < 600; ++i) limiter.Acquire(1);
  EXPECT_NEAR(SecondsSince(*clock, fast_start), 6.0, 0.25) << "the faster rate, no restart";
}

TEST(RateLimiter, ManyThreadsShareOneBudget) {
  // Real time, small numbers: 8 threads each take 25 units at 1,000 units/s: 200 units, 0.2 s.
  RateLimiter limiter(Constant(1000), SystemClock(), 0ms);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) limiter.Acquire(1);
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(seconds, 0.19);
}

// A fake clock that sets `stop` at its n-th sleep, as an operator's Ctrl-C would.
class StoppingClock : public FakeClock {
 public:
  StoppingClock(std::atomic<bool>& stop, int n) : stop_(stop), n_(n) {}
  void SleepFor(Duration d) override {
    FakeClock::SleepFor(d);
    if (--n_ == 0) stop_ = true;
  }

 private:
  std::atomic<bool>& stop_;
  int n_;
};

TEST(RateLimiter, AStopEndsAPauseAndALongTurnAndTheRequestIsCancelled) {
  auto clock = std::make_shared<FakeClock>();
  std::atomic<bool> stop{false};
  int looks = 0;
  // Paused; the operator presses Ctrl-C after ten looks.
  auto paused = std::make_shared<RateLimiter>(
      [&](auto) {
        if (++looks == 10) stop = true;
        return std::optional<double>(0);
      },
      clock, 0ms, &stop);
  ThrottlePolicy policy(paused, nullptr);
  Request request;
  Status st = policy.Prepare(request);
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(looks, 10);

  // A turn booked an hour ahead is waited a second at a time, so a stop ends it.
  stop = false;
  auto stopping = std::make_shared<StoppingClock>(stop, 5);
  RateLimiter slow(Constant(1), stopping, 0ms, &stop);
  EXPECT_TRUE(slow.Acquire(3600));  // books the next hour; goes at once
  auto start = stopping->Now();
  EXPECT_FALSE(slow.Acquire(1));
  EXPECT_NEAR(SecondsSince(*stopping, start), 5, 0.01);
}

TEST(ThrottlePolicy, TakesOneOperationAndTheBodyBytesPerAttempt) {
  auto clock = std::make_shared<FakeClock>();
  auto bytes = std::make_shared<RateLimiter>(Constant(1000), clock, 0ms);
  auto ops = std::make_shared<RateLimiter>(Constant(10), clock, 0ms);
  ThrottlePolicy policy(bytes, ops);
  Request request;
  request.body = Body::FromString(std::string(500, 'x'));
  auto start = clock->Now();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(policy.Prepare(request).ok());
  // Bytes: 4 x 500 at 1,000/s books 2 s; the fourth request goes at 1.5 s. Operations: 0.3 s.
  EXPECT_NEAR(SecondsSince(*clock, start), 1.5, 0.01);
}

TEST(ThrottlePolicy, ALongBodyTakesItsBytesAsItIsReadNotAllBeforeTheFirst) {
  auto clock = std::make_shared<FakeClock>();
  auto bytes = std::make_shared<RateLimiter>(Constant(8 * kMiB), clock, 0ms);
  ThrottlePolicy policy(bytes, nullptr);
  const uint64_t size = ThrottlePolicy::kPaceAbove + (8 << 20);  // 3 s at 8 MiB/s
  Request request;
  request.body.size = size;
  request.body.read = [](uint64_t, char*, size_t len) -> Result<size_t> { return len; };
  auto start = clock->Now();
  Request prepared = request;
  ASSERT_TRUE(policy.Prepare(prepared).ok());
  EXPECT_NEAR(SecondsSince(*clock, start), 0, 0.01) << "nothing booked before the first byte";

  // Read in 1 MiB pieces, as libcurl would: each waits its turn, the last one at 3 s less one
  // piece's worth.
  std::vector<char> buf(1 << 20);
  std::vector<double> at;
  for (uint64_t offset = 0; offset < size; offset += buf.size()) {
    Result<size_t> got = prepared.body.read(offset, buf.data(), buf.size());
    ASSERT_TRUE(got.ok());
    at.push_back(SecondsSince(*clock, start));
  }
  ASSERT_EQ(at.size(), 24u);
  EXPECT_NEAR(at[8], 1.0, 0.01);
  EXPECT_NEAR(at.back(), 23.0 / 8, 0.01);
  EXPECT_NEAR(std::chrono::duration<double>(bytes->throttled()).count(), 23.0 / 8, 0.01);
}

}  // namespace
}  // namespace ferry::http
