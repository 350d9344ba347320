// The alert store's spill records: every op that can wait on disk while
// PostgreSQL is away comes back as it went in, in order; a deferred
// publish is not kept (it would be too late when replayed).
#include "storage/alert_spill.hpp"

#include <gtest/gtest.h>

namespace peregrine::storage {
namespace {

using nlohmann::json;

TEST(AlertSpill, CommandsJobsAndItemsRoundTripInOrder) {
  commands::Command c;
  c.id = "0ba8f1ba-48fc-46be-a6b9-4d3237f80ce9";
  c.tenant = 3;
  c.device = "valve-1";
  c.name = "close";
  c.params = {{"pct", 0}};
  c.status = commands::Status::timed_out;
  c.detail = "no ack within 5 s";
  c.created_by = "rule:7";
  c.created_at = 1'000;
  c.sent_at = 2'000;
  c.finished_at = 7'000;
  c.ack_timeout_s = 5;
  c.expires_at = 9'000;
  c.alert_id = 12;
  c.run_id = "run-1";
  c.alert_device = "o2-1";
  c.on_timeout = json::array({{{"type", "escalate"}, {"to", "critical"}}});
  jobs::Job j;
  j.id = 4;
  j.tenant = 3;
  j.kind = "batch_command";
  j.state = jobs::State::failed;
  j.total = 2;
  j.done = 1;
  j.failed = 1;
  j.params = {{"group", 9}};
  j.created_by = "op@example.org";
  j.created_at = 500;
  j.finished_at = 8'000;
  const jobs::JobItem item{4, 2, "valve-2", "timed_out", "no ack", c.id};
  const commands::CommandEvent ev{c.id, "timed_out", 7'000, "no ack within 5 s"};
  std::vector<AlertOp> ops = {c, ev, j, item,
                              PublishOp{"devices/valve-1/commands", "{}", std::make_shared<std::atomic<bool>>(false)}};

  std::vector<AlertOp> back;
  ASSERT_TRUE(decode_alert_ops(encode_alert_ops(ops), back));
  ASSERT_EQ(back.size(), 4u) << "the publish is not spilled";
  const auto& c2 = std::get<commands::Command>(back[0]);
  EXPECT_EQ(commands::to_record_json(c2), commands::to_record_json(c));
  const auto& e2 = std::get<commands::CommandEvent>(back[1]);
  EXPECT_EQ(e2.command_id, ev.command_id);
  EXPECT_EQ(e2.detail, ev.detail);
  EXPECT_EQ(jobs::to_record_json(std::get<jobs::Job>(back[2])), jobs::to_record_json(j));
  EXPECT_EQ(jobs::to_record_json(std::get<jobs::JobItem>(back[3])), jobs::to_record_json(item));
}

TEST(AlertSpill, AnActionEventKeepsItsKind) {
  const alerts::AlertEvent e{12, alerts::EventKind::action, "system", 5, "command close: sent", 0};
  std::vector<AlertOp> back;
  ASSERT_TRUE(decode_alert_ops(encode_alert_ops({e}), back));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(std::get<alerts::AlertEvent>(back[0]).kind, alerts::EventKind::action);
}

TEST(AlertSpill, AMalformedRecordIsRefused) {
  std::vector<AlertOp> back;
  EXPECT_FALSE(decode_alert_ops(R"([{"op":"command","id":"x"}])", back));
  EXPECT_FALSE(decode_alert_ops(R"([{"op":"what"}])", back));
}

TEST(AlertSpill, NotifyStepsAndLifecycleEventsRoundTrip) {
  notifications::NotifyRequest step;
  step.alert_id = 41;
  step.tenant = 2;
  step.device = "co-1";
  step.event = "alert.opened";
  step.channel_id = 7;
  step.mode = notifications::ContactMode::ids;
  step.contact_ids = {3, 5};
  step.kind = "emergency";
  step.repeat_s = 600;
  step.conditional = true;
  step.due_at = 5'000'000;
  step.opened_at = 4'000'000;
  step.payload = R"({"event":"alert.opened","alert":{"id":41}})";
  notifications::NotifyRequest ack;
  ack.alert_id = 41;
  ack.tenant = 2;
  ack.event = "alert.acknowledged";
  ack.cancel_reason = "acknowledged";
  std::vector<AlertOp> back;
  ASSERT_TRUE(decode_alert_ops(encode_alert_ops({step, ack}), back));
  ASSERT_EQ(back.size(), 2u);
  const auto& s = std::get<notifications::NotifyRequest>(back[0]);
  EXPECT_EQ(s.alert_id, 41);
  EXPECT_EQ(s.tenant, 2);
  EXPECT_EQ(s.device, "co-1");
  EXPECT_EQ(s.channel_id, 7);
  EXPECT_EQ(s.mode, notifications::ContactMode::ids);
  EXPECT_EQ(s.contact_ids, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(s.kind, "emergency");
  EXPECT_EQ(s.repeat_s, 600);
  EXPECT_TRUE(s.conditional);
  EXPECT_EQ(s.due_at, 5'000'000);
  EXPECT_EQ(s.opened_at, 4'000'000);
  EXPECT_EQ(s.payload, step.payload);
  const auto& a = std::get<notifications::NotifyRequest>(back[1]);
  EXPECT_EQ(a.channel_id, 0);
  EXPECT_EQ(a.event, "alert.acknowledged");
  EXPECT_EQ(a.cancel_reason, "acknowledged");
}

}  // namespace
}  // namespace peregrine::storage
