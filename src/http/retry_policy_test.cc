#include "http/retry_policy.h"

#include <gtest/gtest.h>

#include <deque>

#include "http/pipeline.h"
#include "support/fake_clock.h"

namespace ferry::http {
namespace {

using testing::FakeClock;

Response WithStatus(int status, Headers headers = {}) {
  Response r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

TEST(RetryPolicy, RetriesTheDocumentedStatusesAndNetworkErrors) {
  for (int status : {408, 429, 500, 502, 503, 504}) {
    EXPECT_TRUE(IsRetriable(WithStatus(status))) << status;
  }
  for (int status : {200, 201, 304, 400, 401, 403, 404, 409, 412, 416, 501}) {
    EXPECT_FALSE(IsRetriable(WithStatus(status))) << status;
  }
  EXPECT_TRUE(IsRetriable(Status(Code::kTransient, "connection reset")));
  EXPECT_FALSE(IsRetriable(Status(Code::kInvalidInput, "malformed URL")));
}

TEST(RetryPolicy, BackoffGrowsExponentiallyWithJitterAndIsCapped) {
  auto clock = std::make_shared<FakeClock>();
  RetryOptions options{.max_attempts = 10,
                       .initial_delay = Duration(100),
                       .max_delay = Duration(1000),
                       .multiplier = 2.0};
  RetryPolicy policy(options, clock, /*seed=*/42);
  Result<Response> busy = WithStatus(500);
  for (int attempt = 1; attempt < 10; ++attempt) {
    auto delay = policy.NextDelay(attempt, busy);
    ASSERT_TRUE(delay.has_value());
    double base = std::min(100.0 * (1 << (attempt - 1)), 1000.0);
    EXPECT_GE(delay->count(), int64_t(base * 0.5)) << attempt;
    EXPECT_LE(delay->count(), int64_t(base)) << attempt;
  }
  EXPECT_FALSE(policy.NextDelay(10, busy).has_value()) << "attempts are capped";
  EXPECT_FALSE(policy.NextDelay(1, WithStatus(404)).has_value());
  EXPECT_FALSE(policy.NextDelay(1, WithStatus(200)).has_value());
}

TEST(RetryPolicy, HonoursServerHintsUpToTheCap) {
  auto clock = std::make_shared<FakeClock>();
  RetryPolicy policy(
      RetryOptions{
          .max_attempts = 5, .initial_delay = Duration(100), .max_delay = Duration(20'000)},
      clock, 1);
  Headers seconds;
  seconds.Set("Retry-After", "7");
  EXPECT_EQ(policy.NextDelay(1, WithStatus(503, seconds)), Duration(7000));

  Headers millis;
  millis.Set("x-ms-retry-after-ms", "1234");
  EXPECT_EQ(policy.NextDelay(1, WithStatus(429, millis)), Duration(1234));

  Headers date;  // 12 s after the fake clock's now (Fri, 15 Jan 2027 08:00:00 GMT)
  date.Set("Retry-After", "Fri, 15 Jan 2027 08:00:12 GMT");
  EXPECT_EQ(policy.NextDelay(1, WithStatus(503, date)), Duration(12'000));

  Headers far;
  far.Set("Retry-After", "Fri, 15 Jan 2475 08:00:12 GMT");
  EXPECT_EQ(policy.NextDelay(1, WithStatus(503, far)), Duration(20'000));

  Headers huge;
  huge.Set("Retry-After", "3600");
  EXPECT_EQ(policy.NextDelay(1, WithStatus(503, huge)), Duration(20'000));
}

// A transport that replays scripted outcomes and records what it was sent.
class ScriptedTransport : public Transport {
 public:
  std::deque<Result<Response>> script;
  std::vector<Request> sent;
  Result<Response> Send(const Request& request) override {
    sent.push_back(request);
    Result<Response> next = script.front();
    script.pop_front();
    return next;
  }
};

class CountingPolicy : public RequestPolicy {
 public:
  int calls = 0;
  Status Prepare(Request& request) override {
    request.headers.Set("x-attempt", std::to_string(++calls));
    return Status::Ok();
  }
};

TEST(Pipeline, RetriesUntilSuccessPreparingEachAttemptAfresh) {
  auto clock = std::make_shared<FakeClock>();
  auto transport = std::make_shared<ScriptedTransport>();
  Headers after;
  after.Set("Retry-After", "2");
  transport->script = {Status(Code::kTransient, "connection reset by peer"), WithStatus(503, after),
                       WithStatus(201)};
  auto counting = std::make_shared<CountingPolicy>();
  auto retry =
      std::make_shared<RetryPolicy>(RetryOptions{.initial_delay = Duration(100)}, clock, 3);
  Pipeline pipeline({retry, counting}, transport);
  int resets = 0;
  Sink sink{[](const char*, size_t) { return true; }, [&] { ++resets; }};
  Request request;
  request.url = "http://127.0.0.1:1/a?sig=secret";
  request.sink = &sink;
  Result<Response> response = pipeline.Send(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 201);
  ASSERT_EQ(transport->sent.size(), 3u);
  EXPECT_EQ(transport->sent[2].headers.Get("x-attempt"), "3");
  EXPECT_EQ(resets, 2);
  EXPECT_EQ(retry->retries(), 2u);
  EXPECT_EQ(
      retry->RetriesByCause(),
      (std::map<std::string, uint64_t>{{"network: connection reset by peer", 1}, {"HTTP 503", 1}}));
  ASSERT_EQ(clock->sleeps.size(), 2u);
  EXPECT_GE(clock->sleeps[0].count(), 50);
  EXPECT_LE(clock->sleeps[0].count(), 100);
  EXPECT_EQ(clock->sleeps[1], Duration(2000));
}

TEST(Pipeline, GivesUpAfterMaxAttemptsAndReturnsTheLastAnswer) {
  auto clock = std::make_shared<FakeClock>();
  auto transport = std::make_shared<ScriptedTransport>();
  for (int i = 0; i < 3; ++i) transport->script.push_back(WithStatus(500));
  Pipeline pipeline({std::make_shared<RetryPolicy>(RetryOptions{.max_attempts = 3}, clock, 3)},
                    transport);
  Result<Response> response = pipeline.Send(Request{});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(transport->sent.size(), 3u);
  EXPECT_EQ(clock->sleeps.size(), 2u);
}

TEST(Pipeline, DoesNotRetryAFinalError) {
  auto clock = std::make_shared<FakeClock>();
  auto transport = std::make_shared<ScriptedTransport>();
  transport->script = {WithStatus(412)};
  Pipeline pipeline({std::make_shared<RetryPolicy>(RetryOptions{}, clock, 3)}, transport);
  EXPECT_EQ(pipeline.Send(Request{})->status, 412);
  EXPECT_TRUE(clock->sleeps.empty());
}

TEST(RedactUrl, HidesTheSasSignatureOnly) {
  EXPECT_EQ(RedactUrl("https://a.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef&se=x"),
            "https://a.blob.core.windows.net/c?sv=2024&sig=REDACTED&se=x");
  EXPECT_EQ(RedactUrl("https://a/c?SIG=abc"), "https://a/c?SIG=REDACTED");
  EXPECT_EQ(RedactUrl("https://a/c"), "https://a/c");
}

}  // namespace
}  // namespace ferry::http
