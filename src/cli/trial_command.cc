// ferry trial DIR --sample P%|N: copy a representative sample to a trial prefix and project.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/transfer_flags.h"
#include "migration/trial.h"

namespace ferry::cli {

namespace {

struct TrialCommandOptions {
  std::string dir, sample, prefix = "ferry-trial";
  uint64_t seed = 0;
  bool cleanup = false, json = false;
  transfer::EngineFlags transfer;
};

// The store at the trial prefix, beside the migration's own items in the target.
std::unique_ptr<storage::Store> OpenTrialStore(const catalog::Config& config,
                                               const std::string& prefix,
                                               const transfer::Engine& engine) {
  Result<storage::EndpointSpec> spec = storage::ParseEndpoint(config.target);
  if (!spec.ok()) Fail(spec.status());
  if (spec->type == storage::EndpointType::kLocal) {
    spec->local_root = storage::JoinPath(spec->local_root, prefix);
  } else {
    spec->azure.prefix = storage::JoinPath(spec->azure.prefix, prefix);
  }
  return OpenEndpoint(*spec, &engine);
}

// What the trial found and projects, for people.
void PrintTrial(const migration::TrialReport& r, const std::string& where, std::ostream& out) {
  out << fmt::format(
      "trial of {} files ({}) into {} (seed {}):\n"
      "  strata: {} of {} (size buckets {} of {}, top-level folders {} of {})\n"
      "  copied {}, failed {}; verified {}, mismatches {}\n"
      "  {:.0f} files/s, {}/s over {}\n"
      "  names the target cannot store: {}\n",
      r.files, HumanBytes(r.bytes), where, r.seed, r.strata_sampled, r.strata, r.buckets_sampled,
      r.buckets_present, r.folders_sampled, r.folders_present, r.copied, r.failed, r.verified,
      r.mismatches, r.files_per_second, HumanBytes(int64_t(r.bytes_per_second)),
      HumanDuration(r.seconds), r.unstorable);
  for (const auto& [cause, n] : r.errors_by_cause)
    out << fmt::format("  {} failed: {}\n", n, cause);
  out << fmt::format("projected full copy of {} files ({}): about {}\n", r.total_files,
                     HumanBytes(r.total_bytes), HumanDuration(r.projected_seconds));
}

// The same, for scripts.
nlohmann::json TrialJson(const migration::TrialReport& r) {
  return {{"run", r.run},
          {"seed", r.seed},
          {"files", r.files},
          {"bytes", r.bytes},
          {"strata", r.strata},
          {"strata_sampled", r.strata_sampled},
          {"size_buckets", r.buckets_present},
          {"size_buckets_sampled", r.buckets_sampled},
          {"top_folders", r.folders_present},
          {"top_folders_sampled", r.folders_sampled},
          {"copied", r.copied},
          {"failed", r.failed},
          {"verified", r.verified},
          {"mismatches", r.mismatches},
          {"errors_by_cause", r.errors_by_cause},
          {"unstorable_names", r.unstorable},
          {"seconds", r.seconds},
          {"files_per_second", r.files_per_second},
          {"bytes_per_second", r.bytes_per_second},
          {"total_files", r.total_files},
          {"total_bytes", r.total_bytes},
          {"projected_seconds", r.projected_seconds}};
}

int RunTrial(const TrialCommandOptions& o) {
  if (o.sample.empty() && !o.cleanup) {
    throw ExitError(kExitUsage, "give --sample P% or N (and/or --cleanup)");
  }
  migration::TrialOptions options;
  if (!o.sample.empty()) {
    Sample sample = ParseSample(o.sample);
    options.count = sample.count;
    options.percent = sample.percent;
  }
  std::unique_ptr<transfer::Engine> engine = MakeEngine(o.transfer);
  auto catalog = OpenMigration(o.dir);
  Endpoints endpoints = OpenEndpoints(*catalog);
  if (Status st = migration::CheckTrialPrefix(*catalog, *endpoints.target, o.prefix,
                                              /*cleanup_only=*/o.sample.empty());
      !st.ok()) {
    Fail(st);
  }
  auto trial = OpenTrialStore(catalog->config(), o.prefix, *engine);
  std::ostream& out = o.json ? std::cerr : std::cout;
  nlohmann::json doc;

  if (!o.sample.empty()) {
    if (!migration::HasBeenScanned(*catalog)) {
      out << "the source has not been scanned yet: scanning first\n";
      RunScan(*catalog, endpoints);
    }
    options.seed = o.seed ? o.seed : uint64_t(::time(nullptr));
    options.engine = engine->options();
    options.upload = MigrationUploads(catalog->config());
    Result<migration::TrialReport> report =
        migration::Trial(*catalog, *endpoints.source, *trial, o.prefix, options);
    if (!report.ok()) Fail(report.status());
    PrintTrial(*report, trial->Describe(), out);
    doc = TrialJson(*report);
  }
  if (o.cleanup) {
    Result<migration::CleanupReport> cleaned = migration::CleanupTrial(*catalog, *trial, o.prefix);
    if (!cleaned.ok()) Fail(cleaned.status());
    out << fmt::format("deleted {} trial blobs under {}\n", cleaned->deleted, trial->Describe());
    for (const auto& path : cleaned->changed) {
      out << fmt::format("  left alone: {} (changed since the trial wrote it)\n", path);
    }
    doc["cleaned_up"] = cleaned->deleted;
    doc["left_alone"] = cleaned->changed;
  }
  if (o.json) std::cout << JsonText(doc, 2) << "\n";
  return doc.value("failed", int64_t(0)) + doc.value("mismatches", int64_t(0)) > 0
             ? kExitItemsFailed
             : kExitDone;
}

}  // namespace

CommandRunner AddTrialCommand(CLI::App& app) {
  auto o = std::make_shared<TrialCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "trial",
      "Copy a representative sample to a trial prefix, verify it, measure throughput "
      "and project the full copy's duration");
  cmd->add_option("DIR", o->dir, "The migration folder")->required();
  cmd->add_option("--sample", o->sample,
                  "P% of every stratum (size bucket x top-level folder), or about N files");
  cmd->add_option("--prefix", o->prefix,
                  "Where the trial blobs go, under the target: a name of ferry's own, apart "
                  "from the migration's items (no '.' or '..' parts)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the sample (printed; reuse it for the same sample)");
  AddTransferOptions(cmd, o->transfer);
  cmd->add_flag("--cleanup", o->cleanup,
                "Delete the blobs trials wrote under the prefix (after the trial, if one runs); "
                "nothing else there is touched");
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  cmd->footer(
      "The trial prefix is ferry's alone: a prefix that is or holds an item of the migration,\n"
      "or under which the target holds blobs no trial of this migration wrote, is refused\n"
      "(exit 2). Trial writes are create-only (or replace an earlier trial's own blob), and\n"
      "--cleanup deletes only the blobs trials recorded, each while it is still the blob they\n"
      "wrote.\n");
  return [o] { return RunTrial(*o); };
}

}  // namespace ferry::cli
