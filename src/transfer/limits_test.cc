#include "transfer/limits.h"

#include <gtest/gtest.h>

namespace ferry::transfer {
namespace {

constexpr double kMiB = 1 << 20;

TEST(ParseRate, BytesAndBitsInDecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseRate("50MiB/s"), 50 * kMiB);
  EXPECT_EQ(*ParseRate("1.5GB/s"), 1.5e9);
  EXPECT_EQ(*ParseRate("400Mbit/s"), 50e6);
  EXPECT_EQ(*ParseRate("800 kbit/s"), 100e3);
  EXPECT_EQ(*ParseRate("512KiB/s"), 512 * 1024.0);
  EXPECT_EQ(*ParseRate("100B/s"), 100);
  EXPECT_EQ(*ParseRate("20mib/s"), 20 * kMiB) << "units in any case";
  EXPECT_EQ(*ParseRate("0"), 0);
  EXPECT_NE(ParseRate("1000000000GB/s").status().message().find("more than any link"),
            std::string::npos);
  for (const char* bad : {"", "fast", "50", "50MiB", "50MiB/h", "-5MiB/s", "1e3MB/s", "MiB/s",
                          "5..0MB/s", "9999999999PB/s", "1e400", "nan"}) {
    auto r = ParseRate(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("50MiB/s"), std::string::npos) << bad;
    }
  }
}

TEST(ParseSize, DecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseSize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseSize("2 GiB"), 2ull << 30);
  EXPECT_EQ(*ParseSize("300mb"), 300'000'000ull);
  EXPECT_EQ(*ParseSize("1.5KiB"), 1536ull);
  EXPECT_EQ(*ParseSize("4096B"), 4096ull);
  for (const char* bad : {"", "512", "lots", "-1MiB", "5MiB/s", "1e3MB", "99999999TiB"}) {
    auto r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("512MiB"), std::string::npos) << bad;
    }
  }
}

TEST(ParseOpsRate, CountPerSecond) {
  EXPECT_EQ(*ParseOpsRate("200/s"), 200);
  EXPECT_EQ(*ParseOpsRate("2.5"), 2.5);
  for (const char* bad : {"", "/s", "200/m", "-1/s", "lots"}) EXPECT_FALSE(ParseOpsRate(bad).ok());
}

int At(int day, int hour, int minute = 0) { return day * 1440 + hour * 60 + minute; }

TEST(Schedule, FirstMatchingRuleWinsAndTheRestIsUnlimited) {
  auto s = Schedule::Parse("Mon-Fri 08:00-18:00 20MiB/s; Sat-Sun off; * 200MiB/s");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->LimitAt(At(0, 8)), 20 * kMiB) << "Monday 08:00, start included";
  EXPECT_EQ(s->LimitAt(At(4, 17, 59)), 20 * kMiB);
  EXPECT_EQ(s->LimitAt(At(4, 18)), 200 * kMiB) << "end excluded";
  EXPECT_EQ(s->LimitAt(At(2, 3)), 200 * kMiB);
  EXPECT_EQ(s->LimitAt(At(5, 12)), 0.0) << "Saturday paused";
  EXPECT_EQ(s->LimitAt(At(6, 23, 59)), 0.0);

  auto partial = Schedule::Parse("Mon 09:00-10:00 1MB/s;");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->LimitAt(At(0, 9, 30)), 1e6);
  EXPECT_EQ(partial->LimitAt(At(1, 9, 30)), std::nullopt) << "no rule: unlimited";
}

TEST(Schedule, RangesWrapPastMidnightAndTheWeekend) {
  auto s = Schedule::Parse("Fri 22:00-06:00 5MiB/s; Sat,Mon-Tue 24MB/s; Sun unlimited; * off");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->LimitAt(At(4, 23)), 5 * kMiB) << "Friday night";
  EXPECT_EQ(s->LimitAt(At(5, 5, 59)), 5 * kMiB) << "into Saturday morning";
  EXPECT_EQ(s->LimitAt(At(5, 6)), 24e6) << "then Saturday's own rule";
  EXPECT_EQ(s->LimitAt(At(4, 21)), 0.0) << "Friday before 22:00: the catch-all";
  EXPECT_EQ(s->LimitAt(At(6, 12)), std::nullopt) << "Sunday unlimited";
  EXPECT_EQ(s->LimitAt(At(1, 12)), 24e6);
  EXPECT_EQ(s->LimitAt(-1), s->LimitAt(At(6, 23, 59))) << "minutes wrap around the week";
  auto sunday_to_monday = Schedule::Parse("Sun-Mon 1MB/s");
  ASSERT_TRUE(sunday_to_monday.ok());
  EXPECT_EQ(sunday_to_monday->LimitAt(At(0, 1)), 1e6);
  EXPECT_EQ(sunday_to_monday->LimitAt(At(3, 1)), std::nullopt);
}

TEST(Schedule, BadSpecsSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"Mon-Fri 08:00-18:00", "not a rate"},
      {"Mon-Fro 1MB/s", "not a day"},
      {"Mon 8:00-18:00 1MB/s", "not a time range"},
      {"Mon 08:00-25:00 1MB/s", "not a time range"},
      {"Mon 08:00-08:00 1MB/s", "not a time range"},
      {"Mon 08:60-09:00 1MB/s", "not a time range"},
      {"* 08:00-09:00 1MB/s", "'*' takes a limit only"},
      {"Mon 1MB/s; ; Tue off", "empty"},
      {"Mon 08:00 - 09:00 1MB/s", "DAYS"},
      {"Mon fast", "not a rate"},
  };
  for (const auto& [spec, why] : cases) {
    auto s = Schedule::Parse(spec);
    ASSERT_FALSE(s.ok()) << spec;
    EXPECT_NE(s.status().message().find(why), std::string::npos)
        << spec << ": " << s.status().message();
  }
}

}  // namespace
}  // namespace ferry::transfer
