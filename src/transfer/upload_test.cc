#include "transfer/upload.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/task_pool.h"
#include "storage/azure_blob_store.h"
#include "storage/local_store.h"
#include "storage/memory_store.h"
#include "support/store_conformance.h"
#include "support/temp_dir.h"

namespace ferry::transfer {
namespace {

TEST(BlockId, SameLengthForEveryBlockAndDifferentForOtherBytes) {
  const Md5Digest bytes = Md5::Of("block bytes");
  std::string first = BlockId("a/b.bin", 100, 5, 0, bytes);
  std::string last = BlockId("a/b.bin", 100, 5, 49'999, Md5::Of("other"));
  EXPECT_EQ(first.size(), last.size());
  EXPECT_LE(first.size(), 64u) << "Azure's limit for a block id";
  EXPECT_NE(first, last);
  EXPECT_EQ(first, BlockId("a/b.bin", 100, 5, 0, bytes)) << "stable, so a resume finds it";
  EXPECT_NE(first, BlockId("a/b.bin", 101, 5, 0, bytes)) << "another size is another version";
  EXPECT_NE(first, BlockId("a/b.bin", 100, 6, 0, bytes)) << "another mtime is another version";
  EXPECT_NE(first, BlockId("a/c.bin", 100, 5, 0, bytes));
  EXPECT_NE(first, BlockId("a/b.bin", 100, 5, 0, Md5::Of("changed, same size and mtime")))
      << "other bytes are another block";
}

TEST(BlockSizeFor, KeepsThePreferredSizeUnlessTheFileNeedsMoreThanTheBlockLimit) {
  constexpr uint64_t kMiB = 1 << 20;
  EXPECT_EQ(BlockSizeFor(100 * kMiB, 8 * kMiB, 50'000), 8 * kMiB);
  uint64_t huge = 1000ull * 1024 * kMiB;  // 1000 GiB
  uint64_t size = BlockSizeFor(huge, 8 * kMiB, 50'000);
  EXPECT_LE((huge + size - 1) / size, 50'000u);
  EXPECT_EQ(size % kMiB, 0u);
}

// The service's limits: 50,000 blocks of at most 4,000 MiB, one Put Blob of at most 5,000 MiB,
// 8 KiB of metadata.
TEST(ServiceLimits, A1TiBSparseFileIsPlannedInFewerThan50000BlocksOfWholeMiB) {
  constexpr uint64_t kMiB = 1 << 20;
  testing::TempDir dir;
  const std::string path = dir.Sub("sparse");
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  if (::ftruncate(fd, off_t(1ull << 40)) != 0) {
    ::close(fd);
    GTEST_SKIP() << "this file system cannot hold a 1 TiB sparse file";
  }
  ::close(fd);
  storage::LocalStore local(dir.path());
  auto entry = local.Stat("sparse");
  ASSERT_TRUE(entry.ok());
  ASSERT_EQ(entry->size, 1ull << 40);
  storage::AzureBlobStore azure(
      *storage::ParseAzureUrl("https://account.blob.core.windows.net/container"),
      storage::AzureCredentials{});
  auto plan = PlanBlocks(entry->size, 8 * kMiB, azure.MaxBlocks(), azure.MaxBlockSize());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->block_size, 21 * kMiB);  // 1 TiB / 50,000 = 20.97 MiB, in whole MiB
  EXPECT_EQ(plan->blocks, 49'933u);
  EXPECT_GE(plan->blocks * plan->block_size, entry->size);
  EXPECT_LT((plan->blocks - 1) * plan->block_size, entry->size);

  // The largest blob: 50,000 blocks of 4,000 MiB; one byte more does not fit.
  const uint64_t largest = 50'000ull * 4000 * kMiB;
  EXPECT_EQ(azure.MaxItemSize(), largest);
  auto full = PlanBlocks(largest, 8 * kMiB, azure.MaxBlocks(), azure.MaxBlockSize());
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->block_size, 4000 * kMiB);
  EXPECT_EQ(full->blocks, 50'000u);
  auto over = PlanBlocks(largest + 1, 8 * kMiB, azure.MaxBlocks(), azure.MaxBlockSize());
  EXPECT_EQ(over.status().code(), Code::kInvalidInput);
  EXPECT_EQ(azure.MaxSingleWrite(), 5000 * kMiB);
}

TEST(ServiceLimits, MetadataOver8KiBIsRefusedBeforeItIsSent) {
  // Names and values together: 7 + 1 + 3 + 8181 = 8192 bytes, the most there may be.
  storage::Metadata metadata{{"modtime", "1"}, {"big", std::string(8181, 'x')}};
  EXPECT_TRUE(storage::CheckMetadataSize(metadata, "b").ok());
  metadata["big"] += "x";
  Status over = storage::CheckMetadataSize(metadata, "b");
  EXPECT_EQ(over.code(), Code::kInvalidInput);
  EXPECT_NE(over.message().find("8193 bytes"), std::string::npos) << over.message();
}

TEST(PosixMetadata, UsesTheNamesAzCopyAndBlobFuseRead) {
  UploadItem item;
  item.mode = 0100644;
  item.uid = 1000;
  item.gid = 100;
  storage::Metadata m = PosixMetadata(item, 1'700'000'000'123'456'789);
  EXPECT_EQ(m.at("modtime"), "1700000000123456789");
  EXPECT_EQ(m.at("permissions"), "33188");
  EXPECT_EQ(m.at("posix_owner"), "1000");
  EXPECT_EQ(m.at("posix_group"), "100");
}

// A replacement whose new version is already in the target (written by a run killed before it
// recorded the write) is adopted; the same bytes with another modtime are someone else's.
class ReplaceTest : public ::testing::TestWithParam<size_t> {
 protected:
  ReplaceTest() : uploader_(source_, target_, Options(), blocks_, buffers_) {}
  static UploadOptions Options() {
    UploadOptions options;
    options.single_shot_limit = 1 << 20;  // larger files stream as one write,
    options.stream_limit = 2 << 20;       // and these in blocks
    options.block_size = 1 << 20;
    return options;
  }
  UploadItem Item(const std::string& data, int64_t mtime_ns) {
    storage::WriteOptions write;
    write.metadata = {{"modtime", std::to_string(mtime_ns)}};
    EXPECT_TRUE(source_.Write("f", http::Body::FromString(data), write).ok());
    storage::Entry entry = *source_.Stat("f");
    UploadItem item;
    item.path = "f";
    item.size = entry.size;
    item.mtime_ns = entry.mtime_ns;
    item.mode = 0100644;
    return item;
  }
  storage::MemoryStore source_, target_;
  TaskPool blocks_{2};
  BufferPool buffers_{64 << 20};
  Uploader uploader_;
};

TEST_P(ReplaceTest, TheNewVersionAlreadyThereIsAdoptedAnotherModtimeIsAConflict) {
  const std::string v1(GetParam(), 'a'), v2(GetParam(), 'b');
  UploadResult first = uploader_.Upload(Item(v1, 1'000));
  ASSERT_EQ(first.outcome, UploadOutcome::kCopied);

  UploadItem next = Item(v2, 2'000);
  next.replace_etag = first.etag;
  next.previous_md5 = Md5::Of(v1);
  storage::WriteOptions crashed;  // what the killed run had written
  crashed.content_md5 = Md5::Of(v2);
  crashed.metadata = PosixMetadata(next, next.mtime_ns);
  ASSERT_TRUE(target_.Write("f", http::Body::FromString(v2), crashed).ok());
  UploadResult adopted = uploader_.Upload(next);
  EXPECT_EQ(adopted.outcome, UploadOutcome::kAdopted) << adopted.detail;
  EXPECT_EQ(adopted.etag, target_.Stat("f")->etag);

  crashed.metadata["modtime"] = "3000";  // same bytes, but not as ferry writes this version
  ASSERT_TRUE(target_.Write("f", http::Body::FromString(v2), crashed).ok());
  next.replace_etag = adopted.etag;
  UploadResult refused = uploader_.Upload(next);
  EXPECT_EQ(refused.outcome, UploadOutcome::kConflict);
  EXPECT_EQ(target_.Stat("f")->metadata.at("modtime"), "3000") << "left untouched";
}

// ferry's own write that a crash left unrecorded (its mark is the item's recorded intent) is
// replaced, even though the file changed since; a blob with the migration's id but another
// write's mark (a copy of a blob someone made, an edit that kept the metadata) is a conflict.
TEST_P(ReplaceTest, OnlyTheWriteTheItemRecordedAsBegunIsTakenForFerrysOwn) {
  UploadOptions options = Options();
  options.owner = "migration-1";
  Uploader uploader(source_, target_, options, blocks_, buffers_);
  const std::string v1(GetParam(), 'a'), v2(GetParam(), 'b');
  UploadItem crashed = Item(v1, 1'000);
  crashed.mark = "7/42";
  ASSERT_EQ(uploader.Upload(crashed).outcome, UploadOutcome::kCopied);

  UploadItem other = Item(v2, 2'000);  // the file changed before the next run
  other.mark = "8/42";
  other.earlier_mark = "6/42";  // not the write that is there
  UploadResult refused = uploader.Upload(other);
  EXPECT_EQ(refused.outcome, UploadOutcome::kConflict);
  EXPECT_EQ(testing::ReadAllOf(target_, "f"), v1) << "left untouched";

  other.earlier_mark = "7/42";
  UploadResult replaced = uploader.Upload(other);
  EXPECT_EQ(replaced.outcome, UploadOutcome::kCopied) << replaced.detail;
  EXPECT_EQ(testing::ReadAllOf(target_, "f"), v2);
  EXPECT_EQ(target_.Stat("f")->metadata.at(kWriteMetadata), "8/42");
}

// An object source that vouches for its objects with an MD5 (an S3 single-part ETag) and gives
// them a Content-Type and metadata of their own.
class ObjectSource : public storage::MemoryStore {
 public:
  Result<storage::Entry> Stat(std::string_view path) override {
    auto entry = MemoryStore::Stat(path);
    if (!entry.ok()) return entry;
    entry->content_md5 = vouched;
    entry->content_type = "text/csv";
    entry->metadata = {{"owner-team", "data"}, {"plain", "yes"}};
    return entry;
  }
  std::optional<Md5Digest> vouched;
};

TEST_P(ReplaceTest, BytesThatAreNotTheMd5TheSourceVouchesForAreNeverWritten) {
  ObjectSource source;
  const std::string data(GetParam(), 'x');
  ASSERT_TRUE(source.Write("f", http::Body::FromString(data), {}).ok());
  Uploader uploader(source, target_, Options(), blocks_, buffers_);
  UploadItem item;
  item.path = "f";
  item.size = data.size();
  item.mtime_ns = source.Stat("f")->mtime_ns;

  source.vouched = Md5::Of("some other bytes");
  UploadResult refused = uploader.Upload(item);
  EXPECT_EQ(refused.outcome, UploadOutcome::kFailed);
  EXPECT_NE(refused.error.message().find("not the"), std::string::npos) << refused.error.message();
  EXPECT_EQ(target_.Stat("f").status().code(), Code::kNotFound) << "nothing written";

  source.vouched = Md5::Of(data);
  UploadResult copied = uploader.Upload(item);
  ASSERT_EQ(copied.outcome, UploadOutcome::kCopied) << copied.error.message();
  auto blob = target_.Stat("f");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->content_type, "text/csv") << "the object's own Content-Type";
  EXPECT_EQ(copied.content_type, "text/csv");
  EXPECT_EQ(blob->metadata.at("plain"), "yes");
  EXPECT_EQ(blob->metadata.at("rename_owner_team"), "data");
  EXPECT_EQ(blob->metadata.at("rename_key_owner_team"), "owner-team");
  EXPECT_FALSE(blob->metadata.contains("permissions")) << "an object has no POSIX mode";
}

TEST(CarriedMetadata, KeepsIdentifiersAndRenamesOtherNamesAsAzCopyDoes) {
  auto carried = CarriedMetadata({{"ok_name", "1"}, {"9lives", "2"}, {"a.b-c", "3"}});
  EXPECT_EQ(carried.at("ok_name"), "1");
  EXPECT_EQ(carried.at("rename_9lives"), "2");
  EXPECT_EQ(carried.at("rename_key_9lives"), "9lives");
  EXPECT_EQ(carried.at("rename_a_b_c"), "3");
  EXPECT_EQ(carried.at("rename_key_a_b_c"), "a.b-c");
  EXPECT_EQ(carried.size(), 5u);
}

TEST(CarriedMetadata, NamesFerryGivesAMeaningAreRenamedNotObeyed) {
  // A source's metadata could otherwise make a blob a link, a folder or a setuid file, or forge
  // ferry's own mark. Azure compares metadata names without case.
  auto carried = CarriedMetadata({{"is_symlink", "true"},
                                  {"HDI_IsFolder", "true"},
                                  {"permissions", "3583"},
                                  {"posix_owner", "0"},
                                  {"posix_group", "0"},
                                  {"modtime", "1"},
                                  {"ferry_write", "forged"},
                                  {"Ferry_Migration", "other"}});
  for (const char* name : {"is_symlink", "HDI_IsFolder", "permissions", "posix_owner",
                           "posix_group", "modtime", "ferry_write", "Ferry_Migration"}) {
    EXPECT_FALSE(carried.contains(name)) << name;
    EXPECT_EQ(carried.at(std::string("rename_key_") + name), name);
    EXPECT_TRUE(carried.contains(std::string("rename_") + name)) << name;
  }
  EXPECT_EQ(carried.at("rename_permissions"), "3583");
  EXPECT_EQ(storage::KindFromMetadata(carried), storage::Kind::kFile);
}

INSTANTIATE_TEST_SUITE_P(SmallStreamedAndBlocks, ReplaceTest,
                         ::testing::Values(1000, 3 << 19, 3 << 20));

// A target that damages the bytes of the first `damaged` whole writes on their way in, as a bad
// link could; staged blocks and commits pass untouched.
class DamagingStore : public storage::MemoryStore {
 public:
  explicit DamagingStore(int damaged) : damaged_(damaged) {}
  Result<storage::WriteResult> Write(std::string_view path, const http::Body& body,
                                     const storage::WriteOptions& options) override {
    ++writes;
    if (damaged_ == 0) return MemoryStore::Write(path, body, options);
    --damaged_;
    http::Body bent = body;
    bent.read = [read = body.read](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
      Result<size_t> got = read(offset, buf, len);
      if (got.ok() && offset == 0 && *got > 0) buf[0] ^= 1;
      return got;
    };
    return MemoryStore::Write(path, bent, options);
  }
  int writes = 0;

 private:
  int damaged_;
};

class StreamedTest : public ::testing::Test {
 protected:
  static UploadOptions Options() {
    UploadOptions options;
    options.single_shot_limit = 1 << 20;
    options.stream_limit = 8 << 20;
    return options;
  }
  UploadItem Item(const std::string& data) {
    EXPECT_TRUE(source_.Write("f", http::Body::FromString(data), {}).ok());
    UploadItem item;
    item.path = "f";
    item.size = data.size();
    return item;
  }
  storage::MemoryStore source_;
  TaskPool blocks_{2};
  BufferPool buffers_{64 << 20};
};

TEST_F(StreamedTest, AFileUpToTheLimitGoesAsOneWriteNotInBlocks) {
  DamagingStore target(0);
  Uploader uploader(source_, target, Options(), blocks_, buffers_);
  std::string data(5 << 20, 'x');
  data[12345] = 'y';
  UploadResult r = uploader.Upload(Item(data));
  ASSERT_EQ(r.outcome, UploadOutcome::kCopied) << r.error.ToString();
  EXPECT_EQ(target.writes, 1);
  EXPECT_TRUE(target.ListStagedBlocks("f")->empty());
  EXPECT_EQ(r.md5, Md5::Of(data));
  EXPECT_EQ(r.bytes_sent, data.size());
  EXPECT_EQ(uploader.bytes_sent(), data.size());
  EXPECT_EQ(testing::ReadAllOf(target, "f"), data);
  EXPECT_EQ(target.Stat("f")->content_md5, Md5::Of(data));
  EXPECT_FALSE(target.Stat("f")->metadata.contains("permissions")) << "mode 0: no POSIX keys";
}

TEST_F(StreamedTest, BytesDamagedInTransitAreWrittenAgainOverThemselves) {
  DamagingStore target(1);
  Uploader uploader(source_, target, Options(), blocks_, buffers_);
  std::string data(3 << 20, 'd');
  UploadResult r = uploader.Upload(Item(data));
  ASSERT_EQ(r.outcome, UploadOutcome::kCopied) << r.error.ToString();
  EXPECT_EQ(target.writes, 2);
  EXPECT_EQ(testing::ReadAllOf(target, "f"), data);
  EXPECT_EQ(r.etag, target.Stat("f")->etag);
}

TEST_F(StreamedTest, ABlobThatKeepsArrivingDamagedIsRemovedAndTheItemFails) {
  DamagingStore target(1000);
  Uploader uploader(source_, target, Options(), blocks_, buffers_);
  UploadResult r = uploader.Upload(Item(std::string(3 << 20, 'd')));
  EXPECT_EQ(r.outcome, UploadOutcome::kFailed);
  EXPECT_NE(r.error.message().find("arrived damaged 3 times"), std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(target.Stat("f").status().code(), Code::kNotFound) << "no damaged blob is left";
}

}  // namespace
}  // namespace ferry::transfer
