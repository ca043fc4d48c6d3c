// The ferry command line: global options, one subcommand per stage, exit codes.
#pragma once

namespace ferry::cli {

// Runs ferry with the given arguments and returns the process exit code. Never throws.
int Run(int argc, char** argv);

}  // namespace ferry::cli
