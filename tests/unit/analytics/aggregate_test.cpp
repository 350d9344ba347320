// The bucket arithmetic of aggregates: durations, automatic buckets, UTC
// alignment, exact merging of partials, and the read plan: its segments
// never overlap and together are exactly the raw rows of the range, for
// random ranges, buckets and watermarks.
#include <peregrine/analytics/aggregate.hpp>

#include <random>

#include <gtest/gtest.h>

namespace peregrine::analytics {
namespace {

TEST(Aggregate, DurationsAndFunctions) {
  EXPECT_EQ(parse_duration("10s"), 10 * kSecond);
  EXPECT_EQ(parse_duration("5m"), 5 * kMinute);
  EXPECT_EQ(parse_duration("1h"), kHour);
  EXPECT_EQ(parse_duration("7d"), 7 * kDay);
  EXPECT_EQ(parse_duration("250ms"), 250'000);
  for (const char* bad : {"", "m", "0s", "-1m", "1w", "1.5h", "10 s"}) EXPECT_FALSE(parse_duration(bad)) << bad;
  EXPECT_EQ(parse_fns("avg,min,avg"), (std::vector<Fn>{Fn::avg, Fn::min}));
  EXPECT_FALSE(parse_fns("avg,median"));
  EXPECT_FALSE(parse_fns(""));
}

TEST(Aggregate, AutoBucketGivesAtMostThePointsAsked) {
  EXPECT_EQ(auto_bucket(30 * kDay, 1000), kHour);
  EXPECT_EQ(auto_bucket(kHour, 500), 10 * kSecond);
  EXPECT_EQ(auto_bucket(kMinute, 1000), kSecond);
  for (core::Micros span : {kMinute, kHour, kDay, 30 * kDay, 365 * kDay})
    EXPECT_LE(span / auto_bucket(span, 500), 500) << span;
}

TEST(Aggregate, AlignmentIsToUtcMultiples) {
  EXPECT_EQ(floor_to(kHour + 5, kHour), kHour);
  EXPECT_EQ(ceil_to(kHour + 5, kHour), 2 * kHour);
  EXPECT_EQ(ceil_to(kHour, kHour), kHour);
  EXPECT_EQ(floor_to(-5, kMinute), -kMinute);
}

TEST(Aggregate, PartialsMergeInAnyOrder) {
  Partial a{2, 3, 1, 2, 1, 2, 10, 20}, b{1, 5, 5, 5, 5, 5, 5, 5}, c{1, -1, -1, -1, -1, -1, 30, 30};
  Partial x = a, y = c;
  x.merge(b);
  x.merge(c);
  y.merge(a);
  y.merge(b);
  for (const Partial& p : {x, y}) {
    EXPECT_EQ(p.count, 4);
    EXPECT_EQ(p.sum, 7);
    EXPECT_EQ(p.min, -1);
    EXPECT_EQ(p.max, 5);
    EXPECT_EQ(p.first, 5);
    EXPECT_EQ(p.first_ts, 5);
    EXPECT_EQ(p.last, -1);
    EXPECT_EQ(p.last_ts, 30);
  }
}

// Which segment would hold a row at ts (raw) or inside a rollup bucket.
int holders(const std::vector<Segment>& plan, core::Micros ts, core::Micros watermark) {
  int n = 0;
  for (const Segment& s : plan) {
    if (s.source == Source::raw) {
      n += ts >= s.from && ts < s.to;
    } else {
      // A rollup bucket holds the rows below the watermark.
      const core::Micros size = s.source == Source::rollup_1m ? kMinute : kHour;
      const core::Micros b = floor_to(ts, size);
      n += ts < watermark && b >= s.from && b < s.to;
    }
  }
  return n;
}

TEST(Aggregate, ThePlanReadsEveryRawRowOfTheRangeExactlyOnce) {
  std::mt19937_64 rng(7);
  const core::Micros base = 1'764'000'000'000'000;
  std::uniform_int_distribution<core::Micros> t(base, base + 3 * kDay);
  const std::vector<core::Micros> buckets = {10 * kSecond, kMinute, 5 * kMinute, kHour, 2 * kHour, kDay};
  for (int i = 0; i < 2000; ++i) {
    core::Micros from = t(rng), to = t(rng), w = t(rng);
    if (from > to) std::swap(from, to);
    if (i % 3 == 0) from = floor_to(from, kHour);  // aligned edges too
    const core::Micros bucket = buckets[static_cast<std::size_t>(i) % buckets.size()];
    const auto p = plan(from, to, bucket, w);
    for (const Segment& s : p) {
      if (s.source == Source::raw) continue;
      const core::Micros size = s.source == Source::rollup_1m ? kMinute : kHour;
      EXPECT_EQ(bucket % size, 0) << "a rollup bucket must not straddle output buckets";
      EXPECT_EQ(s.from % size, 0);
      EXPECT_EQ(s.to % size, 0);
    }
    std::uniform_int_distribution<core::Micros> probe(from - kHour, to + kHour);
    for (int k = 0; k < 50; ++k) {
      const core::Micros ts = k == 0 ? from : k == 1 ? to - 1 : k == 2 ? w : probe(rng);
      EXPECT_EQ(holders(p, ts, w), ts >= from && ts < to ? 1 : 0)
          << "ts " << ts << " from " << from << " to " << to << " bucket " << bucket << " watermark " << w;
    }
  }
}

}  // namespace
}  // namespace peregrine::analytics

#include <peregrine/analytics/svg_chart.hpp>
#include <peregrine/core/time_format.hpp>

namespace peregrine::analytics {
namespace {

TEST(SvgChart, NamedZonesFollowDst) {
  const auto berlin = Zone::parse("Europe/Berlin");
  ASSERT_TRUE(berlin);
  EXPECT_FALSE(Zone::parse("Mars/Olympus_Mons"));
  const core::Micros t0 = *core::parse_rfc3339("2026-03-29T00:30:00Z");  // 01:30 CET
  EXPECT_EQ(berlin->to_local(t0) - t0, kHour);
  EXPECT_EQ(berlin->to_local(t0 + kHour) - (t0 + kHour), 2 * kHour) << "03:30 CEST";
  // 02:30 local does not exist that night: it maps to the change, 01:00 UTC.
  const core::Micros local_0230 = *core::parse_rfc3339("2026-03-29T02:30:00Z");
  EXPECT_EQ(berlin->to_utc(local_0230), *core::parse_rfc3339("2026-03-29T01:00:00Z"));
  EXPECT_EQ(Zone::parse("+02:00")->to_local(0), 2 * kHour);

  // Ticks at round local hours: 03:00, 06:00, … in Berlin; 00:00, 03:00, … in UTC.
  ChartSpec s;
  s.from = *core::parse_rfc3339("2026-03-29T00:00:00Z");
  s.to = *core::parse_rfc3339("2026-03-29T12:00:00Z");
  s.bucket = kMinute;
  s.series.push_back({"co", {{s.from, 1, 1, 1}}});
  const std::string utc = render_svg(s);
  s.zone = *berlin;
  const std::string local = render_svg(s);
  EXPECT_NE(utc.find(">00:00<"), std::string::npos);
  EXPECT_EQ(local.find(">00:00<"), std::string::npos);
  EXPECT_NE(local.find(">03:00<"), std::string::npos);
  EXPECT_NE(local.find(">12:00<"), std::string::npos) << "12:00 CEST is 10:00 UTC, inside the range";
  EXPECT_EQ(local.find(">02:00<"), std::string::npos) << "a time the clocks skip is no tick";
}

TEST(SvgChart, OffsetsAndAnEmptyRangeSayWhatTheyAre) {
  EXPECT_EQ(parse_utc_offset("UTC"), 0);
  EXPECT_EQ(parse_utc_offset("+02:00"), 120);
  EXPECT_EQ(parse_utc_offset("-0530"), -330);
  EXPECT_FALSE(parse_utc_offset("Europe/Berlin"));
  EXPECT_FALSE(parse_utc_offset("+25:00"));
  ChartSpec s;
  s.from = 0;
  s.to = kHour;
  s.bucket = kMinute;
  s.title = "a <b>";
  s.series.push_back({"co", {}});
  const std::string svg = render_svg(s);
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(svg.find("no data in this range"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace peregrine::analytics
