#include "migration/filter.h"

#include <gtest/gtest.h>

namespace ferry::migration {
namespace {

bool Match(const char* pattern, const char* path) { return Glob::Parse(pattern)->Matches(path); }

TEST(Glob, NamePatternsMatchAtAnyDepth) {
  EXPECT_TRUE(Match("*.tmp", "a.tmp"));
  EXPECT_TRUE(Match("*.tmp", "x/y/a.tmp"));
  EXPECT_FALSE(Match("*.tmp", "x/a.tmp/y"));
  EXPECT_TRUE(Match("file?.txt", "d/file1.txt"));
  EXPECT_FALSE(Match("file?.txt", "file10.txt"));
  EXPECT_TRUE(Match("[abc]*", "beta"));
  EXPECT_FALSE(Match("[!abc]*", "beta"));
  EXPECT_TRUE(Match("[a-c]x", "bx"));
}

TEST(Glob, PathPatternsMatchWholePathsAndDoubleStarCrossesFolders) {
  EXPECT_TRUE(Match("data/*.csv", "data/a.csv"));
  EXPECT_FALSE(Match("data/*.csv", "data/sub/a.csv"));
  EXPECT_TRUE(Match("data/**/*.csv", "data/a.csv"));
  EXPECT_TRUE(Match("data/**/*.csv", "data/x/y/a.csv"));
  EXPECT_FALSE(Match("data/**/*.csv", "other/a.csv"));
  EXPECT_TRUE(Match("/build", "build"));
  EXPECT_FALSE(Match("/build", "src/build"));
  EXPECT_TRUE(Match("**", "any/thing"));
}

TEST(Glob, ClassesMayHoldABracketAndManyStarsStayFast) {
  EXPECT_TRUE(Match("[]]x", "]x"));
  EXPECT_TRUE(Match("[!]]x", "ax"));
  EXPECT_FALSE(Match("[!]]x", "]x"));
  std::string stars;
  for (int i = 0; i < 40; ++i) stars += "*a";
  EXPECT_FALSE(Match((stars + "b").c_str(), std::string(200, 'a').c_str()));
  std::string doubles;
  for (int i = 0; i < 20; ++i) doubles += "**/a";
  EXPECT_FALSE(Glob::Parse(doubles + "/b")->Matches(std::string(100, 'a')));
}

TEST(Glob, BadPatternsAreErrors) {
  EXPECT_FALSE(Glob::Parse("[!]").ok());
  EXPECT_FALSE(Glob::Parse("[]").ok());
  EXPECT_FALSE(Glob::Parse("").ok());
  auto open = Glob::Parse("data/[abc");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("never closed"), std::string::npos);
  EXPECT_TRUE(Glob::Parse("\\[literal").ok());
}

TEST(Filter, ExcludesCoverWholeFoldersAndIncludesOnlyFiles) {
  auto filter = Filter::Parse({"*.csv"}, {"node_modules", "*.tmp"});
  ASSERT_TRUE(filter.ok());
  EXPECT_TRUE(filter->Included("data/a.csv", false));
  EXPECT_FALSE(filter->Included("data/a.txt", false));
  EXPECT_TRUE(filter->Included("data", true));
  EXPECT_FALSE(filter->Included("app/node_modules/x/a.csv", false));
  EXPECT_FALSE(filter->Included("app/node_modules", true));
  EXPECT_FALSE(filter->Included("b.tmp", false));
  EXPECT_FALSE(Filter::Parse({"[x"}, {}).ok());
  EXPECT_NE(Filter::Parse({}, {"[x"}).status().message().find("--exclude"), std::string::npos);
}

}  // namespace
}  // namespace ferry::migration
