// The alerts service between the engine and the world: frame before
// persistence, coalesced repeats, one dispatch point for rule actions, and
// a snapshot handed to the log at stop. Pure: fake ports, a manual clock,
// an io_context polled by hand.
#include <peregrine/alerts/service.hpp>

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <peregrine/devices/registry.hpp>

namespace peregrine::alerts {
namespace {

using nlohmann::json;

struct Recorder final : AlertLog, AlertFrames {
  std::vector<std::string> order;  // "frame:<state>", "row:<state>", "event:<kind>", "snapshot"
  std::vector<Alert> rows;
  std::vector<Snapshot> snapshots;
  void publish(const Alert& a) override { order.push_back("frame:" + std::string(to_string(a.state))); }
  void publish_event(core::TenantId, const AlertEvent& e) override {
    order.push_back("frame-event:" + e.detail);
  }
  void save(const Alert& a) override {
    order.push_back("row:" + std::string(to_string(a.state)));
    rows.push_back(a);
  }
  void save(const AlertEvent& e) override { order.push_back("event:" + std::string(to_string(e.kind))); }
  void save(Snapshot s) override {
    order.push_back("snapshot");
    snapshots.push_back(std::move(s));
  }
};

struct CountingAction final : ActionExecutor {
  std::vector<json> seen;
  void run(const Alert&, const json& action, AlertControl&) override { seen.push_back(action); }
};

rules::Rule threshold_rule(json actions = json::array()) {
  json body = {{"name", "co high"},      {"metric", "co"},
               {"scope", {{"all", true}}}, {"kind", "threshold"},
               {"params", {{"op", ">"}, {"value", 50}}},
               {"severity", "warning"},  {"actions", std::move(actions)}};
  auto parsed = rules::parse_rule(body, core::kDefaultTenant);
  auto rule = std::get<rules::Rule>(std::move(parsed));
  rule.id = 7;
  return rule;
}

class AlertServiceTest : public ::testing::Test {
 protected:
  AlertServiceTest() {
    dev_.rec.id = "d1";
    dev_.rec.tenant = core::kDefaultTenant;
    dev_.series.push_back(devices::Series{"co", 1, 0, 0, false});
  }
  void start(rules::Rule rule) {
    StartState st;
    st.rules.push_back(std::move(rule));
    service_.start(std::move(st));
  }
  void feed(double v) {
    service_.on_sample(rules::Sample{dev_, dev_.series[0], v, clock_.now_us(), core::steady_ns()});
  }
  std::size_t count(const std::string& what) const {
    std::size_t n = 0;
    for (const auto& o : rec_.order) n += o == what;
    return n;
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  metrics::Registry metrics_;
  Recorder rec_;
  devices::Device dev_;
  Service service_{io_, clock_, rec_, rec_, metrics_,
                   ServiceOptions{std::chrono::milliseconds(1), std::chrono::hours(1)}};
};

TEST_F(AlertServiceTest, FrameGoesOutBeforeTheRowAndItsEvent) {
  start(threshold_rule());
  feed(60);
  ASSERT_EQ(rec_.order.size(), 3u);
  EXPECT_EQ(rec_.order[0], "frame:active");
  EXPECT_EQ(rec_.order[1], "row:active");
  EXPECT_EQ(rec_.order[2], "event:opened");
}

TEST_F(AlertServiceTest, RepeatsAreCoalescedIntoOneRowPerFlushAndNoFrame) {
  start(threshold_rule());
  feed(60);
  for (int i = 0; i < 50; ++i) feed(61 + i);
  EXPECT_EQ(count("frame:active"), 1u);
  EXPECT_EQ(count("row:active"), 1u);  // repeats wait for the flush tick
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(count("frame:active"), 1u);
  ASSERT_EQ(count("row:active"), 2u);
  EXPECT_EQ(rec_.rows.back().count, 51u);
  EXPECT_EQ(rec_.rows.back().value, 110);
}

TEST_F(AlertServiceTest, EscalateActionRaisesSeverityAfterTheOpening) {
  start(threshold_rule(json::array({{{"type", "escalate"}, {"to", "critical"}}})));
  feed(60);
  const Alert* a = service_.manager().find(1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->severity, rules::Severity::warning);  // not inside the observer call
  io_.poll();
  a = service_.manager().find(1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->severity, rules::Severity::critical);
  EXPECT_EQ(count("event:escalated"), 1u);
}

TEST_F(AlertServiceTest, EachActionTypeGoesToItsExecutorAndUnknownOnesAreCounted) {
  CountingAction command;
  service_.add_executor("command", command);
  start(threshold_rule(json::array({{{"type", "command"}, {"name", "activate_backup"}},
                                    {{"type", "notify"}, {"channel", 1}}})));
  feed(60);
  ASSERT_EQ(command.seen.size(), 1u);
  EXPECT_EQ(command.seen[0]["name"], "activate_backup");
  const std::string text = metrics_.render();
  EXPECT_NE(text.find(R"(peregrine_alert_actions_total{type="command",result="run"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(peregrine_alert_actions_total{type="notify",result="unhandled"} 1)"),
            std::string::npos)
      << text;
}

TEST_F(AlertServiceTest, StopSavesASnapshotWithTheOpenSeriesState) {
  start(threshold_rule());
  feed(60);
  service_.stop();
  ASSERT_EQ(rec_.snapshots.size(), 1u);
  const Snapshot& s = rec_.snapshots[0];
  ASSERT_EQ(s.engine.entries.size(), 1u);
  EXPECT_EQ(s.engine.entries[0].device, "d1");
  EXPECT_TRUE(s.engine.entries[0].st.open);
  EXPECT_FALSE(s.manager.contains("alerts"));  // they live in the alerts table
  EXPECT_EQ(s.manager["next_id"], 2);
  // The JSON the log writes is what the engine restores.
  const json body = rules::to_json(s.engine);
  EXPECT_EQ(body["states"][0]["device"], "d1");
}

TEST_F(AlertServiceTest, NoTimerOrPostRunsAfterTheServiceIsGone) {
  auto io = std::make_unique<boost::asio::io_context>();
  {
    Service s(*io, clock_, rec_, rec_, metrics_,
              ServiceOptions{std::chrono::milliseconds(1), std::chrono::milliseconds(1)});
    StartState st;
    st.rules.push_back(threshold_rule(json::array({{{"type", "escalate"}, {"to", "critical"}}})));
    s.start(std::move(st));
    s.on_sample(rules::Sample{dev_, dev_.series[0], 60, clock_.now_us(), 0});
  }  // destroyed with its escalation post, flush and snapshot timers pending
  const std::size_t before = rec_.order.size();
  io->run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(rec_.order.size(), before);
}

}  // namespace
}  // namespace peregrine::alerts
