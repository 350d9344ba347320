// The OEE arithmetic against hand computations: planned time from a shift
// with a break, run time from state samples, counts from counters that
// reset, shifts across midnight and across both DST changes, days of 23 and
// 25 hours, and a line computed from its machines' totals, not averaged.
#include <peregrine/analytics/oee.hpp>

#include <gtest/gtest.h>

#include <peregrine/core/time_format.hpp>

namespace peregrine::analytics {
namespace {

core::Micros utc(const char* rfc3339) { return *core::parse_rfc3339(rfc3339); }
constexpr core::Micros kMin = 60'000'000;

Shift day_shift() {
  Shift s;
  s.id = 1;
  s.name = "Early";
  s.start_min = 6 * 60;
  s.end_min = 14 * 60;
  s.weekdays = 0b0111110;  // Monday to Friday
  s.tz = "Europe/Berlin";
  s.breaks = {{10 * 60, 10 * 60 + 15}};
  return s;
}

TEST(Oee, Clocks) {
  EXPECT_EQ(parse_clock("06:00"), 360);
  EXPECT_EQ(parse_clock("23:59"), 23 * 60 + 59);
  EXPECT_EQ(parse_clock("24:00"), 24 * 60);
  for (const char* bad : {"", "6:00", "06:60", "24:01", "25:00", "06-00", "0a:00"}) EXPECT_FALSE(parse_clock(bad)) << bad;
  EXPECT_EQ(format_clock(22 * 60 + 5), "22:05");
  EXPECT_TRUE(valid_time_zone("Europe/Berlin"));
  EXPECT_TRUE(valid_time_zone("UTC"));
  EXPECT_FALSE(valid_time_zone("Mars/Olympus_Mons"));
  EXPECT_THROW(day_periods("Mars/Olympus_Mons", 0, kMin), std::invalid_argument);
}

TEST(Oee, OneShiftByHand) {
  // Monday 2 March 2026, Berlin is UTC+1: the shift is 05:00–13:00 UTC, its break 09:00–09:15.
  const auto periods = shift_periods({day_shift()}, utc("2026-03-02T00:00:00Z"), utc("2026-03-03T00:00:00Z"));
  ASSERT_EQ(periods.size(), 1u);
  EXPECT_EQ(periods[0].label, "2026-03-02 Early");
  EXPECT_EQ(periods[0].span.from, utc("2026-03-02T05:00:00Z"));
  EXPECT_EQ(periods[0].span.to, utc("2026-03-02T13:00:00Z"));
  EXPECT_EQ(periods[0].planned(), (8 * 60 - 15) * kMin);

  MachineData m;
  m.state = {{utc("2026-03-02T04:30:00Z"), 0}, {utc("2026-03-02T05:00:00Z"), 1}, {utc("2026-03-02T08:00:00Z"), 0},
             {utc("2026-03-02T08:30:00Z"), 1}, {utc("2026-03-02T12:00:00Z"), 0}};
  // 100 before the shift is the base; +150; a reset to 30 counts 30; +500; 600 is after the shift.
  m.total = {{utc("2026-03-02T04:00:00Z"), 100}, {utc("2026-03-02T06:00:00Z"), 250}, {utc("2026-03-02T07:00:00Z"), 30},
             {utc("2026-03-02T11:00:00Z"), 530}, {utc("2026-03-02T13:30:00Z"), 600}};
  m.good = {{utc("2026-03-02T04:00:00Z"), 90}, {utc("2026-03-02T11:00:00Z"), 700}};
  m.ideal_rate_per_hour = 120;  // 30 s a unit
  m.until = utc("2026-03-03T00:00:00Z");
  const auto t = machine_totals(m, periods);
  ASSERT_EQ(t.size(), 1u);
  // Ran 05:00–08:00 and 08:30–12:00 less the break: 180 + 210 − 15 = 375 min.
  EXPECT_EQ(t[0].run, 375 * kMin);
  EXPECT_EQ(t[0].planned, 465 * kMin);
  EXPECT_DOUBLE_EQ(t[0].total, 680);
  EXPECT_DOUBLE_EQ(t[0].good, 610);
  EXPECT_DOUBLE_EQ(t[0].ideal_s, 680 * 30.0);
  const Factors f = factors(t[0]);
  EXPECT_DOUBLE_EQ(*f.availability, 375.0 / 465.0);
  EXPECT_DOUBLE_EQ(*f.performance, 680 * 30.0 / (375 * 60.0));
  EXPECT_DOUBLE_EQ(*f.quality, 610.0 / 680.0);
  EXPECT_NEAR(*f.oee, (375.0 / 465.0) * (680 * 30.0 / (375 * 60.0)) * (610.0 / 680.0), 1e-12);
  // = good units at the ideal rate over the planned time.
  EXPECT_NEAR(*f.oee, 610 * 30.0 / (465 * 60.0), 1e-12);

  // Without a newer sample a running state holds; with max_gap it stops.
  m.state = {{utc("2026-03-02T05:00:00Z"), 1}};
  EXPECT_EQ(machine_totals(m, periods)[0].run, 465 * kMin);
  m.max_gap = 60 * kMin;
  EXPECT_EQ(machine_totals(m, periods)[0].run, 60 * kMin);
}

TEST(Oee, NightShiftsAcrossMidnightAndBothDstChanges) {
  Shift night;
  night.id = 2;
  night.name = "Night";
  night.start_min = 22 * 60;
  night.end_min = 6 * 60;
  night.weekdays = 1u << 6;  // starts on Saturday
  night.tz = "Europe/Berlin";
  night.breaks = {{3 * 60, 3 * 60 + 30}};  // after midnight: on the next day
  // 28→29 March 2026: the clocks go from 02:00 to 03:00. 22:00 CET = 21:00 UTC, 06:00 CEST = 04:00 UTC.
  auto p = shift_periods({night}, utc("2026-03-28T00:00:00Z"), utc("2026-03-30T00:00:00Z"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].label, "2026-03-28 Night");
  EXPECT_EQ(p[0].span.from, utc("2026-03-28T21:00:00Z"));
  EXPECT_EQ(p[0].span.to, utc("2026-03-29T04:00:00Z"));
  ASSERT_EQ(p[0].breaks.size(), 1u);
  EXPECT_EQ(p[0].breaks[0].from, utc("2026-03-29T01:00:00Z"));  // 03:00 CEST
  EXPECT_EQ(p[0].planned(), (7 * 60 - 30) * kMin);
  // 24→25 October 2026: 03:00 goes back to 02:00. 22:00 CEST = 20:00 UTC, 06:00 CET = 05:00 UTC: 9 hours.
  p = shift_periods({night}, utc("2026-10-24T00:00:00Z"), utc("2026-10-26T00:00:00Z"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].span.to - p[0].span.from, 9 * 60 * kMin);
  // A shift that began before the range is clipped to it.
  p = shift_periods({night}, utc("2026-03-29T00:00:00Z"), utc("2026-03-29T02:00:00Z"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].span.from, utc("2026-03-29T00:00:00Z"));
  EXPECT_EQ(p[0].planned(), 90 * kMin);  // 00:00–02:00 UTC less the 01:00–01:30 break
}

TEST(Oee, DaysInTheirZone) {
  const auto days = day_periods("Europe/Berlin", utc("2026-03-28T23:00:00Z"), utc("2026-03-30T22:00:00Z"));
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0].label, "2026-03-29");
  EXPECT_EQ(days[0].span.to - days[0].span.from, 23 * 60 * kMin);
  EXPECT_EQ(days[1].label, "2026-03-30");
  EXPECT_EQ(days[1].span.to - days[1].span.from, 24 * 60 * kMin);
  const auto autumn = day_periods("Europe/Berlin", utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"));
  ASSERT_EQ(autumn.size(), 1u);
  EXPECT_EQ(autumn[0].span.to - autumn[0].span.from, 25 * 60 * kMin);
}

TEST(Oee, OverlappingShiftsPlanTheirTimeOnce) {
  // Early 06:00–14:00 (break 10:00–10:15) and a late shift 12:00–20:00 with
  // a break 13:00–13:30 that Early covers: planned 06:00–20:00 less 10:00–10:15.
  Shift late = day_shift();
  late.id = 2;
  late.name = "Late";
  late.start_min = 12 * 60;
  late.end_min = 20 * 60;
  late.breaks = {{13 * 60, 13 * 60 + 30}};
  const auto periods = shift_periods({day_shift(), late}, utc("2026-03-02T00:00:00Z"), utc("2026-03-03T00:00:00Z"));
  ASSERT_EQ(periods.size(), 2u);
  EXPECT_EQ(periods[0].planned() + periods[1].planned(), (8 * 60 - 15 + 8 * 60 - 30) * kMin) << "each on its own";
  const auto once = planned_union(periods);
  ASSERT_EQ(once.size(), 2u);
  EXPECT_EQ(once[0].span.from, utc("2026-03-02T05:00:00Z"));  // 06:00 in Berlin (CET)
  EXPECT_EQ(once[0].span.to, utc("2026-03-02T09:00:00Z"));
  EXPECT_EQ(once[1].span.from, utc("2026-03-02T09:15:00Z"));
  EXPECT_EQ(once[1].span.to, utc("2026-03-02T19:00:00Z"));
  EXPECT_TRUE(once[0].breaks.empty());
  EXPECT_EQ(once[0].planned() + once[1].planned(), (14 * 60 - 15) * kMin);
  EXPECT_TRUE(planned_union({}).empty());
}

TEST(Oee, CountersNeverGoNegative) {
  const std::vector<Sample> c = {{10, 5}, {20, 8}, {30, 2}, {40, 2}, {50, 0}, {60, 4}};
  EXPECT_DOUBLE_EQ(counter_increase(c, 0, 100), 3 + 2 + 0 + 0 + 4);
  EXPECT_DOUBLE_EQ(counter_increase(c, 25, 45), 2) << "samples before the range are only its base";
  EXPECT_DOUBLE_EQ(counter_increase({}, 0, 100), 0);
}

TEST(Oee, ALineIsItsMachinesTotalsNotTheirAverage) {
  Totals a{.planned = 480 * kMin, .run = 480 * kMin, .ideal_s = 480 * 60.0, .total = 960, .good = 960};
  Totals b{.planned = 480 * kMin, .run = 60 * kMin, .ideal_s = 30 * 60.0, .total = 10, .good = 5};
  Totals line = a;
  line += b;
  const Factors f = factors(line);
  EXPECT_DOUBLE_EQ(*f.availability, 540.0 / 960.0);
  EXPECT_DOUBLE_EQ(*f.performance, (480 + 30) / 540.0);
  EXPECT_DOUBLE_EQ(*f.quality, 965.0 / 970.0);
  const double averaged = (*factors(a).quality + *factors(b).quality) / 2;
  EXPECT_NE(*f.quality, averaged);
  EXPECT_FALSE(factors(Totals{}).oee) << "no planned time: no OEE, not zero";
}

}  // namespace
}  // namespace peregrine::analytics
