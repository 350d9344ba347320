// PostgreSQL down: the alert frame still goes out at once (nothing on the
// alert path waits for the database), and the alert, its events and the
// operator's ack are written once PostgreSQL is back.
#include <cstdlib>
#include <filesystem>

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

// SIGTERM while PostgreSQL is away: the alert store spills its rows and
// events at once and exits; the next start writes them back before it loads
// the open alerts, so the alert is open again with all its events.
TEST_F(AlertsOutageTest, SigtermDuringAnOutageSpillsAlertsAndTheNextStartWritesThem) {
  if (env_->pg_ctl.empty()) GTEST_SKIP() << "PEREGRINE_TEST_PG_CTL not set";
  const std::string spill_dir = "/tmp/peregrine-itest-alert-spill-" + tag_;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{spill_dir};
  const std::map<std::string, std::string> env{{"PEREGRINE_STORAGE_SPILL_DIR", spill_dir}};
  ASSERT_TRUE(start_server(env));
  const std::string dev = device("valve");
  publish(dev, {{"pressure", 3}});
  ASSERT_TRUE(wait_rows(1, dev));
  auto ws = alerts_ws();
  ASSERT_GT(create_rule(threshold_rule("pressure", "pressure", dev, {{"op", ">"}, {"value", 5}})), 0);

  ASSERT_TRUE(pg_ctl("stop"));
  publish(dev, {{"pressure", 9}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["device"] == dev; });
  const auto ack = opened ? call("POST", "/api/v1/alerts/" + std::to_string((*opened)["id"].get<std::int64_t>()) + "/ack")
                          : HttpResponse{};
  const auto code = server_->sigterm_and_wait(std::chrono::seconds(30));
  const bool spilled = std::filesystem::exists(spill_dir + "/alerts/spill.log");
  ASSERT_TRUE(pg_ctl("start"));
  ASSERT_TRUE(opened.has_value()) << "no alert frame while PostgreSQL was down";
  EXPECT_EQ(ack.status, 200) << ack.body;
  ASSERT_TRUE(code.has_value()) << "peregrine did not exit within 30 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(spilled) << "the alert store spilled at SIGTERM";
  const std::int64_t id = (*opened)["id"];

  ASSERT_TRUE(eventually(
      [&] {
        try {
          return db_->scalar("SELECT 1") == 1;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)));
  ASSERT_TRUE(start_server(env));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alert_events WHERE alert_id = " + std::to_string(id)), 2)
      << "opened and acknowledged, each once";
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts WHERE state = 'acknowledged' AND id = " +
                        std::to_string(id)),
            1);
  EXPECT_FALSE(std::filesystem::exists(spill_dir + "/alerts/spill.log"));
  EXPECT_GE(metric("peregrine_alert_store_replayed_total"), 3) << "row and both events came from the spill";
  // Still open after the restart: the same alert, not a new one.
  const auto got = call("GET", "/api/v1/alerts/" + std::to_string(id));
  EXPECT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json().value("state", ""), "acknowledged");
}

}  // namespace
}  // namespace peregrine::test
