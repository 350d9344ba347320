#include <peregrine/alerts/manager.hpp>

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <peregrine/devices/registry.hpp>

namespace peregrine::alerts {
namespace {

constexpr core::Micros kSec = 1'000'000;

struct Seen {
  Alert alert;
  AlertEvent event;
  bool had_rule;
};

class Recorder final : public AlertObserver {
 public:
  void on_alert(const Alert& a, const AlertEvent& e, const rules::Rule* rule) override {
    seen.push_back({a, e, rule != nullptr});
  }
  std::size_t count(EventKind k) const {
    std::size_t n = 0;
    for (const auto& s : seen) n += s.event.kind == k;
    return n;
  }
  std::vector<Seen> seen;
};

rules::Rule rule_from(const char* body, rules::RuleId id) {
  auto r = rules::parse_rule(nlohmann::json::parse(body), 1);
  EXPECT_TRUE(std::holds_alternative<rules::Rule>(r));
  auto rule = std::get<rules::Rule>(r);
  rule.id = id;
  return rule;
}

constexpr const char* kCo = R"({"name": "CO high", "metric": "co", "scope": {"all": true},
  "kind": "threshold", "params": {"op": ">", "value": 50, "clear": 45}, "severity": "warning",
  "escalate": {"after_s": 300, "to": "critical"}})";

// The real engine feeding the manager, as wired in the server.
class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() {
    dev_.rec.id = "d1";
    dev_.series.push_back(devices::Series{"co", 1, 0, 0, false});
    engine_.upsert_rule(rule_from(kCo, 1));
  }
  void feed(double v) { engine_.on_sample(rules::Sample{dev_, dev_.series[0], v, clock_.now_us(), 42}); }
  void advance(core::Micros d) {
    clock_.advance(d);
    engine_.tick(clock_.now_us());
    manager_.tick(clock_.now_us());
  }

  core::ManualClock clock_;
  metrics::Registry metrics_;
  Recorder rec_;
  Manager manager_{clock_, rec_, metrics_, 100};
  rules::Engine engine_{clock_, manager_, metrics_};
  devices::Device dev_;
};

TEST_F(ManagerTest, OneActiveAlertPerRuleDeviceMetric) {
  feed(60);
  feed(70);
  feed(47);  // between clear and threshold: stays open, no event
  feed(80);
  ASSERT_EQ(manager_.open_count(), 1u);
  EXPECT_EQ(rec_.count(EventKind::opened), 1u);
  EXPECT_EQ(rec_.count(EventKind::updated), 2u);
  const Alert& first = rec_.seen[0].alert;
  EXPECT_EQ(first.id, 100);
  EXPECT_TRUE(rec_.seen[0].had_rule);
  EXPECT_EQ(rec_.seen[0].event.arrival_ns, 42);
  const Alert* a = manager_.find(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->count, 3u);
  EXPECT_EQ(a->value, 80);
  EXPECT_EQ(metrics_.counter("peregrine_alerts_opened_total", "", {{"severity", "warning"}}).value(), 1u);

  feed(40);
  EXPECT_EQ(manager_.open_count(), 0u);
  ASSERT_EQ(rec_.seen.back().event.kind, EventKind::resolved);
  EXPECT_EQ(rec_.seen.back().alert.state, AlertState::resolved);
  EXPECT_EQ(rec_.seen.back().alert.resolved_by, "system");
  feed(60);
  EXPECT_EQ(rec_.seen.back().alert.id, 101);
}

TEST_F(ManagerTest, EscalatesOnTimeWhenNotAcknowledged) {
  feed(60);
  advance(299 * kSec);
  EXPECT_EQ(rec_.count(EventKind::escalated), 0u);
  advance(1 * kSec);
  ASSERT_EQ(rec_.count(EventKind::escalated), 1u);
  EXPECT_EQ(rec_.seen.back().alert.severity, rules::Severity::critical);
  advance(3600 * kSec);
  EXPECT_EQ(rec_.count(EventKind::escalated), 1u);
}

TEST_F(ManagerTest, NoEscalationAfterAck) {
  feed(60);
  advance(100 * kSec);
  EXPECT_EQ(manager_.acknowledge(100, "op@example.com"), OpStatus::ok);
  EXPECT_EQ(manager_.acknowledge(100, "op@example.com"), OpStatus::conflict);
  EXPECT_EQ(manager_.acknowledge(7, "op@example.com"), OpStatus::not_found);
  const Seen& ack = rec_.seen.back();
  EXPECT_EQ(ack.event.kind, EventKind::acknowledged);
  EXPECT_EQ(ack.event.actor, "op@example.com");
  EXPECT_EQ(ack.alert.state, AlertState::acknowledged);
  advance(1000 * kSec);
  EXPECT_EQ(rec_.count(EventKind::escalated), 0u);
  feed(40);  // an acknowledged alert still auto-resolves
  EXPECT_EQ(rec_.seen.back().alert.state, AlertState::resolved);
}

TEST_F(ManagerTest, OperatorResolveHoldsUntilTheConditionClears) {
  feed(60);
  EXPECT_EQ(manager_.resolve(100, "op"), OpStatus::ok);
  EXPECT_EQ(rec_.seen.back().alert.resolved_by, "op");
  feed(65);  // same episode: not re-opened
  EXPECT_EQ(manager_.open_count(), 0u);
  feed(30);
  feed(60);  // a new episode
  EXPECT_EQ(manager_.open_count(), 1u);
  EXPECT_EQ(rec_.count(EventKind::opened), 2u);
}

TEST_F(ManagerTest, ManualEscalateOnlyRaises) {
  feed(60);
  EXPECT_EQ(manager_.escalate(100, rules::Severity::info, "system", "x"), OpStatus::conflict);
  EXPECT_EQ(manager_.escalate(100, rules::Severity::critical, "system", "command timed out"), OpStatus::ok);
  EXPECT_EQ(manager_.find(100)->severity, rules::Severity::critical);
  advance(400 * kSec);
  EXPECT_EQ(rec_.count(EventKind::escalated), 1u);
}

TEST_F(ManagerTest, AlertJsonFollowsTheContract) {
  feed(60);
  manager_.acknowledge(100, "op");
  auto j = to_json(*manager_.find(100));
  for (const char* k : {"id", "rule_id", "device", "metric", "severity", "state", "value", "message",
                        "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["state"], "acknowledged");
  EXPECT_TRUE(j["resolved_at"].is_null());
  EXPECT_EQ(j["device"], "d1");
  EXPECT_NE(j["message"].get<std::string>().find("co > 50"), std::string::npos);
  auto back = alert_from_json(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->acknowledged_by, "op");
}

TEST_F(ManagerTest, SnapshotRestoreNeitherLosesNorDuplicates) {
  feed(60);
  advance(100 * kSec);
  auto alerts_snap = nlohmann::json::parse(manager_.snapshot().dump());
  auto engine_snap = nlohmann::json::parse(engine_.snapshot().dump());

  Recorder rec2;
  metrics::Registry m2;
  Manager manager2(clock_, rec2, m2);
  rules::Engine engine2(clock_, manager2, m2);
  engine2.upsert_rule(rule_from(kCo, 1));
  EXPECT_EQ(manager2.restore(alerts_snap), 1u);
  EXPECT_EQ(manager2.restore(alerts_snap), 0u);  // idempotent
  engine2.restore(engine_snap);
  EXPECT_EQ(manager2.next_id(), 101);
  engine2.on_sample(rules::Sample{dev_, dev_.series[0], 70, clock_.now_us(), 1});
  EXPECT_EQ(rec2.count(EventKind::opened), 0u);
  EXPECT_EQ(manager2.find(100)->count, 2u);
  // The escalation survives too: 300 s after the original opening.
  clock_.advance(200 * kSec);
  manager2.tick(clock_.now_us());
  EXPECT_EQ(rec2.count(EventKind::escalated), 1u);
}

TEST_F(ManagerTest, OpenFromAFreshEngineAfterRestartIsARepeat) {
  feed(60);
  Recorder rec2;
  metrics::Registry m2;
  Manager manager2(clock_, rec2, m2);
  rules::Engine engine2(clock_, manager2, m2);  // engine state lost, alerts loaded from PostgreSQL
  engine2.upsert_rule(rule_from(kCo, 1));
  Alert a = *manager_.find(100);
  manager2.load(a, engine2.find_rule(1));
  engine2.on_sample(rules::Sample{dev_, dev_.series[0], 70, clock_.now_us(), 1});
  EXPECT_EQ(manager2.open_count(), 1u);
  EXPECT_EQ(rec2.count(EventKind::opened), 0u);
  EXPECT_EQ(rec2.count(EventKind::updated), 1u);
}

}  // namespace
}  // namespace peregrine::alerts
