// Each subcommand registers its options on the CLI11 app and returns the function that runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ferry::cli {

using CommandRunner = std::function<int()>;

CommandRunner AddCheckCommand(CLI::App& app);

}  // namespace ferry::cli
