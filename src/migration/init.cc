#include "migration/init.h"

#include <nlohmann/json.hpp>

#include "migration/filter.h"
#include "migration/safety.h"

namespace ferry::migration {

namespace {

Status About(const char* endpoint, const Status& status) {
  return Status(status.code(), std::string(endpoint) + ": " + status.message());
}

}  // namespace

Result<std::unique_ptr<catalog::Catalog>> Init(
    const InitOptions& options, storage::Store& source, storage::Store& target,
    const std::function<void(const std::string&)>& on_step) {
  auto step = [&](const std::string& text) {
    if (on_step) on_step(text);
  };
  const catalog::Config& config = options.config;
  Result<Filter> filter = Filter::Parse(config.include, config.exclude);
  if (!filter.ok()) return filter.status();

  // One entry is all it reads: one request, never a split listing.
  Result<std::unique_ptr<storage::Lister>> lister = source.List("", {.concurrency = 1});
  if (!lister.ok()) return About("--source", lister.status());
  storage::Entry first;
  if (Result<bool> any = (*lister)->Next(first); !any.ok()) return About("--source", any.status());
  step("source readable");
  if (Status st = target.CreateRoot(); !st.ok()) return About("--target", st);
  if (auto probe = storage::ProbeWritable(target); !probe.ok()) {
    return About("--target", probe.status());
  }
  step("target reachable and writable");

  Result<std::unique_ptr<catalog::Catalog>> created = catalog::Catalog::Create(options.dir, config);
  if (!created.ok()) return created.status();
  catalog::Catalog& catalog = **created;
  for (const auto& [kind, detail] : options.run_annotations) catalog.AnnotateRuns(kind, detail);
  // What the source is now (file system, root folder, mount point): later runs refuse a source
  // that is not this one, such as the empty folder an unmounted share leaves.
  FERRY_RETURN_IF_ERROR(RecordSourceIdentity(catalog, source));
  Result<int64_t> run = catalog.BeginRun(catalog::Stage::kInit);
  if (!run.ok()) return run.status();
  FERRY_RETURN_IF_ERROR(catalog.AppendEvent(
      *run, "", "init",
      JsonText(nlohmann::json{{"source", config.source}, {"target", config.target}})));
  catalog::Run done;
  done.id = *run;
  done.outcome = "done";
  FERRY_RETURN_IF_ERROR(catalog.EndRun(done));
  return created;
}

}  // namespace ferry::migration
