#include "engine_fixture.hpp"

namespace peregrine::rules::testing {
namespace {

class Kinds : public EngineTest {};

TEST_F(Kinds, RateRiseWithinWindow) {
  engine_->upsert_rule(rule_from(R"({"name": "co rise", "metric": "co", "scope": {"all": true},
    "kind": "rate", "params": {"rise": 20, "window_s": 60}})", 1));
  auto& d = device("d1");
  feed(d, "co", 10);
  clock_.advance(30 * kSec);
  feed(d, "co", 25);
  EXPECT_TRUE(sink_.got.empty());
  clock_.advance(20 * kSec);
  feed(d, "co", 30);  // 30 − 10 within 50 s
  ASSERT_EQ(sink_.count(TransitionKind::open), 1u);
  EXPECT_EQ(sink_.got.back().value, 30);
  clock_.advance(45 * kSec);  // 10 (t=0) and 25 (t=30) left the window
  feed(d, "co", 31);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 1u);
}

TEST_F(Kinds, RateRiseSlowerThanWindowDoesNotFire) {
  engine_->upsert_rule(rule_from(R"({"name": "co rise", "metric": "co", "scope": {"all": true},
    "kind": "rate", "params": {"rise": 20, "window_s": 60}})", 1));
  auto& d = device("d1");
  for (int i = 0; i <= 40; ++i) {
    feed(d, "co", 10 + i);  // +1 per 10 s: +6 per minute
    clock_.advance(10 * kSec);
  }
  EXPECT_TRUE(sink_.got.empty());
}

TEST_F(Kinds, RateFall) {
  engine_->upsert_rule(rule_from(R"({"name": "p drop", "metric": "pressure", "scope": {"all": true},
    "kind": "rate", "params": {"fall": 2, "window_s": 10}})", 1));
  auto& d = device("d1");
  feed(d, "pressure", 6.0);
  clock_.advance(5 * kSec);
  feed(d, "pressure", 3.5);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  clock_.advance(11 * kSec);
  feed(d, "pressure", 3.4);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 1u);
}

TEST_F(Kinds, AbsenceFiresOnTimeAndResolvesOnNextReading) {
  engine_->upsert_rule(rule_from(R"({"name": "silent", "metric": "co", "scope": {"all": true},
    "kind": "absence", "params": {"timeout_s": 120}})", 1));
  auto& d = device("d1");
  feed(d, "co", 3);
  advance(60 * kSec);
  feed(d, "co", 4);  // re-arms: silence is measured from here
  advance(119 * kSec);
  EXPECT_TRUE(sink_.got.empty());
  advance(1 * kSec);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, TransitionKind::open);
  EXPECT_EQ(sink_.got[0].cause, Cause::timer);
  EXPECT_EQ(sink_.got[0].value, 4);
  advance(600 * kSec);  // stays one alert while silent
  EXPECT_EQ(sink_.got.size(), 1u);
  feed(d, "co", 5);
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::resolve);
  advance(120 * kSec);
  EXPECT_EQ(sink_.count(TransitionKind::open), 2u);
}

TEST_F(Kinds, AnomalyFiresOnSpikeAfterWarmupOnly) {
  engine_->upsert_rule(rule_from(R"({"name": "z", "metric": "t", "scope": {"all": true},
    "kind": "anomaly", "params": {"z": 4, "warmup": 20, "alpha": 0.1}})", 1));
  auto& d = device("d1");
  feed(d, "t", 20);
  feed(d, "t", 21);
  feed(d, "t", 100);  // a spike during warmup is learnt, not alerted
  EXPECT_TRUE(sink_.got.empty());
  for (int i = 0; i < 200; ++i) feed(d, "t", 20 + (i % 3) * 0.5);
  EXPECT_TRUE(sink_.got.empty());
  feed(d, "t", 35);
  ASSERT_EQ(sink_.count(TransitionKind::open), 1u);
  feed(d, "t", 36);  // still anomalous: the baseline did not absorb the spike
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::update);
  feed(d, "t", 20.5);
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::resolve);
}

TEST(Evaluators, AnomalyZAgainstBaseline) {
  AnomalyParams p{3, 5, 0.2};
  SeriesState s;
  for (double v : {10.0, 11.0, 9.0, 10.0, 11.0, 9.0}) eval_anomaly(p, s, v, 0);
  EXPECT_EQ(s.samples, 5u);
  EXPECT_NEAR(s.mean, 10, 1);
  EXPECT_LT(std::fabs(anomaly_z(s, 10.5)), 3);
  EXPECT_GT(anomaly_z(s, 20), 3);
}

TEST(Evaluators, RateWindowGrowsAndEvicts) {
  RateWindow w;
  for (int i = 0; i < 100; ++i) w.push(i, i);
  EXPECT_EQ(w.size(), 100u);
  EXPECT_EQ(w.min(), 0);
  w.evict_before(90);
  EXPECT_EQ(w.size(), 10u);
  EXPECT_EQ(w.min(), 90);
  EXPECT_EQ(w.max(), 99);
}

}  // namespace
}  // namespace peregrine::rules::testing
