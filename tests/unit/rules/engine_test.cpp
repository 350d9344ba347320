#include "engine_fixture.hpp"

namespace peregrine::rules::testing {
namespace {

std::string threshold(const std::string& scope, double value = 50, const std::string& metric = "co") {
  return R"({"name": "r", "metric": ")" + metric + R"(", "scope": )" + scope +
         R"(, "kind": "threshold", "params": {"op": ">", "value": )" + std::to_string(value) + "}}";
}

class EngineScopes : public EngineTest {};

TEST_F(EngineScopes, DeviceGroupAllAndTenant) {
  engine_->upsert_rule(rule_from(threshold(R"({"device": "d1"})"), 1));
  engine_->upsert_rule(rule_from(threshold(R"({"group": 7})"), 2));
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})"), 3));
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})", 50, "temperature"), 4));
  auto& d1 = device("d1", {7});
  auto& d2 = device("d2", {7, 8});
  auto& d3 = device("d3");
  auto& other = device("d4", {7}, 2);  // another tenant: group ids do not cross tenants

  auto rules_hit = [&](devices::Device& d) {
    sink_.got.clear();
    feed(d, "co", 60);
    std::vector<RuleId> ids;
    for (const auto& r : sink_.got) ids.push_back(r.rule);
    std::sort(ids.begin(), ids.end());
    feed(d, "co", 0);  // resolve for the next round
    return ids;
  };
  EXPECT_EQ(rules_hit(d1), (std::vector<RuleId>{1, 2, 3}));
  EXPECT_EQ(rules_hit(d2), (std::vector<RuleId>{2, 3}));
  EXPECT_EQ(rules_hit(d3), (std::vector<RuleId>{3}));
  EXPECT_TRUE(rules_hit(other).empty());
}

TEST_F(EngineScopes, LiveUpdateAndRemove) {
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})", 50), 1));
  auto& d = device("d1");
  feed(d, "co", 40);
  EXPECT_TRUE(sink_.got.empty());

  engine_->upsert_rule(rule_from(threshold(R"({"all": true})", 30), 1));  // params change
  feed(d, "co", 40);
  ASSERT_EQ(sink_.count(TransitionKind::open), 1u);

  // Moving the rule to another metric resolves what it had open.
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})", 30, "temperature"), 1));
  ASSERT_EQ(sink_.got.back().kind, TransitionKind::resolve);
  EXPECT_EQ(sink_.got.back().cause, Cause::rule_changed);
  feed(d, "co", 40);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  feed(d, "temperature", 40);
  EXPECT_EQ(sink_.count(TransitionKind::open), 2u);

  EXPECT_TRUE(engine_->remove_rule(1));
  EXPECT_EQ(sink_.got.back().kind, TransitionKind::resolve);
  std::size_t n = sink_.got.size();
  feed(d, "temperature", 99);
  EXPECT_EQ(sink_.got.size(), n);
  EXPECT_FALSE(engine_->remove_rule(1));
  EXPECT_EQ(engine_->rule_count(), 0u);
}

TEST_F(EngineScopes, DisabledRuleDoesNotEvaluate) {
  auto r = rule_from(threshold(R"({"all": true})"), 1);
  r.enabled = false;
  engine_->upsert_rule(r);
  auto& d = device("d1");
  feed(d, "co", 99);
  EXPECT_TRUE(sink_.got.empty());
  r.enabled = true;
  engine_->upsert_rule(r);
  feed(d, "co", 99);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
}

TEST_F(EngineScopes, GroupChangeNeedsInvalidate) {
  engine_->upsert_rule(rule_from(threshold(R"({"group": 5})"), 1));
  auto& d = device("d1");
  feed(d, "co", 99);
  EXPECT_TRUE(sink_.got.empty());
  d.rec.group_ids.push_back(5);
  engine_->invalidate_scopes();
  feed(d, "co", 99);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
}

TEST_F(EngineScopes, RescopeBindsAJoinerAndResolvesALeaversOpenAlert) {
  engine_->upsert_rule(rule_from(threshold(R"({"group": 5})"), 1));
  auto& d = device("d1");
  feed(d, "co", 99);
  EXPECT_TRUE(sink_.got.empty());
  d.rec.group_ids = {5};
  engine_->rescope(d);
  feed(d, "co", 99);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  // Leaves with the alert open: it resolves now, not at the next reading.
  d.rec.group_ids.clear();
  engine_->rescope(d);
  EXPECT_EQ(sink_.count(TransitionKind::resolve), 1u);
  EXPECT_EQ(sink_.got.back().cause, Cause::rule_changed);
  feed(d, "co", 99);
  EXPECT_EQ(sink_.count(TransitionKind::open), 1u);
  // Joins again: a fresh episode.
  d.rec.group_ids = {5};
  engine_->rescope(d);
  feed(d, "co", 99);
  EXPECT_EQ(sink_.count(TransitionKind::open), 2u);
}

TEST_F(EngineScopes, CountsEvaluations) {
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})"), 1));
  engine_->upsert_rule(rule_from(threshold(R"({"device": "d1"})"), 2));
  auto& d = device("d1");
  for (int i = 0; i < 10; ++i) feed(d, "co", 1);
  engine_->flush_metrics();
  auto& c = metrics_.counter("peregrine_rules_evaluations_total", "");
  EXPECT_EQ(c.value(), 20u);
}

TEST_F(EngineScopes, SnapshotRestoreCompletesHoldWithoutDuplicates) {
  const std::string held = R"({"name": "h", "metric": "co", "scope": {"all": true},
    "kind": "threshold", "params": {"op": ">", "value": 50, "for_s": 60}})";
  engine_->upsert_rule(rule_from(held, 1));
  engine_->upsert_rule(rule_from(threshold(R"({"all": true})", 10), 2));
  auto& d = device("d1");
  feed(d, "co", 55);  // rule 2 opens, rule 1 starts holding
  ASSERT_EQ(sink_.count(TransitionKind::open), 1u);
  advance(20 * kSec);
  auto snap = engine_->snapshot();

  // "Restart": a new engine, same rules, restored state.
  RecordingSink sink2;
  metrics::Registry m2;
  Engine e2(clock_, sink2, m2);
  e2.upsert_rule(rule_from(held, 1));
  e2.upsert_rule(rule_from(threshold(R"({"all": true})", 10), 2));
  EXPECT_EQ(e2.restore(nlohmann::json::parse(snap.dump())), 2u);
  clock_.advance(39 * kSec);
  e2.tick(clock_.now_us());
  EXPECT_TRUE(sink2.got.empty());
  clock_.advance(1 * kSec);
  e2.tick(clock_.now_us());  // the hold completes 60 s after it began
  ASSERT_EQ(sink2.got.size(), 1u);
  EXPECT_EQ(sink2.got[0].rule, 1);
  EXPECT_EQ(sink2.got[0].kind, TransitionKind::open);
  e2.on_sample(Sample{d, d.series[0], 56, clock_.now_us(), 1});
  // Rule 2 was open before the restart: a repeat, not a second opening.
  for (const auto& r : sink2.got) {
    if (r.rule == 2) {
      EXPECT_EQ(r.kind, TransitionKind::update);
    }
  }
  EXPECT_EQ(sink2.count(TransitionKind::open), 1u);
}

}  // namespace
}  // namespace peregrine::rules::testing
