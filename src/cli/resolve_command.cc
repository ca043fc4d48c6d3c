// ferry resolve DIR PATH... --keep-target: the operator's decision on conflicts.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "migration/resolve.h"

namespace ferry::cli {

namespace {

struct ResolveOptions {
  std::string dir;
  std::vector<std::string> paths;
  bool keep_target = false;
};

int RunResolve(const ResolveOptions& o) {
  if (!o.keep_target) {
    throw ExitError(kExitUsage,
                    "say how to resolve: --keep-target keeps the blob in the target (to let "
                    "ferry's copy win instead, run 'ferry sync DIR --overwrite')");
  }
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  Result<std::vector<std::string>> resolved =
      migration::KeepTarget(*catalog, *endpoints.target, o.paths);
  if (!resolved.ok()) Fail(resolved.status());
  for (const auto& path : *resolved) std::cout << "kept the target's version: " << path << "\n";
  std::cout << fmt::format("{} conflicts resolved; the decisions are in 'ferry log {}'\n",
                           resolved->size(), o.dir);
  return kExitDone;
}

}  // namespace

CommandRunner AddResolveCommand(CLI::App& app) {
  auto o = std::make_shared<ResolveOptions>();
  CLI::App* cmd = app.add_subcommand(
      "resolve", "Settle conflicts by an explicit decision, recorded in the log with who made it");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_option("PATH", o->paths,
                  "Conflicting items: paths as 'ferry errors' lists them, or globs ('*.csv', "
                  "'reports/**')")
      ->required();
  cmd->add_flag("--keep-target", o->keep_target,
                "Accept what the target holds now (the other party's blob, or its absence); "
                "ferry leaves it alone until it or the source file changes again");
  cmd->footer(
      "A conflict stays open in every sync, verify, status and cutover until it is resolved:\n"
      "here in favour of the target, or with 'ferry sync DIR --overwrite' in favour of the\n"
      "source.\n");
  return [o] { return RunResolve(*o); };
}

}  // namespace ferry::cli
