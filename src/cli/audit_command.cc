// ferry audit-target DIR [--json] [--strict]: what the target's data plane shows, under the
// migration guide's recommendations (data protection, identity and access, networking,
// monitoring), each finding with a severity and a one-line fix.
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "storage/azure_blob_store.h"

namespace ferry::cli {

namespace {

struct AuditOptions {
  std::string dir;
  bool json = false, strict = false;
};

struct AuditFinding {
  std::string area;      // data protection, identity and access, networking, monitoring
  std::string severity;  // high, medium, low, info
  std::string what;
  std::string fix;
};

constexpr int kLongSasDays = 7;  // a SAS valid longer than this outlives a migration's window

std::vector<AuditFinding> Audit(storage::AzureBlobStore& store, int64_t now_s) {
  std::vector<AuditFinding> f;
  const std::string& container = store.endpoint().container;
  const std::string& account = store.endpoint().account;

  Result<storage::AzureBlobStore::ContainerAccess> access = store.GetContainerAccess();
  if (!access.ok()) {
    // Unknown is not safe: the container may be public.
    f.push_back({"identity and access", "high",
                 "the container's public access level could not be read (only the account key "
                 "may read it), so it may be public: " +
                     access.status().message(),
                 fmt::format("check it: az storage container show-permission --account-name {} "
                             "--name {} (or in the portal)",
                             account, container)});
  } else {
    if (access->public_access == "container" || access->public_access == "blob") {
      f.push_back(
          {"identity and access", "high",
           access->public_access == "container"
               ? "anyone can list and read the container (public access level: container)"
               : "anyone who knows a blob's name can read it (public access level: blob)",
           fmt::format("az storage container set-permission --account-name {} --name {} "
                       "--public-access off (and disallow blob public access on the account)",
                       account, container)});
    }
    for (const auto& policy : access->policies) {
      f.push_back({"identity and access", "medium",
                   fmt::format("stored access policy '{}' (permissions '{}', expiry {}): every "
                               "SAS tied to it works until it is changed",
                               policy.id, policy.permissions,
                               policy.expiry.empty() ? "none" : policy.expiry),
                   fmt::format("remove the policy if no SAS should use it: az storage container "
                               "policy delete --container-name {} --name {}",
                               container, policy.id)});
    }
  }

  Result<storage::ServiceProperties> props = store.GetServiceProperties();
  if (!props.ok()) {
    f.push_back({"data protection", "info",
                 "the Blob service properties could not be read (a container-scoped credential "
                 "cannot): " +
                     props.status().message(),
                 "check soft delete, logging and metrics in the portal"});
  } else {
    if (!props->delete_retention) {
      f.push_back({"data protection", "high",
                   "blob soft delete is off: a blob deleted or overwritten by mistake is gone",
                   fmt::format("az storage account blob-service-properties update --account-name "
                               "{} --enable-delete-retention true --delete-retention-days 14",
                               account)});
    } else if (props->delete_retention_days < 7) {
      f.push_back({"data protection", "low",
                   fmt::format("blob soft delete keeps deleted blobs {} days only",
                               props->delete_retention_days),
                   "keep them at least 7 days (--delete-retention-days 14)"});
    }
    if (!(props->logging_read || props->logging_write || props->logging_delete)) {
      f.push_back({"monitoring", "low",
                   "classic storage logging is off for reads, writes and deletes",
                   "send the account's blob logs to Log Analytics (Azure Monitor diagnostic "
                   "settings: StorageRead, StorageWrite, StorageDelete)"});
    }
    if (!props->hour_metrics && !props->minute_metrics) {
      f.push_back({"monitoring", "low", "classic hour and minute metrics are off",
                   "use Azure Monitor metrics and alerts on availability, latency and "
                   "transactions"});
    }
  }
  f.push_back({"data protection", "info",
               "container soft delete and versioning are not visible on the data plane",
               fmt::format("check: az storage account blob-service-properties show --account-name "
                           "{} --query '{{containers: containerDeleteRetentionPolicy, versioning: "
                           "isVersioningEnabled}}'",
                           account)});

  if (store.endpoint().scheme != "https") {
    f.push_back({"networking", "high",
                 "the target is reached over plain http: data and signatures travel unencrypted",
                 "use the https endpoint, and require secure transfer on the account"});
  }

  std::string_view kind = store.CredentialKind();
  if (kind == "key") {
    f.push_back({"identity and access", "medium",
                 "the migration signs in with the account key, which can do anything in the "
                 "account",
                 "use Entra ID with the role Storage Blob Data Contributor on the container, "
                 "and rotate the key after the migration"});
  } else if (kind == "sas") {
    f.push_back({"identity and access", "medium",
                 "the migration signs in with a SAS, which anyone holding it can use",
                 "use Entra ID with the role Storage Blob Data Contributor on the container"});
    if (std::optional<int64_t> expiry = store.SasExpirySeconds();
        !expiry || *expiry - now_s > int64_t(kLongSasDays) * 86'400) {
      f.push_back({"identity and access", "medium",
                   expiry ? fmt::format("the SAS is valid until {}, long after the migration",
                                        HumanTime(*expiry * 1'000'000'000))
                          : "the SAS names no expiry of its own",
                   fmt::format("issue SAS tokens for the migration's days only (at most {} "
                               "days), and revoke this one when done",
                               kLongSasDays)});
    }
  }
  return f;
}

int RunAudit(const AuditOptions& o) {
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  auto* store = dynamic_cast<storage::AzureBlobStore*>(endpoints.target.get());
  if (store == nullptr) {
    throw ExitError(kExitUsage,
                    fmt::format("audit-target audits an Azure Blob target; {} is not one",
                                catalog->config().target));
  }
  const int64_t now = NowUnixNs() / 1'000'000'000;
  Result<int64_t> run = catalog->BeginRun(catalog::Stage::kAuditTarget);
  if (!run.ok()) Fail(run.status());
  std::vector<AuditFinding> findings = Audit(*store, now);
  int high = 0;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    high += f.severity == "high";
    list.push_back(
        {{"area", f.area}, {"severity", f.severity}, {"finding", f.what}, {"fix", f.fix}});
  }
  const nlohmann::json doc{
      {"target", catalog->config().target}, {"high", high}, {"findings", list}};
  // The findings are kept with the migration: the report shows the last audit.
  catalog::Run record;
  record.id = *run;
  record.outcome = high > 0 ? "high findings" : "done";
  record.summary_json = JsonText(doc);
  if (Status ended = catalog->EndRun(record); !ended.ok()) Fail(ended);
  if (o.json) {
    std::cout << JsonText(doc, 2) << "\n";
  } else {
    std::cout << fmt::format("audit of {} (what the data plane shows)\n", catalog->config().target);
    for (const char* area :
         {"data protection", "identity and access", "networking", "monitoring"}) {
      bool header = false;
      for (const auto& f : findings) {
        if (f.area != area) continue;
        if (!header) std::cout << "\n" << area << ":\n";
        header = true;
        std::cout << fmt::format("  [{}] {}\n         fix: {}\n", f.severity, f.what, f.fix);
      }
    }
    std::cout << fmt::format("\n{}, {} of them high\n", Count(int64_t(findings.size()), "finding"),
                             high);
  }
  return o.strict && high > 0 ? kExitRefused : kExitDone;
}

}  // namespace

CommandRunner AddAuditTargetCommand(CLI::App& app) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* cmd = app.add_subcommand(
      "audit-target",
      "What the target's data plane shows, under data protection, identity and access, "
      "networking and monitoring: each finding with a severity and a one-line fix");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_flag("--json", o->json, "Print the findings as JSON");
  cmd->add_flag("--strict", o->strict, "Exit 3 when any finding is high");
  cmd->footer(
      "Reads only: the container's public access level and stored access policies, the Blob\n"
      "service's soft delete, logging and metrics settings, the scheme, and the credential the\n"
      "migration uses (and a SAS's expiry). What only the management plane shows (container\n"
      "soft delete, versioning, firewalls, private endpoints) is named for you to check.\n"
      "Exit codes: 0 audited; 3 with --strict, a high finding; 2 bad usage.\n");
  return [o] { return RunAudit(*o); };
}

}  // namespace ferry::cli
