#include "cli/app.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "base/text.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"

namespace ferry::cli {

namespace {

constexpr const char* kDescription =
    "ferry moves file trees into Azure Blob Storage and carries the whole migration:\n"
    "inventory, trial, bulk copy, incremental syncs, cutover, validation and an audit log.\n"
    "\n"
    "Endpoints: a local folder (/data/share or file:///data/share), or an Azure Blob URL\n"
    "  https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]   (Azure)\n"
    "  http://127.0.0.1:10000/devstoreaccount1/CONTAINER[/PREFIX]  (Azurite, path-style)\n"
    "Credentials come from the environment at every run and are never stored:\n"
    "  AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY,\n"
    "  or a SAS query on the URL (shown as sig=REDACTED), or Microsoft Entra ID: a service\n"
    "  principal, workload identity, managed identity or 'az login' (see --auth).\n"
    "\n"
    "Exit codes: 0 done; 1 done but some items failed; 2 bad usage or configuration;\n"
    "3 a safety check refused.";

// How ferry reaches and signs in to Azure, and how a scan reads a share: into Network(), and
// the two texts Run parses after.
void AddNetworkOptions(CLI::App& app, std::string& stall_timeout, std::string& scan_concurrency,
                       std::string& split_listing) {
  app.add_option("--stall-timeout", stall_timeout,
                 "A request to Azure that moves less than 1 KiB/s for this long is abandoned and "
                 "retried (default 60s)")
      ->envname("FERRY_STALL_TIMEOUT");
  app.add_flag("--insecure-skip-tls-verify", Network().insecure_tls,
               "Do not verify the TLS certificate of https endpoints (self-signed test setups "
               "only); every run that uses it is recorded in the migration's log");
  app.add_option("--auth", Network().auth,
                 "How to sign in to Azure: auto (a SAS or account key if one is set, else Entra "
                 "ID: a service principal, workload identity, managed identity or the Azure CLI, "
                 "in that order), key, sas, env (service principal: AZURE_TENANT_ID, "
                 "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), "
                 "workload (AZURE_FEDERATED_TOKEN_FILE), managed-identity, azure-cli")
      ->check(
          CLI::IsMember({"auto", "key", "sas", "env", "workload", "managed-identity", "azure-cli"}))
      ->envname("FERRY_AUTH");
  app.add_option("--source-sas", Network().source_sas,
                 "A SAS for an Azure Blob source (read and list), when its connection string is "
                 "not in FERRY_SOURCE_CONNECTION_STRING; FERRY_SOURCE_SAS_TOKEN keeps it out of "
                 "the process list. Never stored");
  app.add_option("--ca-file", Network().ca_file,
                 "PEM file of the certificate authorities to trust for https (Azure and the "
                 "Entra ID endpoints) instead of the system's, e.g. a company's TLS-inspecting "
                 "proxy")
      ->check(CLI::ExistingFile)
      ->envname("SSL_CERT_FILE");
  app.add_option("--scan-concurrency", scan_concurrency,
                 "Metadata calls a listing keeps in flight, N (1 = one at a time) or auto: for a "
                 "folder source, folder reads and stats (auto: 32 on NFS, SMB and FUSE mounts, "
                 "where each call is a round trip, 1 on local disks); for an S3 or Blob source, "
                 "and for the target's listing in a sync, listing requests: above 1, a listing "
                 "of more than a page is split by folder (auto: 1, one page after another; a "
                 "Blob source's listing shared on a PostgreSQL catalog: 4 folders at once)")
      ->envname("FERRY_SCAN_CONCURRENCY");
  app.add_option("--split-listing", split_listing,
                 "On a PostgreSQL catalog, whether an object store's listing (a Blob source's in "
                 "a scan, the target's in a sync's drift check) is split by folder into parts "
                 "that the processes started with it help list: auto (where that pays off for a "
                 "process left alone too: parts of 20,000 blobs or more on average listed one at "
                 "a time, 5,000 listed several at once; on a first scan, wherever there are "
                 "folders to split), always (wherever there are two folders to make parts of: "
                 "when helpers run with it), never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->envname("FERRY_SPLIT_LISTING");
}

// "; did you mean 'X'?" for the name among `names` closest to `word`, if it looks like a typo.
std::string Suggestion(std::string_view word, const std::vector<std::string>& names) {
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const std::string& name : names) {
    size_t d = EditDistance(word, name);
    if (!best || d < best_distance) best = &name, best_distance = d;
  }
  if (!best || best_distance > std::max<size_t>(2, word.size() / 3)) return "";
  return fmt::format("; did you mean '{}'?", *best);
}

// The option of `app` (or, with fallthrough, of the main app) named `name`, if any.
CLI::Option* FindOption(CLI::App& app, CLI::App* command, const std::string& name) {
  for (CLI::App* scope : {command, &app}) {
    if (!scope) continue;
    for (CLI::Option* option : scope->get_options()) {
      if (option->check_name(name)) return option;
    }
  }
  return nullptr;
}

// After a failed parse: the first argument that names no command or option, said plainly, with
// the closest name; empty when every argument is known (the error is about something else).
std::string UnknownArgument(CLI::App& app, int argc, char** argv) {
  CLI::App* command = nullptr;
  std::vector<std::string> commands;
  for (CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string name = arg.substr(0, arg.find('='));
      if (CLI::Option* option = FindOption(app, command, name)) {
        if (option->get_type_size_max() > 0 && arg.find('=') == std::string::npos) ++i;
        continue;
      }
      std::vector<std::string> names;
      for (CLI::App* scope : {command, &app}) {
        if (!scope) continue;
        for (CLI::Option* option : scope->get_options()) {
          for (const std::string& l : option->get_lnames()) names.push_back("--" + l);
        }
      }
      std::string suggestion = Suggestion(name, names);
      return fmt::format("unknown option '{}'{}{}", name,
                         command ? fmt::format(" of 'ferry {}'", command->get_name()) : "",
                         suggestion.empty() ? fmt::format(" (see 'ferry {}--help')",
                                                          command ? command->get_name() + " " : "")
                                            : suggestion);
    }
    if (command) continue;  // one of the command's own arguments
    auto known = std::find(commands.begin(), commands.end(), arg);
    if (known != commands.end()) {
      command = app.get_subcommand(arg);
      continue;
    }
    std::string suggestion = Suggestion(arg, commands);
    std::string list;
    for (const std::string& c : commands) list += (list.empty() ? "" : ", ") + c;
    return fmt::format("unknown command '{}'{}", arg,
                       suggestion.empty() ? "; the commands are " + list : suggestion);
  }
  return "";
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app(kDescription, "ferry");
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "Diagnostics on stderr: error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->envname("FERRY_LOG_LEVEL");
  std::string stall_timeout = "60s", scan_concurrency = "auto", split_listing = "auto";
  AddNetworkOptions(app, stall_timeout, scan_concurrency, split_listing);
  app.fallthrough();  // global options may also follow the command

  std::map<CLI::App*, CommandRunner> runners;
  auto add = [&](CommandRunner runner) { runners[app.get_subcommands({}).back()] = runner; };
  add(AddInitCommand(app));
  add(AddScanCommand(app));
  add(AddTrialCommand(app));
  add(AddCopyCommand(app));
  add(AddSyncCommand(app));
  add(AddCutoverCommand(app));
  add(AddVerifyCommand(app));
  add(AddResolveCommand(app));
  add(AddStatusCommand(app));
  add(AddErrorsCommand(app));
  add(AddLogCommand(app));
  add(AddReportCommand(app));
  add(AddWatchSourceCommand(app));
  add(AddDecommissionCheckCommand(app));
  add(AddAuditTargetCommand(app));
  add(AddCheckCommand(app));
  // Set after the commands are added: they would inherit it, and it reads oddly in their help.
  app.footer("Run 'ferry COMMAND --help' for a command's options.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    if (std::string unknown = UnknownArgument(app, argc, argv); !unknown.empty()) {
      std::cerr << "ferry: " << RedactSecrets(unknown) << "\n";
    } else {
      std::cerr << "ferry: " << RedactSecrets(e.what()) << " (see 'ferry --help')\n";
    }
    return kExitUsage;
  }

  try {
    auto stall =
        std::chrono::ceil<std::chrono::seconds>(ParseDuration("--stall-timeout", stall_timeout));
    if (stall.count() < 1) throw ExitError(kExitUsage, "--stall-timeout: at least 1s");
    Network().stall_timeout = stall;
    Network().scan_concurrency = ParseScanConcurrency(scan_concurrency);
    Network().split_listing = split_listing == "always"  ? migration::Split::kAlways
                              : split_listing == "never" ? migration::Split::kNever
                                                         : migration::Split::kAuto;
  } catch (const ExitError& e) {
    std::cerr << "ferry: " << e.what() << "\n";
    return e.code();
  }

  auto logger = spdlog::stderr_color_mt("ferry");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("ferry: %l: %v");
  spdlog::set_level(spdlog::level::from_str(log_level));

  for (auto& [command, runner] : runners) {
    if (!command->parsed()) continue;
    try {
      return runner();
    } catch (const ExitError& e) {
      std::cerr << "ferry: " << RedactSecrets(e.what()) << "\n";
      return e.code();
    } catch (const std::exception& e) {
      std::cerr << "ferry: internal error: " << RedactSecrets(e.what()) << "\n";
      return kExitUsage;
    }
  }
  return kExitUsage;
}

}  // namespace ferry::cli
