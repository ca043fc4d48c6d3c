#include "base/text.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Utf8Length, CountsCodePointsOfWellFormedText) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("plain.txt"), 9u);
  EXPECT_EQ(Utf8Length("caf\xc3\xa9"), 4u);       // é
  EXPECT_EQ(Utf8Length("\xe2\x82\xac"), 1u);      // €
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1u);  // U+1F600
  EXPECT_EQ(Utf8Length("\xf4\x8f\xbf\xbf"), 1u);  // U+10FFFF, the last
  EXPECT_EQ(Utf8Length("\xed\x9f\xbf"), 1u);      // U+D7FF, just below surrogates
}

TEST(Utf8Length, RejectsWhatRfc3629Forbids) {
  for (const char* bad : {
           "caf\xe9.txt",       // Latin-1
           "over\xc0\xaflong",  // overlong '/'
           "\xc1\xbf",          // overlong
           "\xe0\x80\xaf",      // overlong in three bytes
           "\xf0\x80\x80\xaf",  // overlong in four bytes
           "\xed\xa0\x80",      // surrogate U+D800
           "\xed\xbf\xbf",      // surrogate U+DFFF
           "\xf4\x90\x80\x80",  // U+110000
           "\xf5\x80\x80\x80",  // lead byte above U+10FFFF
           "\xff",              // never in UTF-8
           "\x80",              // a continuation alone
           "\xe2\x82",          // cut short
       }) {
    EXPECT_EQ(Utf8Length(bad), std::nullopt) << ::testing::PrintToString(std::string(bad));
  }
}

TEST(Count, NamesOneInTheSingularAndEveryOtherCountInThePlural) {
  EXPECT_EQ(Count(1, "item"), "1 item");
  EXPECT_EQ(Count(0, "item"), "0 items");
  EXPECT_EQ(Count(49, "mismatch", "mismatches"), "49 mismatches");
  EXPECT_EQ(Count(1, "mismatch", "mismatches"), "1 mismatch");
}

TEST(RedactSecrets, HidesSignaturesAndKeysWhereverTheyAppear) {
  EXPECT_EQ(RedactSecrets("https://a/c?sv=2024&sig=abc%2Fdef&se=x"),
            "https://a/c?sv=2024&sig=REDACTED&se=x");
  EXPECT_EQ(RedactSecrets("https://a/c?SIG=abc"), "https://a/c?SIG=REDACTED");
  EXPECT_EQ(RedactSecrets(R"({"error":"GET https://a/c/x?sig=abc+/= failed"})"),
            R"({"error":"GET https://a/c/x?sig=REDACTED failed"})");
  EXPECT_EQ(RedactSecrets("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v+/==;"),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=REDACTED;");
  EXPECT_EQ(RedactSecrets("the design=sig=x"), "the design=sig=REDACTED");
  EXPECT_EQ(RedactSecrets("design=x"), "design=x") << "only a whole key";
  EXPECT_EQ(RedactSecrets("https://a/?next=https%3A%2F%2Fb%2Fc%3Fsig%3Dabc%2B"),
            "https://a/?next=https%3A%2F%2Fb%2Fc%3Fsig%3DREDACTED");
  EXPECT_EQ(RedactSecrets("no secret here"), "no secret here");
  std::string once = RedactSecrets("?sig=abc&sig=def");
  EXPECT_EQ(once, "?sig=REDACTED&sig=REDACTED");
  EXPECT_EQ(RedactSecrets(once), once) << "idempotent";
}

TEST(Times, OneInstantInEachFormatPeopleAndProtocolsRead) {
  const int64_t instant = 1'795'000'057'000'000'000;  // 2026-11-18 11:07:37 UTC, a Wednesday
  EXPECT_EQ(HumanTime(instant), "2026-11-18 11:07:37 UTC");
  EXPECT_EQ(IsoTime(instant), "2026-11-18T11:07:37Z");
  EXPECT_EQ(HttpTime(instant), "Wed, 18 Nov 2026 11:07:37 GMT");
}

}  // namespace
}  // namespace ferry
