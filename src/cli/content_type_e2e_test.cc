// Content-Type: each blob gets the media type its file's extension gives (a table built into
// ferry), or the one --content-type names, or none with --no-guess-mime-type; an independent
// client reads it back, and verify checks it.
#include <gtest/gtest.h>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using ContentTypeTest = MigrationFixture;

std::map<std::string, std::string> TypesIn(Azurite& azurite, const std::string& container) {
  std::map<std::string, std::string> types;
  for (const auto& blob : RunChecker(azurite, {"list", container})) {
    types[blob["name"]] = blob["content_type"].is_string() ? blob["content_type"] : "(none)";
  }
  return types;
}

TEST_F(ContentTypeTest, EachBlobIsServedAsWhatItsExtensionSays) {
  AddFile("site/index.html", "<html></html>");
  AddFile("site/style.CSS", "body {}");
  AddFile("media/photo.JPG", "jpeg bytes");
  AddFile("media/clip.mp4", "mp4 bytes");
  AddFile("docs/report.pdf", "%PDF");
  AddFile("docs/sheet.xlsx", "xlsx");
  AddFile("data/table.csv", "a,b");
  AddFile("README", "no extension");
  AddFile(".bashrc", "a dotfile");
  AddFile("odd.unknownext", "?");
  Init();
  auto copy = Ferry({"copy", Mig()});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  auto types = TypesIn(Azurite::Global(), container_);
  std::map<std::string, std::string> expected{
      {"share/site/index.html", "text/html"},
      {"share/site/style.CSS", "text/css"},
      {"share/media/photo.JPG", "image/jpeg"},
      {"share/media/clip.mp4", "video/mp4"},
      {"share/docs/report.pdf", "application/pdf"},
      {"share/docs/sheet.xlsx",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"share/data/table.csv", "text/csv"},
      {"share/README", "application/octet-stream"},
      {"share/.bashrc", "application/octet-stream"},
      {"share/odd.unknownext", "application/octet-stream"}};
  for (const auto& [name, type] : expected) EXPECT_EQ(types[name], type) << name;
  auto verify = Ferry({"verify", Mig()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // Verify checks it against the type recorded for each item: a catalog that recorded
  // text/plain for every file finds every other blob wrong.
  auto edited = RunProcess({"sqlite3", Mig() + "/catalog.db",
                            "UPDATE items SET content_type = 'text/plain' WHERE kind = 'file'"});
  ASSERT_EQ(edited.exit_code, 0) << edited.err;
  auto wrong = Ferry({"verify", Mig()});
  EXPECT_NE(wrong.exit_code, 0) << wrong.out;
  EXPECT_NE((wrong.out + wrong.err).find("Content-Type text/html; expected text/plain"),
            std::string::npos)
      << wrong.out << wrong.err;
}

TEST_F(ContentTypeTest, OneTypeForAllOrNone) {
  AddFile("index.html", "<html></html>");
  AddFile("photo.jpg", "jpeg");
  Init({"--content-type", "text/plain; charset=utf-8"});
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto types = TypesIn(Azurite::Global(), container_);
  EXPECT_EQ(types["share/index.html"], "text/plain; charset=utf-8");
  EXPECT_EQ(types["share/photo.jpg"], "text/plain; charset=utf-8");
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);

  std::string other = UniqueContainer("nomime");
  auto init = Ferry({"init", dir_.Sub("m2"), "--source", Src(), "--target",
                     Azurite::Global().ContainerUrl(other, "share"), "--no-guess-mime-type"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ASSERT_EQ(Ferry({"copy", dir_.Sub("m2")}).exit_code, 0);
  auto plain = TypesIn(Azurite::Global(), other);
  EXPECT_EQ(plain["share/index.html"], "application/octet-stream");
  EXPECT_EQ(plain["share/photo.jpg"], "application/octet-stream");
  EXPECT_EQ(Ferry({"verify", dir_.Sub("m2")}).exit_code, 0);
  RunChecker(Azurite::Global(), {"drop", other});

  auto bad = Ferry({"init", dir_.Sub("m3"), "--source", Src(), "--target", target_,
                    "--content-type", "text/html\r\nX-Injected: 1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_EQ(Lines(bad.err), 1) << bad.err;
}

}  // namespace
}  // namespace ferry::testing
