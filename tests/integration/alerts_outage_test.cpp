// PostgreSQL down: the alert frame still goes out at once (nothing on the
// alert path waits for the database), and the alert, its events and the
// operator's ack are written once PostgreSQL is back.
#include <cstdlib>

#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class AlertsOutageTest : public AlertingTest {
 protected:
  bool pg_ctl(const std::string& action) const {
    const std::string mode = action == "stop" ? " -m fast" : "";
    return std::system((env_->pg_ctl + " " + action + mode + " >/dev/null 2>&1").c_str()) == 0;
  }
};

TEST_F(AlertsOutageTest, AlertsAreSentDuringAnOutageAndWrittenAfterIt) {
  if (env_->pg_ctl.empty()) GTEST_SKIP() << "PEREGRINE_TEST_PG_CTL not set";
  ASSERT_TRUE(start_server());
  const std::string dev = device("pump");
  publish(dev, {{"flow", 10}});
  ASSERT_TRUE(wait_rows(1, dev));
  auto ws = alerts_ws();
  const std::int64_t rule_id = create_rule(threshold_rule("flow", "flow", dev, {{"op", "<"}, {"value", 5}}));
  ASSERT_GT(rule_id, 0);

  ASSERT_TRUE(pg_ctl("stop"));
  publish(dev, {{"flow", 1}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  const auto ack = opened ? call("POST", "/api/v1/alerts/" + std::to_string((*opened)["id"].get<std::int64_t>()) + "/ack")
                          : HttpResponse{};
  ASSERT_TRUE(pg_ctl("start"));
  ASSERT_TRUE(opened.has_value()) << "no alert frame while PostgreSQL was down";
  EXPECT_EQ(ack.status, 200) << ack.body;
  const std::int64_t id = (*opened)["id"];

  ASSERT_TRUE(eventually(
      [&] {
        try {
          return db_->scalar("SELECT count(*) FROM alert_events WHERE alert_id = " + std::to_string(id)) == 2;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts WHERE state = 'acknowledged' AND id = " +
                        std::to_string(id)),
            1);
  EXPECT_GE(metric("peregrine_alert_store_errors_total"), 1);
  EXPECT_EQ(metric("peregrine_alert_store_lost_total"), 0);
}

}  // namespace
}  // namespace peregrine::test
