// The safety rules of DESIGN.md that more than one stage relies on, each decided in one place:
// whether the source is still the one the migration began with, how many deletions one pass may
// make, and which problems keep a migration from being closed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "catalog/catalog.h"
#include "storage/store.h"

namespace ferry::migration {

// ---- The source is the one the migration began with ----

// Why `now` is not the source recorded as `recorded`, or nullopt when it is: a mount point that
// is no longer one, another file system type, an empty root while the catalog knows
// `known_items` items, or another root folder (compared only where inode numbers are stable
// across mounts: not on SMB, where a client may number them itself).
std::optional<std::string> IdentityProblem(const storage::RootIdentity& recorded,
                                           const storage::RootIdentity& now, int64_t known_items);

// Records the source's identity in the catalog (at init).
Status RecordSourceIdentity(catalog::Catalog& catalog, storage::Store& source);

// Refuses (Code::kRefused, with a one-line reason that ends in what to do) when the source is
// not the file system the migration began with. A migration made before identities were
// recorded has the current one recorded. With `accept_change`, the operator says the source was
// moved or restored on purpose: the new identity is recorded, with an event in run `run`
// (an empty source is still refused).
// With `dry_run`, nothing is recorded.
Status CheckSourceIdentity(catalog::Catalog& catalog, storage::Store& source, bool accept_change,
                           int64_t run, bool dry_run = false);

// ---- How many blobs one pass may delete ----

// --max-delete: a count ("500") or a share of the items that have a blob in the target ("10%").
struct DeleteBudget {
  std::optional<int64_t> count;
  double percent = 10;

  // Code::kInvalidInput for anything but a count >= 0 or a percentage in [0, 100].
  static Result<DeleteBudget> Parse(const std::string& text);
  std::string ToString() const;
  // How many deletions the budget allows when `with_blob` items have a blob of ferry's.
  int64_t Allowed(int64_t with_blob) const;
};

// Why a pass may not delete `to_delete` blobs of the `with_blob` items that have one, or
// nullopt when the budget allows it. The reason names the count and the flag.
std::optional<std::string> DeletionRefusal(int64_t to_delete, int64_t with_blob,
                                           const DeleteBudget& budget);

// ---- Problems that stay open until resolved ----

// The cause of an item that vanished while it was being copied: unlike an item a complete
// listing no longer shows, it stays open until a later scan confirms it is gone.
inline constexpr const char* kCauseVanishedInFlight = "vanished while being copied";

struct OpenProblems {
  int64_t conflicts = 0;
  int64_t failed = 0;
  int64_t pending = 0;
  int64_t vanished = 0;  // vanished while being copied, not yet confirmed gone
  int64_t skipped = 0;   // not migrated (names the target cannot store, links, special files)

  // The problems that a sync reports (exit 1), verify refuses (exit 3) and cutover refuses.
  int64_t blocking() const { return conflicts + failed + pending + vanished; }
};

Result<OpenProblems> CountOpenProblems(catalog::Catalog& catalog);

// The first `limit` items that are open problems (skipped ones too, with `with_skipped`), by
// path.
Result<std::vector<catalog::Item>> OpenProblemItems(catalog::Catalog& catalog, size_t limit,
                                                    bool with_skipped);

// Whether an item is a blocking open problem.
bool IsBlockingProblem(const catalog::Item& item);

// ---- Who decided ----

// "user@host", for the log of an operator's decision.
std::string Operator();

}  // namespace ferry::migration
