#include "engine_fixture.hpp"

namespace peregrine::rules::testing {
namespace {

constexpr const char* kHeld = R"({"name": "co", "metric": "co", "scope": {"all": true},
  "kind": "threshold", "params": {"op": ">", "value": 50, "for_s": 30}})";

class Threshold : public EngineTest {};

TEST_F(Threshold, OpensImmediatelyWithoutHold) {
  engine_->upsert_rule(rule_from(R"({"name": "co", "metric": "co", "scope": {"all": true},
    "kind": "threshold", "params": {"op": ">=", "value": 50}})", 1));
  auto& d = device("d1");
  feed(d, "co", 49.9);
  EXPECT_TRUE(sink_.got.empty());
  feed(d, "co", 50);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, TransitionKind::open);
  EXPECT_EQ(sink_.got[0].device, "d1");
  EXPECT_EQ(sink_.got[0].value, 50);
  feed(d, "co", 60);
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::update);
  feed(d, "co", 10);
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::resolve);
}

TEST_F(Threshold, HoldMetByTimerWithoutFurtherReadings) {
  engine_->upsert_rule(rule_from(kHeld, 1));
  auto& d = device("d1");
  feed(d, "co", 55);
  EXPECT_EQ(engine_->next_deadline(), clock_.now_us() + 30 * kSec);
  advance(29 * kSec);
  EXPECT_TRUE(sink_.got.empty());
  advance(1 * kSec);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, TransitionKind::open);
  EXPECT_EQ(sink_.got[0].cause, Cause::timer);
  EXPECT_EQ(sink_.got[0].value, 55);
}

TEST_F(Threshold, HoldMetByReadings) {
  engine_->upsert_rule(rule_from(kHeld, 1));
  auto& d = device("d1");
  for (int i = 0; i < 30; ++i) {
    feed(d, "co", 55);
    clock_.advance(kSec);  // no tick: the readings alone must complete the hold
  }
  EXPECT_TRUE(sink_.got.empty());
  feed(d, "co", 56);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].cause, Cause::reading);
  EXPECT_EQ(sink_.got[0].value, 56);
}

TEST_F(Threshold, BreakingReadingResetsTheHold) {
  engine_->upsert_rule(rule_from(kHeld, 1));
  auto& d = device("d1");
  feed(d, "co", 55);
  advance(20 * kSec);
  feed(d, "co", 40);  // breaks the hold
  advance(15 * kSec);  // past the first deadline
  EXPECT_TRUE(sink_.got.empty());
  feed(d, "co", 55);  // a new hold starts now
  advance(29 * kSec);
  EXPECT_TRUE(sink_.got.empty());
  advance(1 * kSec);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
}

TEST_F(Threshold, HysteresisPreventsFlapping) {
  engine_->upsert_rule(rule_from(R"({"name": "co", "metric": "co", "scope": {"all": true},
    "kind": "threshold", "params": {"op": ">", "value": 50, "clear": 45}})", 1));
  auto& d = device("d1");
  for (int i = 0; i < 20; ++i) {
    feed(d, "co", i % 2 ? 51 : 49);  // oscillates around the threshold
    clock_.advance(kSec);
  }
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 0u);
  feed(d, "co", 45);  // at the clear level: still open
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 0u);
  feed(d, "co", 44.9);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 1u);
}

TEST_F(Threshold, WithoutHysteresisItFlaps) {
  engine_->upsert_rule(rule_from(R"({"name": "co", "metric": "co", "scope": {"all": true},
    "kind": "threshold", "params": {"op": ">", "value": 50}})", 1));
  auto& d = device("d1");
  for (int i = 0; i < 10; ++i) feed(d, "co", i % 2 ? 51 : 49);
  EXPECT_EQ(sink_.count(TransitionKind::open), 5u);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 4u);
}

TEST_F(Threshold, BelowOperators) {
  engine_->upsert_rule(rule_from(R"({"name": "o2", "metric": "o2", "scope": {"all": true},
    "kind": "threshold", "params": {"op": "<", "value": 19.5, "clear": 20}})", 1));
  auto& d = device("d1");
  feed(d, "o2", 19.4);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  feed(d, "o2", 19.9);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 0u);
  feed(d, "o2", 20.1);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 1u);
}

}  // namespace
}  // namespace peregrine::rules::testing
