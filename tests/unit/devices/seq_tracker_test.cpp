#include <peregrine/devices/seq_tracker.hpp>

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace peregrine::devices {
namespace {

constexpr core::Micros kT0 = 1'763'800'000'000'000;
constexpr core::Micros kSecond = 1'000'000;

// A device sending seq n at ts kT0 + n seconds.
SeqResult send(SeqTracker& t, std::int64_t seq) { return t.observe(seq, kT0 + seq * kSecond, true); }

TEST(SeqTracker, FirstThenInOrder) {
  SeqTracker t;
  EXPECT_FALSE(t.has_seq());
  EXPECT_EQ(send(t, 10).verdict, SeqVerdict::first);
  EXPECT_TRUE(t.has_seq());
  for (int s = 11; s < 200; ++s) EXPECT_EQ(send(t, s).verdict, SeqVerdict::next) << s;
  EXPECT_EQ(t.last_seq(), 199);
}

TEST(SeqTracker, GapCountsMissing) {
  SeqTracker t;
  send(t, 1);
  const auto r = send(t, 5);
  EXPECT_EQ(r.verdict, SeqVerdict::gap);
  EXPECT_EQ(r.missing, 3u);
  EXPECT_EQ(send(t, 6).verdict, SeqVerdict::next);
  const auto big = send(t, 1006);
  EXPECT_EQ(big.verdict, SeqVerdict::gap);
  EXPECT_EQ(big.missing, 999u);
}

TEST(SeqTracker, Qos1RedeliveryIsDuplicate) {
  SeqTracker t;
  for (int s = 0; s <= 20; ++s) send(t, s);
  // The broker redelivers the last few unacknowledged messages, same payload.
  for (int s = 17; s <= 20; ++s) EXPECT_EQ(send(t, s).verdict, SeqVerdict::duplicate) << s;
  EXPECT_EQ(send(t, 21).verdict, SeqVerdict::next);
  EXPECT_EQ(send(t, 21).verdict, SeqVerdict::duplicate);
}

TEST(SeqTracker, DuplicateWithoutTs) {
  SeqTracker t;
  for (int s = 0; s <= 5; ++s) t.observe(s, 0, false);
  EXPECT_EQ(t.observe(3, 0, false).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(t.observe(5, 0, false).verdict, SeqVerdict::duplicate);
}

TEST(SeqTracker, DuplicateAtWindowEdge) {
  SeqTracker t;
  for (int s = 0; s <= 100; ++s) send(t, s);
  EXPECT_EQ(send(t, 100 - 64).verdict, SeqVerdict::duplicate);  // exactly 64 below: in window
  EXPECT_EQ(send(t, 100 - 65).verdict, SeqVerdict::reset);      // beyond it
}

TEST(SeqTracker, LateFillsGapOnce) {
  SeqTracker t;
  send(t, 1);
  EXPECT_EQ(send(t, 5).missing, 3u);
  // Out-of-order delivery: the older ts says it is not a restart.
  EXPECT_EQ(send(t, 3).verdict, SeqVerdict::late);
  EXPECT_EQ(send(t, 3).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(send(t, 2).verdict, SeqVerdict::late);
  EXPECT_EQ(send(t, 4).verdict, SeqVerdict::late);
  EXPECT_EQ(send(t, 1).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(send(t, 6).verdict, SeqVerdict::next);
}

TEST(SeqTracker, ALateSeqFillsACountedGapButNotOneBelowAReset) {
  SeqTracker t;
  send(t, 1);
  EXPECT_EQ(send(t, 4).missing, 2u);
  const SeqResult filled = send(t, 2);
  EXPECT_EQ(filled.verdict, SeqVerdict::late);
  EXPECT_TRUE(filled.fills_gap) << "2 was counted missing when 4 came";
  // Far below: a reset at 100 restarts the window; a seq under it was
  // never counted as a gap, so it fills none.
  for (int s = 200; s <= 210; ++s) t.observe(s, 0, false);
  EXPECT_EQ(t.observe(100, 0, false).verdict, SeqVerdict::reset);
  EXPECT_EQ(t.observe(104, 0, false).verdict, SeqVerdict::gap);
  const SeqResult below = t.observe(98, 0, false);
  EXPECT_EQ(below.verdict, SeqVerdict::late);
  EXPECT_FALSE(below.fills_gap);
  EXPECT_TRUE(t.observe(102, 0, false).fills_gap);
}

TEST(SeqTracker, LateAfterWindowShiftAcrossLargeGap) {
  SeqTracker t;
  send(t, 0);
  EXPECT_EQ(send(t, 64).missing, 63u);  // the old newest (0) is now exactly 64 below
  EXPECT_EQ(send(t, 0).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(send(t, 1).verdict, SeqVerdict::late);
  EXPECT_EQ(send(t, 200).missing, 135u);  // window cleared
  EXPECT_EQ(send(t, 150).verdict, SeqVerdict::late);
}

TEST(SeqTracker, RestartFromZeroWithNewerTsIsReset) {
  SeqTracker t;
  for (int s = 0; s <= 30; ++s) send(t, s);
  // The device rebooted: counter back at 0, its clock later than anything seen.
  const core::Micros later = kT0 + 3600 * kSecond;
  EXPECT_EQ(t.observe(0, later, true).verdict, SeqVerdict::reset);
  EXPECT_EQ(t.last_seq(), 0);
  // Not a flood of duplicates afterwards: the new run counts normally.
  for (int s = 1; s <= 40; ++s) {
    EXPECT_EQ(t.observe(s, later + s * kSecond, true).verdict, SeqVerdict::next) << s;
  }
  // And a redelivery in the new run is still a duplicate.
  EXPECT_EQ(t.observe(40, later + 40 * kSecond, true).verdict, SeqVerdict::duplicate);
}

TEST(SeqTracker, RestartFarBelowIsResetEvenWithoutTs) {
  SeqTracker t;
  for (int s = 1000; s <= 1010; ++s) t.observe(s, 0, false);
  EXPECT_EQ(t.observe(0, 0, false).verdict, SeqVerdict::reset);
  EXPECT_EQ(t.observe(1, 0, false).verdict, SeqVerdict::next);
  EXPECT_EQ(t.observe(0, 0, false).verdict, SeqVerdict::duplicate);
}

TEST(SeqTracker, RestoreTreatsWindowAsSeen) {
  SeqTracker t;
  t.restore(500, 0);
  EXPECT_TRUE(t.has_seq());
  EXPECT_EQ(t.last_seq(), 500);
  // Redeliveries after our own restart: duplicates, whatever their ts.
  EXPECT_EQ(send(t, 499).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(send(t, 500).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(send(t, 501).verdict, SeqVerdict::next);
  EXPECT_EQ(send(t, 10).verdict, SeqVerdict::reset);
}

TEST(SeqTracker, RestoreWithTsDetectsRestart) {
  SeqTracker t;
  t.restore(20, kT0 + 20 * kSecond);
  EXPECT_EQ(send(t, 19).verdict, SeqVerdict::duplicate);
  EXPECT_EQ(t.observe(0, kT0 + 100 * kSecond, true).verdict, SeqVerdict::reset);
}

TEST(SeqTracker, ExtremeValuesDoNotOverflow) {
  SeqTracker t;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  t.observe(kMin, 0, false);
  const auto r = t.observe(kMax, 0, false);
  EXPECT_EQ(r.verdict, SeqVerdict::gap);
  EXPECT_EQ(r.missing, std::numeric_limits<std::uint64_t>::max() - 1);
  EXPECT_EQ(t.observe(kMin, 0, false).verdict, SeqVerdict::reset);
}

}  // namespace
}  // namespace peregrine::devices
