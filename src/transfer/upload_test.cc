#include "transfer/upload.h"

#include <gtest/gtest.h>

namespace ferry::transfer {
namespace {

TEST(BlockId, SameLengthForEveryBlockAndDifferentForAnotherVersion) {
  std::string first = BlockId("a/b.bin", 100, 5, 0);
  std::string last = BlockId("a/b.bin", 100, 5, 49'999);
  EXPECT_EQ(first.size(), last.size());
  EXPECT_NE(first, last);
  EXPECT_EQ(first, BlockId("a/b.bin", 100, 5, 0)) << "stable across runs, so a resume finds it";
  EXPECT_NE(first, BlockId("a/b.bin", 101, 5, 0)) << "another size is another version";
  EXPECT_NE(first, BlockId("a/b.bin", 100, 6, 0)) << "another mtime is another version";
  EXPECT_NE(first, BlockId("a/c.bin", 100, 5, 0));
}

TEST(BlockSizeFor, KeepsThePreferredSizeUnlessTheFileNeedsMoreThanTheBlockLimit) {
  constexpr uint64_t kMiB = 1 << 20;
  EXPECT_EQ(BlockSizeFor(100 * kMiB, 8 * kMiB, 50'000), 8 * kMiB);
  uint64_t huge = 1000ull * 1024 * kMiB;  // 1000 GiB
  uint64_t size = BlockSizeFor(huge, 8 * kMiB, 50'000);
  EXPECT_LE((huge + size - 1) / size, 50'000u);
  EXPECT_EQ(size % kMiB, 0u);
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

}  // namespace
}  // namespace ferry::transfer
