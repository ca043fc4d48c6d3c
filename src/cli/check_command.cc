// ferry check URL [--write]: is an endpoint reachable, readable and (optionally) writable?
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "storage/endpoint.h"

namespace ferry::cli {

namespace {

struct CheckOptions {
  std::string url;
  bool write = false;
  bool source = false;
};

double Millis(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

int RunCheck(const CheckOptions& options) {
  Result<storage::EndpointSpec> spec = storage::ParseEndpoint(options.url);
  if (!spec.ok()) Fail(spec.status());
  if (options.source && options.write) {
    throw ExitError(kExitUsage, "--source and --write: ferry never writes to a source");
  }
  storage::AzureBlobOptions azure = options.source ? SourceOptions() : AzureOptions();
  azure.retry.max_attempts = 3;  // a check should answer quickly
  Result<std::unique_ptr<storage::Store>> opened = storage::OpenStore(
      *spec, options.source ? SourceEnvironment() : storage::ProcessEnvironment(), azure);
  if (!opened.ok()) Fail(opened.status());
  CheckHostResolves(spec->Redacted(), *spec);  // after the credentials, before any request
  storage::Store& store = **opened;
  std::cout << "endpoint: " << store.Describe() << "\n";
  if (!store.Credential().empty()) std::cout << "credential: " << store.Credential() << "\n";

  auto start = std::chrono::steady_clock::now();
  if (options.write) {
    if (Status st = store.CreateRoot(); !st.ok()) Fail(st);
  }
  Result<std::unique_ptr<storage::Lister>> lister = store.List("", {.concurrency = 1});
  if (!lister.ok()) Fail(lister.status());
  storage::Entry first;
  Result<bool> any = (*lister)->Next(first);
  if (!any.ok()) {
    if (any.status().code() == Code::kNotFound && spec->type != storage::EndpointType::kS3) {
      Fail(Status(Code::kNotFound, "the container does not exist (run with --write to create it)"));
    }
    Fail(any.status());
  }
  std::cout << fmt::format("list:   ok ({:.0f} ms, {})\n", Millis(start),
                           *any ? "not empty" : "empty");
  if (!options.write) return kExitDone;

  // Write a probe, read it back, delete it.
  Result<storage::ProbeReport> probe = storage::ProbeWritable(store, 64 * 1024);
  if (!probe.ok()) {
    if (probe.status().code() == Code::kInternal) {
      throw ExitError(kExitRefused, probe.status().message());
    }
    Fail(probe.status());
  }
  std::cout << fmt::format("write:  ok ({:.0f} ms, 65536 bytes)\n", probe->write_ms);
  std::cout << fmt::format("read:   ok ({:.0f} ms, the same bytes back)\n", probe->read_ms);
  std::cout << "delete: ok\n";
  return kExitDone;
}

}  // namespace

CommandRunner AddCheckCommand(CLI::App& app) {
  auto options = std::make_shared<CheckOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Check that an endpoint is reachable and readable, and with --write writable");
  cmd->add_option("URL", options->url,
                  "A local folder, an Azure Blob container URL, or an S3 bucket (s3://BUCKET)")
      ->required();
  cmd->add_flag("--source", options->source,
                "Sign in as a migration's source does (an Azure Blob source: "
                "FERRY_SOURCE_CONNECTION_STRING, FERRY_SOURCE_SAS_TOKEN or --source-sas, else "
                "Entra ID)");
  cmd->add_flag("--write", options->write,
                "Also create the container (or folder) if missing, write a 64 KiB probe, read it "
                "back, compare its MD5 and delete it");
  cmd->footer(
      "Examples:\n"
      "  ferry check /data/share\n"
      "  AZURE_STORAGE_CONNECTION_STRING=... ferry check --write \\\n"
      "      https://myaccount.blob.core.windows.net/archive/share1\n");
  return [options] { return RunCheck(*options); };
}

}  // namespace ferry::cli
