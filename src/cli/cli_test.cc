// The ferry binary end to end: help, version, bad input, and `check` against a real Azurite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "storage/azure_endpoint.h"
#include "support/azurite.h"
#include "support/checker.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace ferry::testing {
namespace {

TEST(Cli, VersionAndHelp) {
  auto version = RunFerry({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(version.out.starts_with("ferry 0.")) << version.out;

  auto help = RunFerry({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word : {"check", "AZURE_STORAGE_CONNECTION_STRING", "Exit codes"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  }
  auto check_help = RunFerry({"check", "--help"});
  EXPECT_EQ(check_help.exit_code, 0);
  EXPECT_NE(check_help.out.find("--write"), std::string::npos);
  EXPECT_NE(check_help.out.find("Examples"), std::string::npos);
  EXPECT_EQ(check_help.out.find("Run 'ferry COMMAND --help'"), std::string::npos)
      << "a command's own help does not send the reader to a command's help";
  EXPECT_NE(help.out.find("Run 'ferry COMMAND --help'"), std::string::npos);
  auto init_help = RunFerry({"init", "--help"});
  std::smatch target;
  ASSERT_TRUE(std::regex_search(init_help.out, target, std::regex("--target[^\n]*\n(.*\n){0,6}")))
      << init_help.out;
  EXPECT_NE(target.str().find("folder"), std::string::npos) << "folders work as targets too";
}

// A typo in the host name is said at once (no retries), with the host it probably meant. The
// lookup runs in a network namespace of its own, so that it never leaves the machine.
TEST(Cli, AHostThatDoesNotResolveIsNamedWithTheAzureHostItProbablyMeant) {
  ASSERT_EQ(::geteuid(), 0) << "unshare -n needs root, as the suite has";
  TempDir dir;
  std::string source = dir.Sub("src");
  WriteFile(source + "/a.txt", "a");
  const ProcessOptions env =
      FerryOptions({{"AZURE_STORAGE_ACCOUNT", "x"}, {"AZURE_STORAGE_KEY", "Zm9vYmFy"}});
  auto unshared = [](std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"unshare", "-n"});
    return argv;
  };
  auto init = RunProcess(unshared(FerryArgv({"init", dir.Sub("m"), "--source", source, "--target",
                                             "https://x.blob.core.windwos.net/data/share"})),
                         env);
  EXPECT_EQ(init.exit_code, 2) << init.err;
  EXPECT_EQ(Lines(init.err), 1) << init.err;
  for (const char* part : {"--target: the host 'x.blob.core.windwos.net' does not resolve",
                           "did you mean 'x.blob.core.windows.net'?",
                           "https://ACCOUNT.blob.core.windows.net/CONTAINER"}) {
    EXPECT_NE(init.err.find(part), std::string::npos) << init.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("m"))) << "no migration is made";

  auto check =
      RunProcess(unshared(FerryArgv({"check", "https://x.blob.core.windows.net/data"})), env);
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_NE(check.err.find("does not resolve"), std::string::npos) << check.err;
  EXPECT_EQ(check.err.find("did you mean"), std::string::npos) << "the host has no typo";
}

TEST(Cli, UsageErrorsExitWithTwoAndOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                       // no command
      {"frobnicate"},                           // unknown command
      {"check"},                                // missing URL
      {"check", "/tmp", "--no-such-flag"},      // unknown option
      {"--log-level", "loud", "check", "/tmp"}  // bad value
  };
  for (const auto& args : cases) {
    auto result = RunFerry(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args) << result.err;
    EXPECT_EQ(Lines(result.err), 1) << result.err;
    EXPECT_TRUE(result.err.starts_with("ferry: ")) << result.err;
  }
}

// Issue 20: a typo is named, with the command or option it was probably meant to be.
TEST(Cli, AnUnknownCommandOrOptionIsNamedWithTheClosestOne) {
  struct Case {
    std::vector<std::string> args;
    std::string names, suggests;
  };
  for (const Case& c : std::vector<Case>{
           {{"frobnicate", "M"}, "unknown command 'frobnicate'", "the commands are init, scan"},
           {{"stauts", "M"}, "unknown command 'stauts'", "did you mean 'status'?"},
           {{"--bogus"}, "unknown option '--bogus'", "see 'ferry --help'"},
           {{"--log-levl", "info", "status", "M"},
            "unknown option '--log-levl'",
            "did you mean '--log-level'?"},
           {{"copy", "M", "--overwirte"},
            "unknown option '--overwirte' of 'ferry copy'",
            "did you mean '--overwrite'?"},
           {{"copy", "M", "--lease=5m", "--dryrun"},
            "unknown option '--dryrun' of 'ferry copy'",
            "did you mean '--dry-run'?"}}) {
    auto r = RunFerry(c.args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args);
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.suggests), std::string::npos) << r.err;
  }
}

// Issue 20: a folder target under a folder that does not exist is more often a typo.
TEST(Cli, InitRefusesAFolderTargetWhoseParentIsMissingUnlessAskedToMakeIt) {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("src"));
  std::ofstream(dir.Sub("src/a.txt")) << "a";
  auto typo = RunFerry(
      {"init", dir.Sub("m1"), "--source", dir.Sub("src"), "--target", dir.Sub("targt/share")});
  EXPECT_EQ(typo.exit_code, 2) << typo.out << typo.err;
  EXPECT_EQ(Lines(typo.err), 1) << typo.err;
  EXPECT_NE(typo.err.find("--create-target"), std::string::npos) << typo.err;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("m1"))) << "nothing is made";
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("targt")));

  auto leaf =
      RunFerry({"init", dir.Sub("m2"), "--source", dir.Sub("src"), "--target", dir.Sub("target")});
  EXPECT_EQ(leaf.exit_code, 0) << "a new folder in one that exists: " << leaf.err;
  auto whole = RunFerry({"init", dir.Sub("m3"), "--source", dir.Sub("src"), "--target",
                         dir.Sub("new/deep/target"), "--create-target"});
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  auto copied = RunFerry({"copy", dir.Sub("m3")});
  EXPECT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("new/deep/target/a.txt")));
}

// Issue 20: the commands that only read work on a migration folder nobody may write to (an
// auditor's copy, a snapshot). Run as an unprivileged user: root writes anywhere.
TEST(Cli, CommandsThatOnlyReadWorkOnAFolderNobodyMayWriteTo) {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  std::filesystem::create_directories(dir.Sub("src/sub"));
  std::ofstream(dir.Sub("src/sub/a.txt")) << "a";
  const std::string mig = dir.Sub("m");
  ASSERT_EQ(RunFerry({"init", mig, "--source", dir.Sub("src"), "--target", dir.Sub("t")}).exit_code,
            0);
  ASSERT_EQ(RunFerry({"copy", mig}).exit_code, 0);
  for (const auto& entry : std::filesystem::directory_iterator(mig)) {
    std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_read |
                                                   std::filesystem::perms::group_read |
                                                   std::filesystem::perms::others_read);
  }
  std::filesystem::permissions(
      mig, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
               std::filesystem::perms::group_read | std::filesystem::perms::group_exec |
               std::filesystem::perms::others_read | std::filesystem::perms::others_exec);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status", mig, "--json"},
                                             {"errors", mig},
                                             {"log", mig},
                                             {"log", mig, "--check"},
                                             {"report", mig, "--json"}}) {
    std::vector<std::string> argv = FerryArgv(args);
    if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "nobody", "--"});
    ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(args) << r.err;
    if (args[0] == "status" && r.exit_code == 0) {
      EXPECT_EQ(nlohmann::json::parse(r.out)["states"]["copied"]["items"], 2) << "file, folder";
    }
  }
}

TEST(Cli, MalformedAndContradictoryArgumentsOfEveryCommandExitTwoAndChangeNothing) {
  TempDir dir;
  WriteFile(dir.Sub("src/a"), "a");
  const std::string mig = dir.Sub("migration");
  ASSERT_EQ(
      RunFerry({"init", mig, "--source", dir.Sub("src"), "--target", dir.Sub("dst")}).exit_code, 0);
  const std::vector<std::vector<std::string>> cases = {
      {"init", mig + "2", "--source", dir.Sub("src")},  // no target
      {"init", mig + "2", "--source", dir.Sub("src"), "--target", dir.Sub("d"), "--mode", "x"},
      {"init", mig + "2", "--source", dir.Sub("src"), "--target", dir.Sub("d"), "--symlinks", "x"},
      {"scan", mig, "extra"},
      {"copy", mig, "--concurrency", "0"},
      {"copy", mig, "--concurrency", "lots"},
      {"copy", mig, "--concurrency", "16x"},
      {"copy", mig, "--max-memory", "1KiB"},
      {"copy", mig, "--max-memory", "plenty"},
      {"copy", mig, "--max-bandwidth", "fast"},
      {"copy", mig, "--max-bandwidth", "0"},
      {"copy", mig, "--max-ops", "many"},
      {"copy", mig, "--block-above", "big"},
      {"copy", mig, "--block-above", "6GiB"},  // over one Put Blob's 5,000 MiB
      {"sync", mig, "--block-above", "64"},    // a size needs its unit
      {"sync", mig, "--schedule", "Mon-Fri 25:00-18:00 1MiB/s"},
      {"sync", mig, "--schedule", "Someday 1MiB/s"},
      {"trial", mig, "--sample", "1", "--max-bandwidth", "1MiB"},
      {"cutover", mig, "--concurrency", "-3", "--yes"},
      {"sync", mig, "--mode", "sideways"},
      {"verify", mig, "--sample", "10"},  // --sample without --deep
      {"verify", mig, "--deep", "--sample", "150%"},
      {"cutover", mig, "--max-changes", "-1", "--yes"},
      {"cutover", mig, "--quiet-window", "-5s", "--yes"},
      {"cutover", mig, "--quiet-window", "inf", "--yes"},
      {"trial", mig},  // neither --sample nor --cleanup
      {"trial", mig, "--sample", "0"},
      {"log", mig, "--json", "--csv"},
      {"log", mig, "--since", "yesterday"},
      {"log", mig, "--run", "-5"},
      {"report", mig},  // nothing to produce
      {"status", mig, "--json", "--nope"},
      {"--stall-timeout", "0s", "status", mig},
      {"--stall-timeout", "soon", "status", mig},
  };
  for (const auto& args : cases) {
    auto result = RunFerry(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args) << result.err;
    EXPECT_EQ(Lines(result.err), 1) << ::testing::PrintToString(args) << result.err;
    EXPECT_LT(result.err.size(), 300u) << result.err;
  }
  auto status = RunFerry({"status", mig, "--json"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(status.out)["runs"].size(), 1u) << "only init's run";
}

TEST(Cli, BadEndpointsAndMissingCredentialsSayWhatToFix) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"check", "s3://bucket/data"}, "AWS_ACCESS_KEY_ID"},
      {{"check", "gs://bucket/data"}, "unsupported scheme 'gs://'"},
      {{"check", "http://"}, "no host"},
      {{"check", "https://acct.blob.core.windows.net"}, "no container"},
      {{"check", "https://acct.blob.core.windows.net/Not_Valid"}, "not a valid container name"},
      {{"check", "https://acct.blob.core.windows.net/data"}, "AZURE_STORAGE_CONNECTION_STRING"},
      {{"check", "/definitely/not/here"}, "/definitely/not/here"},
  };
  for (const auto& [args, message] : cases) {
    auto result = RunFerry(args);
    EXPECT_EQ(result.exit_code, 2) << args[1] << ": " << result.err;
    EXPECT_EQ(Lines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
}

TEST(Cli, CheckWritesReadsAndDeletesAProbeOnAzurite) {
  Azurite& azurite = Azurite::Global();
  std::string container = UniqueContainer("cli-check");
  auto result = RunFerry({"check", "--write", azurite.ContainerUrl(container, "share one")},
                         {{"AZURE_STORAGE_CONNECTION_STRING", azurite.ConnectionString()}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* step : {"list:   ok", "write:  ok", "read:   ok", "delete: ok"}) {
    EXPECT_NE(result.out.find(step), std::string::npos) << result.out;
  }
  // The container now exists, and the probe is gone.
  auto listing = RunChecker(azurite, {"list", container});
  EXPECT_TRUE(listing.is_array());
  EXPECT_TRUE(listing.empty()) << listing.dump();
}

TEST(Cli, CheckWithAccountAndKeyVariables) {
  Azurite& azurite = Azurite::Global();
  auto result = RunFerry({"check", "--write", azurite.ContainerUrl(UniqueContainer("cli-key"))},
                         {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"},
                          {"AZURE_STORAGE_KEY", std::string(storage::kDevStoreKey)}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(Cli, CheckWithAWrongKeyIsAConfigurationError) {
  Azurite& azurite = Azurite::Global();
  auto result = RunFerry(
      {"check", azurite.ContainerUrl("whatever")},
      {{"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"}, {"AZURE_STORAGE_KEY", "d3Jvbmcga2V5"}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("refused the credentials"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("d3Jvbmcga2V5"), std::string::npos) << "the key must never be printed";
}

TEST(Cli, CheckOfAnUnreachableEndpointIsAConfigurationError) {
  auto result = RunFerry({"check", "http://127.0.0.1:9/devstoreaccount1/data"},
                         {{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(Lines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("is the endpoint up"), std::string::npos) << result.err;
}

TEST(Cli, CheckOfALocalFolder) {
  TempDir dir;
  WriteFile(dir.Sub("a.txt"), "a");
  auto read_only = RunFerry({"check", dir.path()});
  EXPECT_EQ(read_only.exit_code, 0) << read_only.err;
  EXPECT_NE(read_only.out.find("not empty"), std::string::npos);
  auto write = RunFerry({"check", "--write", "file://" + dir.Sub("new/target")});
  EXPECT_EQ(write.exit_code, 0) << write.err;
  EXPECT_EQ(ReadFile(dir.Sub("a.txt")), "a");
}

}  // namespace
}  // namespace ferry::testing
