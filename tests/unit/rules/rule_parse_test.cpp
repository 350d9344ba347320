#include <peregrine/rules/rule.hpp>

#include <gtest/gtest.h>

namespace peregrine::rules {
namespace {

using nlohmann::json;

RuleError error_of(const json& body) {
  auto r = parse_rule(body, 1);
  if (!std::holds_alternative<RuleError>(r)) {
    ADD_FAILURE() << "accepted: " << body.dump();
    return {};
  }
  return std::get<RuleError>(r);
}

json threshold_body() {
  return json::parse(R"({"name": "CO high", "metric": "co", "scope": {"device": "d1"},
    "kind": "threshold", "params": {"op": ">", "value": 50, "for_s": 30, "clear": 45},
    "severity": "critical", "escalate": null, "actions": []})");
}

TEST(RuleParse, ThresholdWithDefaultsAndRoundTrip) {
  auto body = json::parse(R"({"name": "t", "metric": "co", "scope": {"all": true},
    "kind": "threshold", "params": {"op": "<=", "value": 19.5}})");
  auto r = parse_rule(body, 7);
  ASSERT_TRUE(std::holds_alternative<Rule>(r));
  const Rule& rule = std::get<Rule>(r);
  EXPECT_EQ(rule.tenant, 7);
  EXPECT_EQ(rule.severity, Severity::warning);
  EXPECT_TRUE(rule.enabled);
  const auto& p = std::get<ThresholdParams>(rule.params);
  EXPECT_EQ(p.op, Op::le);
  EXPECT_EQ(p.clear_level(), 19.5);
  EXPECT_EQ(p.for_us, 0);

  auto full = parse_rule(threshold_body(), 1);
  ASSERT_TRUE(std::holds_alternative<Rule>(full));
  json out = to_json(std::get<Rule>(full));
  EXPECT_EQ(out["params"]["for_s"], 30);
  EXPECT_EQ(out["scope"]["device"], "d1");
  auto again = parse_rule(out, 1);
  ASSERT_TRUE(std::holds_alternative<Rule>(again));
  EXPECT_EQ(to_json(std::get<Rule>(again)), out);
}

TEST(RuleParse, NamesTheFailingField) {
  auto b = threshold_body();
  b["params"]["op"] = "=>";
  EXPECT_EQ(error_of(b).field, "params.op");

  b = threshold_body();
  b["params"]["clear"] = 55;  // above the threshold of a '>' rule
  auto e = error_of(b);
  EXPECT_EQ(e.field, "params.clear");
  EXPECT_EQ(e.status, 422);

  b = threshold_body();
  b["scope"] = {{"device", "d1"}, {"group", 2}};
  EXPECT_EQ(error_of(b).field, "scope");

  b = threshold_body();
  b["scope"] = {{"device", "bad id!"}};
  EXPECT_EQ(error_of(b).field, "scope.device");

  b = threshold_body();
  b["params"]["for"] = 3;
  EXPECT_EQ(error_of(b).field, "params.for");

  b = threshold_body();
  b["colour"] = "red";
  EXPECT_EQ(error_of(b).field, "colour");

  b = threshold_body();
  b.erase("metric");
  EXPECT_EQ(error_of(b).field, "metric");

  b = threshold_body();
  b["params"]["for_s"] = -1;
  EXPECT_EQ(error_of(b).field, "params.for_s");

  b = threshold_body();
  b["escalate"] = {{"after_s", 300}, {"to", "warning"}};  // not above critical
  e = error_of(b);
  EXPECT_EQ(e.field, "escalate.to");
  EXPECT_EQ(e.status, 422);

  EXPECT_EQ(error_of(json::array()).field, "");
}

TEST(RuleParse, OtherKinds) {
  auto rate = json::parse(R"({"name": "r", "metric": "p", "scope": {"group": 3}, "kind": "rate",
    "params": {"fall": 2, "window_s": 60}})");
  auto r = parse_rule(rate, 1);
  ASSERT_TRUE(std::holds_alternative<Rule>(r));
  EXPECT_EQ(std::get<RateParams>(std::get<Rule>(r).params).window_us, 60'000'000);

  rate["params"] = {{"window_s", 60}};
  EXPECT_EQ(error_of(rate).field, "params.rise");
  rate["params"] = {{"rise", 5}};
  EXPECT_EQ(error_of(rate).field, "params.window_s");

  auto absence = json::parse(R"({"name": "a", "metric": "co", "scope": {"all": true},
    "kind": "absence", "params": {"timeout_s": 0}})");
  EXPECT_EQ(error_of(absence).field, "params.timeout_s");

  auto anomaly = json::parse(R"({"name": "z", "metric": "co", "scope": {"all": true},
    "kind": "anomaly", "params": {"alpha": 1.5}})");
  EXPECT_EQ(error_of(anomaly).field, "params.alpha");
  anomaly["params"] = {{"z", 3}};
  auto ok = parse_rule(anomaly, 1);
  ASSERT_TRUE(std::holds_alternative<Rule>(ok));
  EXPECT_EQ(std::get<AnomalyParams>(std::get<Rule>(ok).params).warmup, 50u);

  anomaly["kind"] = "median";
  EXPECT_EQ(error_of(anomaly).field, "kind");
}

TEST(RuleParse, Actions) {
  auto b = threshold_body();
  b["actions"] = json::parse(R"([
    {"type": "command", "name": "activate_backup", "params": {"level": 2}, "target": {"group": 4},
     "ack_timeout_s": 5, "on_timeout": [{"type": "escalate", "to": "critical"},
                                        {"type": "notify", "channel": 7, "contacts": "all"}]},
    {"type": "notify", "channel": 3, "contacts": [1, 2]}])");
  ASSERT_TRUE(std::holds_alternative<Rule>(parse_rule(b, 1)));

  b["actions"][0]["target"] = "everyone";
  EXPECT_EQ(error_of(b).field, "actions[0].target");
  b["actions"][0]["target"] = "device";
  b["actions"][0]["on_timeout"][0]["to"] = "urgent";
  EXPECT_EQ(error_of(b).field, "actions[0].on_timeout[0].to");
  b["actions"][0]["on_timeout"][0]["to"] = "critical";
  b["actions"][1]["contacts"] = "some";
  EXPECT_EQ(error_of(b).field, "actions[1].contacts");
  b["actions"][1] = {{"type", "page"}};
  EXPECT_EQ(error_of(b).field, "actions[1].type");
  b["actions"] = json::parse(R"([{"type": "command"}])");
  EXPECT_EQ(error_of(b).field, "actions[0].name");
}

TEST(RuleMerge, PatchKeepsTheRestAndRevalidates) {
  Rule base = std::get<Rule>(parse_rule(threshold_body(), 1));
  base.id = 42;
  auto r = merge_rule(base, json::parse(R"({"params": {"value": 60}, "enabled": false})"));
  ASSERT_TRUE(std::holds_alternative<Rule>(r));
  const Rule& m = std::get<Rule>(r);
  EXPECT_EQ(m.id, 42);
  EXPECT_FALSE(m.enabled);
  EXPECT_EQ(std::get<ThresholdParams>(m.params).value, 60);
  EXPECT_EQ(std::get<ThresholdParams>(m.params).op, Op::gt);
  EXPECT_EQ(std::get<ThresholdParams>(m.params).for_us, 30'000'000);

  auto s = merge_rule(base, json::parse(R"({"scope": {"group": 9}})"));
  ASSERT_TRUE(std::holds_alternative<Rule>(s));
  EXPECT_EQ(std::get<Rule>(s).scope.type, Scope::Type::group);

  auto k = merge_rule(base, json::parse(R"({"kind": "absence"})"));
  ASSERT_TRUE(std::holds_alternative<RuleError>(k));
  EXPECT_EQ(std::get<RuleError>(k).field, "params");

  auto bad = merge_rule(base, json::parse(R"({"params": {"clear": 70}})"));
  ASSERT_TRUE(std::holds_alternative<RuleError>(bad));
  EXPECT_EQ(std::get<RuleError>(bad).field, "params.clear");
}

}  // namespace
}  // namespace peregrine::rules
