// The cutover hooks' runner: exit codes, output, variables, the time limit over a whole process
// group, and secrets kept out of what the log keeps.
#include "migration/hooks.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "support/status_matchers.h"

namespace ferry::migration {
namespace {

using std::chrono::milliseconds;

TEST(RunHook, KeepsTheExitCodeTheOutputAndSeesTheFerryVariables) {
  ASSERT_OK_AND_ASSIGN(
      HookResult r,
      RunHook("pre-freeze", "echo \"$FERRY_HOOK $FERRY_TARGET\"; echo oops >&2; exit 7",
              {{"FERRY_TARGET", "https://a.blob.core.windows.net/c"}}, milliseconds(10'000)));
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.output, "pre-freeze https://a.blob.core.windows.net/c\noops\n");
  EXPECT_EQ(r.Outcome(), "exit 7");

  ASSERT_OK_AND_ASSIGN(HookResult fine, RunHook("on-abort", "true", {}, milliseconds(10'000)));
  EXPECT_TRUE(fine.ok());
  EXPECT_EQ(fine.Json()["hook"], "on-abort");
}

TEST(RunHook, PastItsTimeTheWholeGroupIsStopped) {
  const auto start = std::chrono::steady_clock::now();
  // The shell and a child of its own, both sleeping far past the limit.
  ASSERT_OK_AND_ASSIGN(HookResult r, RunHook("pre-freeze", "sleep 60 & sleep 60; echo never", {},
                                             milliseconds(300)));
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.output.find("never"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30))
      << "the children of the hook do not keep ferry waiting";
  EXPECT_NE(r.Outcome().find("timed out"), std::string::npos);
}

TEST(RunHook, ACommandThatLeavesSomethingRunningEndsWhenItsShellEnds) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(
      HookResult r, RunHook("post-cutover", "sleep 60 & echo started", {}, milliseconds(60'000)));
  EXPECT_TRUE(r.ok()) << r.Outcome();
  EXPECT_EQ(r.output, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(RunHook, ASecretInTheCommandOrItsOutputIsNotKept) {
  ASSERT_OK_AND_ASSIGN(
      HookResult r,
      RunHook("post-cutover", "echo 'AccountKey=Zm9vYmFy;' # ?sig=abc", {}, milliseconds(10'000)));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.output.find("Zm9vYmFy"), std::string::npos) << r.output;
  EXPECT_EQ(r.command.find("sig=abc"), std::string::npos) << r.command;
}

TEST(RunHook, TheOperatorsStopEndsAHookAtOnce) {
  std::atomic<bool> stop{true};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(HookResult r,
                       RunHook("pre-freeze", "sleep 60", {}, milliseconds(60'000), &stop));
  EXPECT_TRUE(r.stopped);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.Outcome(), "stopped");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(RunHook, TheValueOfACredentialVariableIsRedactedWhereverItAppears) {
  ::setenv("AZURE_CLIENT_SECRET", "s3cr3t-value-123", 1);
  ASSERT_OK_AND_ASSIGN(
      HookResult r,
      RunHook("post-cutover", "echo \"secret is $AZURE_CLIENT_SECRET\" # s3cr3t-value-123", {},
              milliseconds(10'000)));
  ::unsetenv("AZURE_CLIENT_SECRET");
  EXPECT_EQ(r.output, "secret is REDACTED\n");
  EXPECT_EQ(r.command.find("s3cr3t-value-123"), std::string::npos) << r.command;
}

}  // namespace
}  // namespace ferry::migration
