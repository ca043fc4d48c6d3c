#include "base/mime.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(GuessContentType, ByTheLastExtensionOfTheNameWhateverItsCase) {
  EXPECT_EQ(GuessContentType("site/index.html"), "text/html");
  EXPECT_EQ(GuessContentType("IMG_0001.JPG"), "image/jpeg");
  EXPECT_EQ(GuessContentType("backup.tar.gz"), "application/gzip");
  EXPECT_EQ(GuessContentType("a.b/README"), "application/octet-stream") << "a folder's dot";
  EXPECT_EQ(GuessContentType(".bashrc"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("trailing."), "application/octet-stream");
  EXPECT_EQ(GuessContentType("x.unknownext"), "application/octet-stream");
}

TEST(GuessContentType, FindsEveryKindOfFileAMigrationMeets) {
  // Spread over the table (its lookup is a binary search: a row out of order is not found).
  const std::pair<const char*, const char*> cases[] = {
      {"a.7z", "application/x-7z-compressed"},
      {"a.avif", "image/avif"},
      {"a.css", "text/css"},
      {"a.csv", "text/csv"},
      {"a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"a.flac", "audio/flac"},
      {"a.js", "text/javascript"},
      {"a.json", "application/json"},
      {"a.md", "text/markdown"},
      {"a.mp3", "audio/mpeg"},
      {"a.mp4", "video/mp4"},
      {"a.parquet", "application/vnd.apache.parquet"},
      {"a.pdf", "application/pdf"},
      {"a.png", "image/png"},
      {"a.svg", "image/svg+xml"},
      {"a.txt", "text/plain"},
      {"a.wasm", "application/wasm"},
      {"a.webp", "image/webp"},
      {"a.woff2", "font/woff2"},
      {"a.xml", "application/xml"},
      {"a.yaml", "application/yaml"},
      {"a.zip", "application/zip"},
      {"a.zst", "application/zstd"}};
  for (const auto& [name, type] : cases) EXPECT_EQ(GuessContentType(name), type) << name;
}

}  // namespace
}  // namespace ferry
