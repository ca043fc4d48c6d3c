// The prepare stage: a new migration folder and its catalog, after checking both endpoints.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "storage/store.h"

namespace ferry::migration {

struct InitOptions {
  std::string dir;         // the new migration folder
  catalog::Config config;  // never a credential
  // Events every run of this process records (e.g. TLS verification turned off): kind, detail.
  std::vector<std::pair<std::string, std::string>> run_annotations;
};

// Checks the endpoints first (the source can be listed; the target's root exists or is created,
// and a probe is written, read back and deleted), then creates the folder and its catalog, records
// the source's identity (see CheckSourceIdentity) and an "init" run with its event. Nothing is
// created when a check fails; the error says which (Code::kInvalidInput for the endpoints'
// answers to the checks, with "--source:" or "--target:" first). `on_step` hears each check
// pass, for the operator.
Result<std::unique_ptr<catalog::Catalog>> Init(
    const InitOptions& options, storage::Store& source, storage::Store& target,
    const std::function<void(const std::string&)>& on_step = {});

}  // namespace ferry::migration
