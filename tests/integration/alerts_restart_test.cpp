// Alert state survives a restart: an active alert is reloaded (a repeat
// updates it, no duplicate) and a for_s hold in progress completes on time
// without another reading.
#include <peregrine/core/time_format.hpp>

#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class AlertsRestartTest : public AlertingTest {};

// RFC 3339 from the API → epoch milliseconds.
std::int64_t core_ms(const json& rfc3339) {
  const auto us = core::parse_rfc3339(rfc3339.get<std::string>());
  EXPECT_TRUE(us.has_value()) << rfc3339;
  return us ? *us / 1000 : 0;
}

TEST_F(AlertsRestartTest, ActiveAlertAndHoldInProgressSurviveRestart) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("plant");
  publish(dev, {{"co", 1}, {"temperature", 20}});
  ASSERT_TRUE(wait_rows(2, dev));
  auto ws = alerts_ws();

  const std::int64_t co_rule = create_rule(threshold_rule("co", "co", dev, {{"op", ">"}, {"value", 50}}));
  constexpr int kHoldS = 8;
  const std::int64_t hot_rule = create_rule(
      threshold_rule("hot", "temperature", dev, {{"op", ">"}, {"value", 30}, {"for_s", kHoldS}}));
  ASSERT_GT(co_rule, 0);
  ASSERT_GT(hot_rule, 0);

  publish(dev, {{"co", 60}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["rule_id"] == co_rule; });
  ASSERT_TRUE(opened.has_value());
  const std::int64_t alert_id = (*opened)["id"];
  const std::int64_t hold_start = now_ms();
  publish(dev, {{"temperature", 35}});  // the hold starts; it needs kHoldS more
  ASSERT_TRUE(eventually([&] { return db_->scalar("SELECT count(*) FROM alerts") == 1; }));
  ws.reset();

  ASSERT_EQ(server_->sigterm_and_wait(), 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM engine_snapshots"), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts"), 1) << "the hold has not completed yet";
  ASSERT_TRUE(start_server());
  // A restart slower than the hold still proves the point: the restored
  // deadline is then due at once, and a lost hold opens nothing at all.
  ws = alerts_ws();

  // The reloaded alert takes the repeat: no second alert of that rule.
  publish(dev, {{"co", 65}});
  ASSERT_TRUE(eventually([&] {
    return db_->scalar("SELECT count FROM alerts WHERE id = " + std::to_string(alert_id)) == 2;
  }));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts WHERE rule_id = " + std::to_string(co_rule)), 1);
  const auto listed = call("GET", "/api/v1/alerts?state=active");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json()["items"][0]["id"], alert_id);

  // The hold completes by the server's timer, with no further reading.
  const auto hot = next_alert(*ws, [&](const json& a) { return a["rule_id"] == hot_rule; },
                              std::chrono::seconds(kHoldS + 5));
  ASSERT_TRUE(hot.has_value()) << "the hold in progress was lost across the restart";
  EXPECT_EQ((*hot)["state"], "active");
  EXPECT_DOUBLE_EQ((*hot)["value"].get<double>(), 35);
  // Not early, by the server's clock: opened at least for_s after the
  // reading that started the hold (its ts is the publisher's now).
  EXPECT_GE(core_ms((*hot)["opened_at"]) - hold_start, kHoldS * 1000 - 50)
      << "the hold must not complete early";
  EXPECT_NE((*hot)["id"], alert_id);
  ASSERT_TRUE(eventually([&] { return db_->scalar("SELECT count(*) FROM alerts") == 2; }));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alert_events WHERE kind = 'opened'"), 2);

  // Ack works on the reloaded alert.
  const auto ack = call("POST", "/api/v1/alerts/" + std::to_string(alert_id) + "/ack");
  EXPECT_EQ(ack.status, 200) << ack.body;
}

}  // namespace
}  // namespace peregrine::test
