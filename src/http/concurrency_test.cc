#include "http/concurrency.h"

#include <gtest/gtest.h>

#include "support/fake_clock.h"

namespace ferry::http {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

Result<Response> Answer(int status, std::string error_code = "") {
  Response r;
  r.status = status;
  if (!error_code.empty()) r.headers.Set("x-ms-error-code", error_code);
  return r;
}

// One window of traffic: `streams` requests at a time (as many as the limit allows), each
// moving `bytes`, `rounds` times, all within the window; then one more as it ends, whose exit
// closes the window.
void Window(ConcurrencyLimit& limit, FakeClock& clock, int streams, uint64_t bytes,
            const Result<Response>& outcome = Answer(201), int rounds = 4) {
  for (int round = 0; round < rounds; ++round) {
    int n = std::min(streams, limit.limit());
    for (int i = 0; i < n; ++i) limit.Enter();
    clock.Advance(900ms / rounds);
    for (int i = 0; i < n; ++i) limit.Exit(outcome, bytes);
  }
  clock.Advance(100ms);
  limit.Enter();
  limit.Exit(outcome, bytes);
}

TEST(ConcurrencyLimit, OverloadAnswersAreTheBusyOnes) {
  EXPECT_TRUE(IsOverload(Answer(503, "ServerBusy")));
  EXPECT_TRUE(IsOverload(Answer(429)));
  EXPECT_TRUE(IsOverload(Answer(500, "OperationTimedOut")));
  EXPECT_TRUE(IsOverload(Status(Code::kTransient, "Operation timed out")));
  EXPECT_FALSE(IsOverload(Answer(500, "InternalError")));
  EXPECT_FALSE(IsOverload(Answer(404, "BlobNotFound")));
  EXPECT_FALSE(IsOverload(Answer(201)));
}

TEST(ConcurrencyLimit, AFixedLimitNeverMoves) {
  auto clock = std::make_shared<FakeClock>();
  ConcurrencyLimit limit({.initial = 8}, clock);
  for (int w = 0; w < 5; ++w) Window(limit, *clock, 100, 1 << 20, Answer(503, "ServerBusy"));
  EXPECT_EQ(limit.limit(), 8);
  EXPECT_EQ(limit.stats().backoffs, 0);
}

TEST(ConcurrencyLimit, HalvesOnBusyAnswersAndHoldsBeforeClimbingAgain) {
  auto clock = std::make_shared<FakeClock>();
  ConcurrencyLimit limit({.initial = 16, .tuned = true, .min = 2, .max = 64}, clock);
  Window(limit, *clock, 100, 1 << 20, Answer(503, "ServerBusy"));
  EXPECT_EQ(limit.limit(), 8);
  Window(limit, *clock, 100, 1 << 20, Answer(429));
  EXPECT_EQ(limit.limit(), 4);
  for (int w = 0; w < 5; ++w) Window(limit, *clock, 100, 1 << 20, Answer(503, "ServerBusy"));
  EXPECT_EQ(limit.limit(), 2) << "never below the minimum";
  // Healthy again: it holds for three windows, then climbs while throughput follows.
  for (int w = 0; w < 3; ++w) Window(limit, *clock, 100, 1 << 20);
  EXPECT_EQ(limit.limit(), 2);
  Window(limit, *clock, 100, 1 << 20);
  EXPECT_EQ(limit.limit(), 3);
  ConcurrencyLimit::Stats stats = limit.stats();
  EXPECT_EQ(stats.initial, 16);
  EXPECT_EQ(stats.lowest, 2);
  EXPECT_EQ(stats.backoffs, 3) << "16->8->4->2; no halving below the minimum counts";
}

TEST(ConcurrencyLimit, ClimbsWhileThroughputGrowsAndStepsBackAtThePlateau) {
  auto clock = std::make_shared<FakeClock>();
  ConcurrencyLimit limit({.initial = 4, .tuned = true, .min = 2, .max = 64}, clock);
  // Throughput grows with the streams up to 10 of them, then stays flat (a saturated target:
  // the same bytes spread over more streams).
  auto window = [&] {
    int streams = limit.limit();
    uint64_t per_request = uint64_t(std::min(streams, 10)) * (1 << 20) / uint64_t(streams);
    Window(limit, *clock, streams, per_request);
  };
  for (int w = 0; w < 12; ++w) window();
  int plateau = limit.limit();
  EXPECT_GE(plateau, 10);
  EXPECT_LE(plateau, 13) << "does not keep adding streams that bring nothing";
  EXPECT_GT(limit.stats().highest, 4);
  EXPECT_EQ(limit.stats().backoffs, 0);
}

TEST(ConcurrencyLimit, DoesNotClimbWhenFewerStreamsAreWanted) {
  auto clock = std::make_shared<FakeClock>();
  ConcurrencyLimit limit({.initial = 8, .tuned = true, .min = 2, .max = 64}, clock);
  for (int w = 0; w < 10; ++w) Window(limit, *clock, 3, 1 << 20);  // only 3 files to send
  EXPECT_EQ(limit.limit(), 8);
}

}  // namespace
}  // namespace ferry::http
