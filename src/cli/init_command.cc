// ferry init DIR --source URL --target URL [options]: set up a migration.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "base/encoding.h"
#include "catalog/postgres_catalog.h"
#include "cli/commands.h"
#include "migration/filter.h"
#include "migration/init.h"

namespace ferry::cli {

namespace {

struct InitOptions {
  std::string dir, source, target, tier, symlinks = "skip", mode = "additive";
  std::string content_type;
  bool no_guess_content_type = false, create_target = false;
  std::vector<std::string> include, exclude;
};

// The URL without its query (where a SAS would be), and whether it had one.
std::pair<std::string, bool> WithoutSas(const std::string& url) {
  size_t q = url.find('?');
  if (q == std::string::npos || url.find("://") == std::string::npos) return {url, false};
  return {url.substr(0, q), true};
}

int RunInit(const InitOptions& o) {
  if (catalog::IsPostgresLocation(o.dir)) {
    // A location that can never hold the catalog is refused before any endpoint is touched.
    Result<catalog::PostgresLocation> where = catalog::ParsePostgresLocation(o.dir);
    if (!where.ok()) Fail(where.status());
  }
  Result<migration::Filter> filter = migration::Filter::Parse(o.include, o.exclude);
  if (!filter.ok()) Fail(filter.status());

  Result<storage::EndpointSpec> source = storage::ParseEndpoint(o.source);
  if (!source.ok()) Fail(Status(Code::kInvalidInput, "--source: " + source.status().message()));
  Result<storage::EndpointSpec> target = storage::ParseEndpoint(o.target);
  if (!target.ok()) Fail(Status(Code::kInvalidInput, "--target: " + target.status().message()));
  if (target->type == storage::EndpointType::kS3) {
    throw ExitError(kExitUsage,
                    "--target: ferry only reads S3 buckets; migrate into an Azure Blob container "
                    "(https://ACCOUNT.blob.core.windows.net/CONTAINER) or a folder");
  }
  if (target->type == storage::EndpointType::kAzureBlob &&
      source->type == storage::EndpointType::kAzureBlob) {
    const storage::AzureEndpoint& from = source->azure;
    const storage::AzureEndpoint& to = target->azure;
    auto within = [](const std::string& inner, const std::string& outer) {
      return outer.empty() || inner == outer || inner.starts_with(outer + "/");
    };
    if (AsciiLower(from.account) == AsciiLower(to.account) && from.container == to.container &&
        (within(from.prefix, to.prefix) || within(to.prefix, from.prefix))) {
      throw ExitError(kExitUsage,
                      "--source and --target overlap in one container: the copy would write into "
                      "what it reads; give the target a prefix of its own or another container");
    }
  }
  if (target->type == storage::EndpointType::kLocal &&
      source->type == storage::EndpointType::kLocal &&
      (target->local_root == source->local_root ||
       target->local_root.starts_with(source->local_root + "/"))) {
    throw ExitError(kExitUsage, "--target is inside --source: the copy would copy itself");
  }
  if (target->type == storage::EndpointType::kLocal && !o.create_target) {
    // A folder target may be new, but not under a folder that is missing too: that is more
    // often a typo (/data/targt/share) than a plan.
    std::error_code error;
    const std::filesystem::path root(target->local_root);
    if (!std::filesystem::exists(root, error) &&
        !std::filesystem::is_directory(root.parent_path(), error)) {
      throw ExitError(kExitUsage,
                      fmt::format("--target {}: neither it nor its folder {} exists (a typo?); "
                                  "create that folder, or pass --create-target to make the "
                                  "whole path",
                                  target->local_root, root.parent_path().string()));
    }
  }

  catalog::Config config;
  auto [source_url, source_sas] = WithoutSas(o.source);
  auto [target_url, target_sas] = WithoutSas(o.target);
  config.source = source_url;
  config.target = target_url;
  config.target_sas = target_sas;
  config.include = o.include;
  config.exclude = o.exclude;
  config.tier = o.tier;
  config.content_type = o.content_type;
  config.guess_content_type = !o.no_guess_content_type;
  if (!config.tier.empty()) {
    config.tier[0] = char(std::toupper(config.tier[0]));
    for (size_t i = 1; i < config.tier.size(); ++i)
      config.tier[i] = char(std::tolower(config.tier[i]));
  }
  config.symlinks = *catalog::SymlinkPolicyNamed(o.symlinks);  // checked by the option
  config.mode = *catalog::DeleteModeNamed(o.mode);

  std::cout << "source: " << source->Redacted() << "\n";
  std::cout << "target: " << target->Redacted() << "\n";
  migration::InitOptions init{o.dir, config, {}};
  if (Network().insecure_tls) {
    init.run_annotations.emplace_back("tls-verification-off",
                                      JsonText(nlohmann::json{{"endpoint", target->Redacted()}}));
  }
  auto source_store = OpenSource(*source);
  auto target_store = OpenEndpoint(*target);
  // After the credentials (a missing one is said first), before the first request.
  CheckHostResolves("--source", *source);
  CheckHostResolves("--target", *target);
  for (const auto* store : {source_store.get(), target_store.get()}) {
    if (!store->Credential().empty()) {
      std::cout << fmt::format("credential for {}: {}\n", store->Describe(), store->Credential());
    }
  }
  Result<std::unique_ptr<catalog::Catalog>> catalog =
      migration::Init(init, *source_store, *target_store,
                      [](const std::string& step) { std::cout << step << "\n"; });
  if (!catalog.ok()) Fail(catalog.status());
  std::cout << fmt::format("\nmigration created in {}\n", o.dir);
  if (target_sas) {
    std::cout << "The target's SAS is not stored: export AZURE_STORAGE_SAS_TOKEN for later runs.\n";
  }
  if (source_sas) {
    std::cout << "The source's SAS is not stored: export FERRY_SOURCE_SAS_TOKEN for later runs.\n";
  }
  std::cout << fmt::format(
      "next: ferry scan {0}   (inventory)\n      ferry copy {0}   (bulk copy)\n", o.dir);
  return kExitDone;
}

}  // namespace

CommandRunner AddInitCommand(CLI::App& app) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand(
      "init", "Create a migration folder and its catalog, after checking both endpoints");
  cmd->add_option("DIR", o->dir,
                  "The new migration folder (holds the catalog; keep it safe), or a migration in "
                  "a PostgreSQL database: 'postgresql://USER@HOST:PORT/DB?migration=NAME' "
                  "(password from PGPASSWORD or ~/.pgpass, never the URL)")
      ->required();
  cmd->add_option(
         "--source", o->source,
         "What to migrate: a local or mounted folder; an S3 bucket (s3://BUCKET[/PREFIX]; "
         "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3); or another "
         "Azure Blob container (https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]; "
         "FERRY_SOURCE_CONNECTION_STRING, FERRY_SOURCE_SAS_TOKEN or --source-sas, else Entra ID)")
      ->required();
  cmd->add_option("--target", o->target,
                  "Where to: an Azure Blob container "
                  "(https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]; credentials: "
                  "README \"Signing in to Azure\"), or a folder (a mounted Azure Files share, "
                  "a BlobFuse or NFS mount; its parent must exist unless --create-target)")
      ->required();
  cmd->add_option("--include", o->include,
                  "Take only files matching this glob (repeatable); '*.csv' matches names at any "
                  "depth, 'data/**/*.csv' whole paths");
  cmd->add_option("--exclude", o->exclude,
                  "Leave out items matching this glob, and everything under a matching folder "
                  "(repeatable)");
  cmd->add_option("--tier", o->tier, "Access tier for new blobs")
      ->check(CLI::IsMember({"Hot", "Cool", "Cold", "Archive"}, CLI::ignore_case));
  cmd->add_option("--content-type", o->content_type,
                  "Give every blob this Content-Type (e.g. text/plain) instead of the one its "
                  "file's extension gives")
      ->check([](const std::string& type) -> std::string {
        bool printable = std::all_of(type.begin(), type.end(), [](char c) {
          return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
        });
        if (!printable || type.find('/') == std::string::npos || type.front() == '/' ||
            type.back() == '/' || type.size() > 255) {
          return "a media type, TYPE/SUBTYPE (e.g. text/plain), printable characters only";
        }
        return "";
      });
  cmd->add_flag("--create-target", o->create_target,
                "Make a folder target's whole path if its parent folder is missing too (without "
                "it, init refuses such a target, as it is more often a typo)");
  cmd->add_flag("--no-guess-mime-type", o->no_guess_content_type,
                "Do not set a Content-Type from each file's extension: blobs are served as "
                "application/octet-stream (by default, index.html is text/html, photo.jpg "
                "image/jpeg, ...)");
  cmd->add_option("--symlinks", o->symlinks,
                  "Symbolic links: skip them (recorded), follow links to files, or keep them as "
                  "link blobs (is_symlink=true)")
      ->check(CLI::IsMember({"skip", "follow", "keep"}))
      ->capture_default_str();
  cmd->add_option("--mode", o->mode,
                  "Deletions at the source: additive keeps the blobs, mirror deletes them (sync)")
      ->check(CLI::IsMember({"additive", "mirror"}))
      ->capture_default_str();
  cmd->footer(
      "Example:\n"
      "  export AZURE_STORAGE_CONNECTION_STRING='...'\n"
      "  ferry init /var/lib/ferry/share1 --source /mnt/share1 \\\n"
      "      --target https://myaccount.blob.core.windows.net/archive/share1 --exclude '*.tmp'\n");
  return [o] { return RunInit(*o); };
}

}  // namespace ferry::cli
