#include <peregrine/core/time_format.hpp>

#include <string>

#include <gtest/gtest.h>

namespace peregrine::core {
namespace {

// 2026-11-22T08:00:00Z
constexpr Micros kT = 1'795'334'400'000'000;

TEST(FormatRfc3339, Milliseconds) {
  EXPECT_EQ(format_rfc3339(kT + 123'000), "2026-11-22T08:00:00.123Z");
  EXPECT_EQ(format_rfc3339(kT), "2026-11-22T08:00:00.000Z");
}

TEST(FormatRfc3339, MicrosecondsOnlyWhenPresent) {
  EXPECT_EQ(format_rfc3339(kT + 123'456), "2026-11-22T08:00:00.123456Z");
  EXPECT_EQ(format_rfc3339(kT + 1), "2026-11-22T08:00:00.000001Z");
}

TEST(FormatRfc3339, EpochAndLeapDayAndNegative) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(951'782'400'000'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339(-1000), "1969-12-31T23:59:59.999Z");
}

TEST(FormatRfc3339, AppendKeepsPrefix) {
  std::string s = "ts=";
  append_rfc3339(s, kT);
  EXPECT_EQ(s, "ts=2026-11-22T08:00:00.000Z");
}

TEST(ParseRfc3339, Basic) {
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00Z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22t08:00:00z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22 08:00:00Z"), kT);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseRfc3339, Fraction) {
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00.1Z"), kT + 100'000);
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00.123Z"), kT + 123'000);
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00.123456Z"), kT + 123'456);
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00.123456789Z"), kT + 123'456);
}

TEST(ParseRfc3339, Offsets) {
  EXPECT_EQ(parse_rfc3339("2026-11-22T09:30:00+01:30"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T03:00:00-05:00"), kT);
  EXPECT_EQ(parse_rfc3339("2026-11-22T08:00:00+00:00"), kT);
}

TEST(ParseRfc3339, RoundTrip) {
  for (Micros t : {Micros{0}, kT, kT + 1, kT + 999'999, Micros{951'782'400'000'000}, Micros{-5}}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
  }
}

TEST(ParseRfc3339, RejectsMalformed) {
  for (const char* s : {"", "2026", "2026-11-22", "2026-11-22T08:00:00", "2026-11-22T08:00Z",
                        "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
                        "2026-04-31T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T08:60:00Z",
                        "2026-11-22T08:00:61Z", "2026-11-22T08:00:00.Z", "2026-11-22T08:00:00+1:00",
                        "2026-11-22T08:00:00+24:00", "2026-11-22T08:00:00+01:60",
                        "2026-11-22T08:00:00Zx", "2026-11-22X08:00:00Z", "2026/11/22T08:00:00Z",
                        "2026-11-22T08:00:00+0100", "-026-11-22T08:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << s;
  }
}

TEST(ParseRfc3339, LeapYearFebruary29) {
  EXPECT_EQ(parse_rfc3339("2000-02-29T00:00:00Z"), 951'782'400'000'000);
  EXPECT_FALSE(parse_rfc3339("1900-02-29T00:00:00Z").has_value());
}

}  // namespace
}  // namespace peregrine::core
