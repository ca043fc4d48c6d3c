// The decisions of sync, verify, cutover and trial, on in-memory stores: what is new, changed,
// deleted, drifted and refused. (End to end, against Azurite, in src/cli/*_e2e_test.cc.)
#include <gtest/gtest.h>

#include <atomic>

#include "migration/cutover.h"
#include "migration/resolve.h"
#include "migration/sync.h"
#include "migration/trial.h"
#include "migration/verify.h"
#include "storage/memory_store.h"
#include "support/status_matchers.h"
#include "support/store_conformance.h"
#include "support/temp_dir.h"

namespace ferry::migration {
namespace {

using catalog::Catalog;
using catalog::Item;
using catalog::ItemState;

class StagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog::Config config;
    config.mode = catalog::DeleteMode::kMirror;
    catalog_ = std::move(Catalog::Create(dir_.Sub("m"), config)).value();
  }

  void Put(storage::Store& store, const std::string& path, const std::string& data) {
    ASSERT_OK(store.Write(path, http::Body::FromString(data), {}));
  }

  SyncOptions Options() {
    SyncOptions options;
    options.mode = catalog_->config().mode;
    options.copy.engine.streams = 2;
    options.max_delete = *DeleteBudget::Parse("100%");
    return options;
  }

  SyncReport SyncNow(SyncOptions options) {
    Result<SyncReport> report = Sync(*catalog_, source_, target_, options);
    EXPECT_OK(report);
    return report.ok() ? *report : SyncReport{};
  }
  SyncReport SyncNow() { return SyncNow(Options()); }

  ItemState StateOf(const std::string& path) {
    Result<std::optional<Item>> item = catalog_->FindItem(path);
    EXPECT_TRUE(item.ok() && *item) << path;
    return item.ok() && *item ? (*item)->state : ItemState::kPending;
  }

  testing::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  storage::MemoryStore source_, target_;
};

TEST_F(StagesTest, ASyncPassCopiesWhatIsNewOrChangedAndMirrorsDeletions) {
  for (const char* f : {"a", "b", "c"}) Put(source_, f, f);
  SyncReport first = SyncNow();
  EXPECT_EQ(first.scan.delta_new, 3);
  EXPECT_EQ(first.copy.copied, 3);

  Put(source_, "b", "b, changed");
  Put(source_, "d", "new");
  ASSERT_OK(source_.Delete("c", storage::Condition::None()));
  SyncReport second = SyncNow();
  EXPECT_EQ(second.scan.delta_new, 1);
  EXPECT_EQ(second.scan.delta_changed, 1);
  EXPECT_EQ(second.scan.delta_deleted, 1);
  EXPECT_EQ(second.copy.replaced, 1);
  EXPECT_EQ(second.deleted, 1);
  EXPECT_EQ(testing::ReadAllOf(target_, "b"), "b, changed");
  EXPECT_EQ(target_.Stat("c").status().code(), Code::kNotFound);
  EXPECT_EQ(StateOf("c"), ItemState::kDeleted);

  SyncReport quiet = SyncNow();
  EXPECT_EQ(quiet.scan.delta_new + quiet.scan.delta_changed + quiet.scan.delta_deleted, 0);
  EXPECT_EQ(quiet.copy.copied, 0);
}

TEST_F(StagesTest, DriftIsAConflictThatStaysOpenUntilResolved) {
  Put(source_, "a", "ours");
  SyncNow();
  Put(target_, "a", "theirs");
  SyncReport drifted = SyncNow();
  EXPECT_EQ(drifted.drift.changed, 1);
  EXPECT_EQ(drifted.open.conflicts, 1);
  SyncReport later = SyncNow();
  EXPECT_EQ(later.drift.changed, 0) << "already known";
  EXPECT_EQ(later.open.conflicts, 1) << "but still open";

  Result<VerifyReport> verified = Verify(*catalog_, source_, target_, {});
  ASSERT_OK(verified);
  EXPECT_EQ(verified->open.conflicts, 1);

  ASSERT_OK(KeepTarget(*catalog_, target_, {"a"}));
  EXPECT_EQ(StateOf("a"), ItemState::kKept);
  EXPECT_EQ(SyncNow().open.blocking(), 0);
  EXPECT_EQ(testing::ReadAllOf(target_, "a"), "theirs");
  EXPECT_EQ(KeepTarget(*catalog_, target_, {"a"}).status().code(), Code::kInvalidInput)
      << "no longer a conflict";
}

TEST_F(StagesTest, AKeptBlobIsNeverMirrorDeleted) {
  Put(source_, "a", "ours");
  for (int i = 0; i < 20; ++i) Put(source_, "other" + std::to_string(i), "x");
  SyncNow();
  Put(target_, "a", "theirs");
  SyncNow();
  ASSERT_OK(KeepTarget(*catalog_, target_, {"a"}));
  ASSERT_OK(source_.Delete("a", storage::Condition::None()));
  SyncReport r = SyncNow();
  EXPECT_EQ(r.deleted, 0);
  EXPECT_EQ(testing::ReadAllOf(target_, "a"), "theirs");
}

TEST_F(StagesTest, AMassDeletionDeletesNothingOverTheBudget) {
  for (int i = 0; i < 10; ++i) Put(source_, "f" + std::to_string(i), "x");
  SyncNow();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(source_.Delete("f" + std::to_string(i), storage::Condition::None()));
  }
  SyncOptions budget = Options();
  budget.max_delete = DeleteBudget{};  // the default, 10%
  SyncReport refused = SyncNow(budget);
  EXPECT_FALSE(refused.deletion_refused.empty());
  EXPECT_EQ(refused.deleted, 0);
  EXPECT_OK(target_.Stat("f0"));
  budget.max_delete = *DeleteBudget::Parse("3");
  EXPECT_EQ(SyncNow(budget).deleted, 3);
}

TEST_F(StagesTest, AStoppedSyncRecordsItselfStoppedAndDeletesNothing) {
  for (int i = 0; i < 5; ++i) Put(source_, "f" + std::to_string(i), "x");
  SyncNow();
  ASSERT_OK(source_.Delete("f0", storage::Condition::None()));
  std::atomic<bool> stop{true};
  SyncOptions options = Options();
  options.copy.stop = &stop;
  EXPECT_EQ(Sync(*catalog_, source_, target_, options).status().code(), Code::kCancelled);
  EXPECT_OK(target_.Stat("f0"));
  auto runs = catalog_->Runs();
  ASSERT_OK(runs);
  EXPECT_EQ(runs->back().outcome, "stopped");
}

TEST_F(StagesTest, VerifyFindsMissingChangedAndUnexpectedBlobs) {
  for (const char* f : {"kept", "gone", "changed"}) Put(source_, f, f);
  SyncNow();
  Result<VerifyReport> clean = Verify(*catalog_, source_, target_, {});
  ASSERT_OK(clean);
  EXPECT_EQ(clean->mismatches, 0);
  EXPECT_EQ(clean->ok, 3);

  ASSERT_OK(target_.Delete("gone", storage::Condition::None()));
  Put(target_, "changed", "someone else's");
  Put(target_, "stranger", "?");
  std::map<std::string, Finding::Kind> found;
  VerifyOptions options;
  options.on_finding = [&](const Finding& f) { found[f.path] = f.kind; };
  Result<VerifyReport> damaged = Verify(*catalog_, source_, target_, options);
  ASSERT_OK(damaged);
  EXPECT_EQ(damaged->mismatches, 3);
  EXPECT_EQ(found["gone"], Finding::Kind::kMissing);
  EXPECT_EQ(found["changed"], Finding::Kind::kChanged);
  EXPECT_EQ(found["stranger"], Finding::Kind::kUnexpected);
  EXPECT_FALSE(found.contains("kept"));
}

TEST_F(StagesTest, CutoverClosesOnlyAQuietMigrationWithNothingOpen) {
  Put(source_, "a", "a");
  SyncNow();
  CutoverOptions options;
  options.quiet_window = std::chrono::milliseconds(10);
  options.sync = Options();
  Put(target_, "a", "theirs");  // a conflict the final sync finds
  Result<CutoverReport> refused = Cutover(*catalog_, source_, target_, options);
  ASSERT_OK(refused);
  EXPECT_FALSE(refused->done);
  EXPECT_FALSE(refused->refused.empty());
  EXPECT_FALSE(IsClosed(*catalog_));

  ASSERT_OK(KeepTarget(*catalog_, target_, {"a"}));
  Result<CutoverReport> done = Cutover(*catalog_, source_, target_, options);
  ASSERT_OK(done);
  EXPECT_TRUE(done->done) << done->refused;
  EXPECT_TRUE(IsClosed(*catalog_));
  EXPECT_GT(done->in_sync_since_ns, 0);
  std::optional<nlohmann::json> record = CutoverRecord(*catalog_);
  ASSERT_TRUE(record);
  EXPECT_EQ((*record)["final_passes"], 1);

  Result<CutoverReport> again = Cutover(*catalog_, source_, target_, options);
  ASSERT_OK(again);
  EXPECT_FALSE(again->refused.empty()) << "already cut over";
}

TEST_F(StagesTest, ACutoverStoppedInItsWindowClosesNothing) {
  Put(source_, "a", "a");
  SyncNow();
  std::atomic<bool> stop{true};
  CutoverOptions options;
  options.quiet_window = std::chrono::milliseconds(10'000);
  options.sync = Options();
  options.sync.copy.stop = &stop;
  EXPECT_EQ(Cutover(*catalog_, source_, target_, options).status().code(), Code::kCancelled);
  EXPECT_FALSE(IsClosed(*catalog_));
}

TEST_F(StagesTest, TheTrialWritesUnderItsPrefixAndCleansUpOnlyWhatItWrote) {
  for (int i = 0; i < 8; ++i) Put(source_, "d/f" + std::to_string(i), std::string(100 + i, 'x'));
  SyncNow();
  EXPECT_EQ(CheckTrialPrefix(*catalog_, target_, "d", false).code(), Code::kInvalidInput);
  EXPECT_EQ(CheckTrialPrefix(*catalog_, target_, "../t", false).code(), Code::kInvalidInput);
  ASSERT_OK(CheckTrialPrefix(*catalog_, target_, "trial", false));

  // The store at the prefix, as the command line opens it (the target's root plus "trial/").
  storage::MemoryStore sandbox;
  TrialOptions options;
  options.percent = 50;
  options.engine.streams = 2;
  Result<TrialReport> report = Trial(*catalog_, source_, sandbox, "trial", options);
  ASSERT_OK(report);
  EXPECT_GT(report->copied, 0);
  EXPECT_EQ(report->mismatches, 0);
  Result<std::vector<catalog::TrialBlob>> written = catalog_->TrialBlobs("trial");
  ASSERT_OK(written);
  EXPECT_EQ(int64_t(written->size()), report->copied);

  Put(sandbox, "stranger", "not the trial's");
  Result<CleanupReport> cleaned = CleanupTrial(*catalog_, sandbox, "trial");
  ASSERT_OK(cleaned);
  EXPECT_EQ(cleaned->deleted, report->copied);
  EXPECT_OK(sandbox.Stat("stranger"));
  EXPECT_TRUE(catalog_->TrialBlobs("trial")->empty());
}

}  // namespace
}  // namespace ferry::migration
