// A rule created over REST applies to the next MQTT reading without a
// restart; the alert frame arrives on WebSocket; ack and resolve over REST
// show in the next frames, in alert_events and in the REST reads.
#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class RulesLiveTest : public AlertingTest {};

TEST_F(RulesLiveTest, RestRuleAlertsOnNextReadingAndAckResolveShowEverywhere) {
  ASSERT_TRUE(start_server());
  ASSERT_FALSE(token_.empty());
  const std::string dev = device("boiler");
  // The device exists (and is warmed up) before the rule.
  publish(dev, {{"co", 10}});
  ASSERT_TRUE(wait_rows(1, dev));
  auto ws = alerts_ws();

  const std::int64_t rule_id =
      create_rule(threshold_rule("CO high", "co", dev, {{"op", ">"}, {"value", 50}, {"clear", 45}}));
  ASSERT_GT(rule_id, 0);
  publish(dev, {{"co", 61.5}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  ASSERT_TRUE(opened.has_value()) << "no alert frame for the first breaching reading";
  EXPECT_EQ((*opened)["state"], "active");
  EXPECT_EQ((*opened)["rule_id"], rule_id);
  EXPECT_EQ((*opened)["metric"], "co");
  EXPECT_EQ((*opened)["severity"], "critical");
  EXPECT_DOUBLE_EQ((*opened)["value"].get<double>(), 61.5);
  const std::int64_t id = (*opened)["id"];

  // Hysteresis: 48 is under the threshold but above clear: still open, no frame.
  publish(dev, {{"co", 48}});
  publish(dev, {{"co", 70}});  // a repeat: same alert, no second one
  EXPECT_FALSE(next_alert(*ws, [](const json&) { return true; }, std::chrono::milliseconds(700)));

  const auto ack = call("POST", "/api/v1/alerts/" + std::to_string(id) + "/ack");
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(ack.json()["state"], "acknowledged");
  const auto acked = next_alert(*ws, [&](const json& a) { return a["id"] == id; });
  ASSERT_TRUE(acked.has_value());
  EXPECT_EQ((*acked)["state"], "acknowledged");
  EXPECT_EQ((*acked)["acknowledged_by"], kAdminEmail);
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + std::to_string(id) + "/ack").status, 409);

  const auto res = call("POST", "/api/v1/alerts/" + std::to_string(id) + "/resolve");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json()["state"], "resolved");
  const auto resolved = next_alert(*ws, [&](const json& a) { return a["id"] == id; });
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ((*resolved)["state"], "resolved");
  EXPECT_FALSE((*resolved)["resolved_at"].is_null());
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + std::to_string(id) + "/resolve").status, 409);
  EXPECT_EQ(call("POST", "/api/v1/alerts/999999/ack").status, 404);

  // Persisted behind the frames: the row and one event per transition.
  ASSERT_TRUE(eventually([&] {
    return db_->scalar("SELECT count(*) FROM alert_events WHERE alert_id = " + std::to_string(id)) >= 3;
  }));
  const std::string where = " FROM alert_events WHERE alert_id = " + std::to_string(id);
  EXPECT_EQ(db_->scalar("SELECT count(*)" + where + " AND kind = 'opened' AND actor = 'system'"), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*)" + where + " AND kind = 'acknowledged' AND actor = '" +
                        kAdminEmail + "'"),
            1);
  EXPECT_EQ(db_->scalar("SELECT count(*)" + where + " AND kind = 'resolved' AND actor = '" +
                        kAdminEmail + "'"),
            1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts WHERE rule_id = " + std::to_string(rule_id)), 1);
  EXPECT_EQ(db_->scalar("SELECT count FROM alerts WHERE id = " + std::to_string(id)), 2);

  const auto one = call("GET", "/api/v1/alerts/" + std::to_string(id));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json()["state"], "resolved");
  EXPECT_EQ(one.json()["resolved_by"], kAdminEmail);
  ASSERT_EQ(one.json()["events"].size(), 3u) << one.body;
  EXPECT_EQ(one.json()["events"][1]["kind"], "acknowledged");
  const auto list = call("GET", "/api/v1/alerts?state=resolved&device=" + dev);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["items"].size(), 1u) << list.body;
  EXPECT_EQ(list.json()["items"][0]["id"], id);
  EXPECT_EQ(call("GET", "/api/v1/alerts?state=active&device=" + dev).json()["items"].size(), 0u);

  // Operator-resolved while still breaching: no re-open until it clears.
  publish(dev, {{"co", 80}});
  EXPECT_FALSE(next_alert(*ws, [](const json&) { return true; }, std::chrono::milliseconds(700)));
  publish(dev, {{"co", 10}});
  publish(dev, {{"co", 90}});
  const auto again = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  ASSERT_TRUE(again.has_value());
  EXPECT_NE((*again)["id"], id);
  EXPECT_EQ((*again)["state"], "active");

  EXPECT_GE(metric("peregrine_alert_latency_seconds_count"), 2);
  EXPECT_GE(metric("peregrine_alerts_opened_total", {{"severity", "critical"}}), 2);
  ASSERT_TRUE(eventually([&] { return metric("peregrine_rules_evaluations_total") >= 6; }));
}

TEST_F(RulesLiveTest, PatchAndDeleteApplyToTheRunningEngine) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("tank");
  publish(dev, {{"pressure", 5}});
  ASSERT_TRUE(wait_rows(1, dev));
  auto ws = alerts_ws();
  const std::int64_t rule_id =
      create_rule(threshold_rule("pressure low", "pressure", dev, {{"op", "<"}, {"value", 2}}));
  ASSERT_GT(rule_id, 0);
  const std::string rule_path = "/api/v1/rules/" + std::to_string(rule_id);

  // Raise the threshold live: 3 now breaches.
  const auto patched = call("PATCH", rule_path, json{{"params", {{"value", 4}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["params"]["op"], "<");
  EXPECT_EQ(patched.json()["params"]["value"], 4);
  publish(dev, {{"pressure", 3}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ((*opened)["state"], "active");

  // Deleting the rule resolves its open alert, by the system.
  EXPECT_EQ(call("DELETE", rule_path).status, 204);
  const auto closed = next_alert(*ws, [&](const json& a) { return a["id"] == (*opened)["id"]; });
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ((*closed)["state"], "resolved");
  EXPECT_EQ((*closed)["resolved_by"], "system");
  EXPECT_EQ(call("GET", rule_path).status, 404);
  EXPECT_EQ(call("DELETE", rule_path).status, 404);
  publish(dev, {{"pressure", 1}});
  EXPECT_FALSE(next_alert(*ws, [](const json&) { return true; }, std::chrono::milliseconds(700)));

  // Each change is in the audit log, with who made it.
  for (const char* action : {"rule.create", "rule.update", "rule.delete"}) {
    EXPECT_EQ(db_->scalar(std::string("SELECT count(*) FROM audit_log WHERE action = '") + action +
                          "' AND target = 'rule:" + std::to_string(rule_id) +
                          "' AND actor_email = '" + kAdminEmail + "'"),
              1)
        << action;
  }
}

TEST_F(RulesLiveTest, UnacknowledgedAlertEscalatesOnTimeByTheServerTimer) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("gas");
  publish(dev, {{"ch4", 0}});
  ASSERT_TRUE(wait_rows(1, dev));
  auto ws = alerts_ws();
  json rule = threshold_rule("methane", "ch4", dev, {{"op", ">="}, {"value", 10}});
  rule["severity"] = "warning";
  rule["escalate"] = {{"after_s", 1.5}, {"to", "critical"}};
  ASSERT_GT(create_rule(rule), 0);
  publish(dev, {{"ch4", 12}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ((*opened)["severity"], "warning");
  const auto raised = next_alert(*ws, [&](const json& a) { return a["id"] == (*opened)["id"]; },
                                 std::chrono::seconds(10));
  ASSERT_TRUE(raised.has_value()) << "no escalation frame";
  EXPECT_EQ((*raised)["severity"], "critical");
  EXPECT_EQ((*raised)["state"], "active");
  ASSERT_TRUE(eventually([&] {
    return db_->scalar("SELECT count(*) FROM alert_events WHERE kind = 'escalated' AND alert_id = " +
                       (*opened)["id"].dump()) == 1;
  }));
  // Not early: by the server's own clock, the escalation came after_s after
  // the opening (the test's wall time says nothing on a loaded machine).
  EXPECT_GE(db_->scalar("SELECT (extract(epoch from e.at - a.opened_at) * 1000)::bigint FROM "
                        "alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.kind = "
                        "'escalated' AND a.id = " + (*opened)["id"].dump()),
            1500);
}

}  // namespace
}  // namespace peregrine::test
