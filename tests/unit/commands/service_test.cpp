// The command service's state machine with fake ports and a manual clock:
// sent at once to an online device, queued for an offline one and sent
// (deferred, after its row) when it comes online, or expired; acks,
// late and foreign acks; deadlines on the timer; reinstating after a
// restart without a second publish; the closed loop's fallback once per run.
#include <peregrine/commands/service.hpp>
#include <peregrine/commands/command_action.hpp>

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace peregrine::commands {
namespace {

using nlohmann::json;

struct Log final : CommandLog {
  std::vector<Command> rows;
  std::vector<CommandEvent> events;
  std::vector<std::pair<std::string, CancelFlag>> deferred;
  void save(const Command& c) override { rows.push_back(c); }
  void save(const CommandEvent& e) override { events.push_back(e); }
  void publish_after_save(std::string topic, std::string, CancelFlag cancelled) override {
    deferred.emplace_back(std::move(topic), std::move(cancelled));
  }
};

struct Publisher final : CommandPublisher {
  std::vector<std::pair<std::string, json>> sent;
  bool publish(const std::string& topic, const std::string& payload, std::function<void()> cb) override {
    sent.emplace_back(topic, json::parse(payload));
    if (cb) cb();
    return true;
  }
};

struct Frames final : CommandFrames {
  std::vector<std::string> statuses;
  void publish(const Command& c) override { statuses.emplace_back(to_string(c.status)); }
};

struct Control final : alerts::AlertControl {
  std::vector<std::string> records;
  std::vector<json> fallbacks;
  void escalate_later(alerts::AlertId, rules::Severity, std::string, std::string) override {}
  void record_action(alerts::AlertId, core::TenantId, std::string detail) override { records.push_back(detail); }
  void run_actions_later(alerts::Alert, json actions, std::string) override { fallbacks.push_back(actions); }
};

class CommandServiceTest : public ::testing::Test {
 protected:
  CommandServiceTest() : clock_(1'000'000'000'000) {
    add("on", true);
    add("off", false);
  }
  void add(const std::string& id, bool online) {
    devices::DeviceRecord rec;
    rec.id = id;
    rec.online = online;
    registry_.add(rec);
  }
  NewCommand cmd(const std::string& device, std::int32_t ack = 5, std::int64_t expires = 60) {
    NewCommand c;
    c.device = device;
    c.name = "open";
    c.params = {{"pct", 50}};
    c.ack_timeout_s = ack;
    c.expires_s = expires;
    c.created_by = "op@example.org";
    return c;
  }
  void advance_s(double s) { clock_.advance(static_cast<core::Micros>(s * 1e6)); }
  double counted(const std::string& status) {
    return metrics_.counter("peregrine_commands_total", "", {{"status", status}}).value();
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  devices::Registry registry_;
  metrics::Registry metrics_;
  Log log_;
  Publisher pub_;
  Frames frames_;
  Service svc_{io_, clock_, registry_, log_, pub_, frames_, metrics_};
};

TEST_F(CommandServiceTest, AnOnlineDeviceGetsItAtOnceAndAnOkAckEndsIt) {
  svc_.start({});
  const auto c = svc_.create(cmd("on"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, Status::sent);
  ASSERT_EQ(pub_.sent.size(), 1u);
  EXPECT_EQ(pub_.sent[0].first, "devices/on/commands");
  EXPECT_EQ(pub_.sent[0].second, (json{{"id", c->id}, {"name", "open"}, {"params", {{"pct", 50}}}}));
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), json{{"id", c->id}, {"status", "ok"}, {"detail", "done"}}.dump()),
            AckReject::none);
  EXPECT_EQ(svc_.find(c->id)->status, Status::ok);
  EXPECT_EQ(svc_.find(c->id)->detail, "done");
  EXPECT_EQ(frames_.statuses, (std::vector<std::string>{"sent", "ok"}));
  EXPECT_EQ(log_.events.size(), 2u);
  EXPECT_EQ(counted("ok"), 1);
  EXPECT_EQ(svc_.pending_count(), 0u);
  // The final status never changes: a second ack is recorded, not applied.
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), json{{"id", c->id}, {"status", "error"}}.dump()), AckReject::none);
  EXPECT_EQ(svc_.find(c->id)->status, Status::ok);
  EXPECT_EQ(log_.events.back().status, "ack");
  EXPECT_NE(log_.events.back().detail.find("duplicate"), std::string::npos);
}

TEST_F(CommandServiceTest, NoAckByTheDeadlineIsTimedOutAndALateAckChangesNothing) {
  svc_.start({});
  const auto c = svc_.create(cmd("on", 5));
  advance_s(4.999);
  EXPECT_EQ(svc_.tick(clock_.now_us()), 0u);
  advance_s(0.001);
  EXPECT_EQ(svc_.tick(clock_.now_us()), 1u);
  EXPECT_EQ(svc_.find(c->id)->status, Status::timed_out);
  svc_.on_ack(*registry_.find("on"), json{{"id", c->id}, {"status", "ok"}}.dump());
  EXPECT_EQ(svc_.find(c->id)->status, Status::timed_out);
  EXPECT_NE(log_.events.back().detail.find("late ack"), std::string::npos);
}

TEST_F(CommandServiceTest, AnOfflineDeviceIsQueuedThenSentAfterItsRowOrExpired) {
  svc_.start({});
  const auto waits = svc_.create(cmd("off", 5, 60));
  ASSERT_TRUE(waits);
  EXPECT_EQ(waits->status, Status::queued);
  EXPECT_TRUE(pub_.sent.empty());
  devices::Device& off = *registry_.find("off");
  off.rec.online = true;
  svc_.on_presence(off, true);
  // Published by the log once its `sent` row is committed, not now.
  EXPECT_TRUE(pub_.sent.empty());
  ASSERT_EQ(log_.deferred.size(), 1u);
  EXPECT_EQ(log_.deferred[0].first, "devices/off/commands");
  EXPECT_EQ(log_.rows.back().status, Status::sent);
  EXPECT_EQ(svc_.find(waits->id)->status, Status::sent);
  // Its ack deadline counts from when it was sent.
  advance_s(5);
  svc_.tick(clock_.now_us());
  EXPECT_EQ(svc_.find(waits->id)->status, Status::timed_out);
  EXPECT_TRUE(log_.deferred[0].second->load()) << "a deferred publish of an ended command is skipped";

  off.rec.online = false;
  const auto expires = svc_.create(cmd("off", 5, 2));
  advance_s(2);
  svc_.tick(clock_.now_us());
  EXPECT_EQ(svc_.find(expires->id)->status, Status::expired);
  EXPECT_EQ(counted("expired"), 1);
}

TEST_F(CommandServiceTest, AcksOfAnotherDeviceOrUnknownOrMalformedAreRefused) {
  add("third", true);
  svc_.start({});
  const auto c = svc_.create(cmd("on"));
  EXPECT_EQ(svc_.on_ack(*registry_.find("third"), json{{"id", c->id}, {"status", "ok"}}.dump()),
            AckReject::wrong_device);
  EXPECT_EQ(svc_.find(c->id)->status, Status::sent);
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), R"({"id":"nope","status":"ok"})"), AckReject::unknown_command);
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), R"({"id":1,"status":"ok"})"), AckReject::malformed);
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), R"({"id":"x","status":"done"})"), AckReject::malformed);
  EXPECT_EQ(svc_.on_ack(*registry_.find("on"), "{"), AckReject::malformed);
}

TEST_F(CommandServiceTest, AfterARestartADueDeadlineFiresAndNothingIsPublishedAgain) {
  Command sent;
  sent.id = "11111111-1111-4111-8111-111111111111";
  sent.device = "on";
  sent.name = "stop";
  sent.status = Status::sent;
  sent.created_at = clock_.now_us() - 10'000'000;
  sent.sent_at = sent.created_at;
  sent.ack_timeout_s = 5;
  sent.expires_at = sent.created_at + 60'000'000;
  Command queued = sent;
  queued.id = "22222222-2222-4222-8222-222222222222";
  queued.status = Status::queued;
  queued.sent_at.reset();
  Command later = queued;
  later.id = "33333333-3333-4333-8333-333333333333";
  later.device = "off";
  svc_.start({sent, queued, later});
  EXPECT_TRUE(pub_.sent.empty()) << "a reinstated command is never published directly";
  EXPECT_EQ(log_.deferred.size(), 1u) << "the queued one of an online device: after its row";
  EXPECT_EQ(svc_.tick(clock_.now_us()), 1u);
  EXPECT_EQ(svc_.find(sent.id)->status, Status::timed_out);
  EXPECT_EQ(svc_.find(later.id)->status, Status::queued);
}

TEST_F(CommandServiceTest, CancelEndsAPendingCommandOnly) {
  svc_.start({});
  const auto c = svc_.create(cmd("off"));
  EXPECT_TRUE(svc_.cancel(c->id, "job cancelled"));
  EXPECT_EQ(svc_.find(c->id)->status, Status::cancelled);
  EXPECT_FALSE(svc_.cancel(c->id, "again"));
}

TEST_F(CommandServiceTest, TheClosedLoopFallsBackOncePerRunAndNotAfterOk) {
  Control control;
  CommandAction action(svc_, registry_, control);
  svc_.add_observer(action);
  svc_.start({});
  add("m1", true);
  add("m2", true);
  registry_.find("m1")->rec.group_ids = {7};
  registry_.find("m2")->rec.group_ids = {7};
  alerts::Alert alert;
  alert.id = 42;
  alert.rule_id = 3;
  alert.device = "on";
  const json fallback = json::array({{{"type", "escalate"}, {"to", "critical"}}});
  action.run(alert, {{"type", "command"}, {"name", "close"}, {"target", {{"group", 7}}}, {"ack_timeout_s", 2},
                     {"on_timeout", fallback}},
             control);
  ASSERT_EQ(pub_.sent.size(), 2u);
  EXPECT_EQ(control.records.size(), 2u);  // one "sent" step per member
  // One member confirms, the other stays silent: the fallback runs once.
  svc_.on_ack(*registry_.find("m1"), json{{"id", pub_.sent[0].second["id"]}, {"status", "ok"}}.dump());
  EXPECT_TRUE(control.fallbacks.empty());
  advance_s(2);
  svc_.tick(clock_.now_us());
  ASSERT_EQ(control.fallbacks.size(), 1u);
  EXPECT_EQ(control.fallbacks[0], fallback);

  // A group without members: nothing can confirm, the fallback runs at once.
  action.run(alert, {{"type", "command"}, {"name", "close"}, {"target", {{"group", 99}}}, {"on_timeout", fallback}},
             control);
  EXPECT_EQ(control.fallbacks.size(), 2u);
  // The alert's own device, acked ok: no fallback.
  action.run(alert, {{"type", "command"}, {"name", "backup"}, {"on_timeout", fallback}}, control);
  svc_.on_ack(*registry_.find("on"), json{{"id", pub_.sent.back().second["id"]}, {"status", "ok"}}.dump());
  advance_s(30);
  svc_.tick(clock_.now_us());
  EXPECT_EQ(control.fallbacks.size(), 2u);
  EXPECT_GE(metrics_.histogram("peregrine_action_latency_seconds", "", metrics::exponential_buckets(50e-6, 2, 16)).count(), 3u);
}

}  // namespace
}  // namespace peregrine::commands
