// Channels as data (validation, masking, PATCH keeping secrets), the texts
// rendered from an alert event, the notify executor's outbox requests and
// lifecycle events, and silences.
#include <peregrine/notifications/channel.hpp>
#include <peregrine/notifications/notify.hpp>

#include <gtest/gtest.h>

namespace peregrine::notifications {
namespace {

using nlohmann::json;

std::optional<ChannelSpec> parse(const json& body, const ChannelSpec* current, ChannelError& err) {
  return parse_channel(body, current, err);
}

TEST(Channels, EachTypeNeedsItsFieldsAndRefusesOthers) {
  ChannelError err;
  EXPECT_TRUE(parse({{"type", "webhook"}, {"name", "h"}, {"url", "https://x.example/h"}, {"secret", "0123456789abcdef"}},
                    nullptr, err));
  EXPECT_FALSE(parse({{"type", "webhook"}, {"name", "h"}, {"url", "https://x.example/h"}}, nullptr, err));
  EXPECT_EQ(err.field, "secret");
  EXPECT_FALSE(parse({{"type", "webhook"}, {"name", "h"}, {"url", "ftp://x"}, {"secret", "0123456789abcdef"}}, nullptr, err));
  EXPECT_EQ(err.field, "url");
  EXPECT_FALSE(parse({{"type", "sms"}, {"name", "s"}, {"api_url", "https://api.twilio.com"}, {"account_sid", "AC1"},
                      {"auth_token", "t"}, {"from", "0151 123"}},
                     nullptr, err));
  EXPECT_EQ(err.field, "from");
  EXPECT_FALSE(parse({{"type", "email"}, {"name", "m"}, {"smtp_url", "smtp://u:p@mail.example"}, {"from", "a@b.example"}},
                     nullptr, err));
  EXPECT_EQ(err.field, "smtp_url") << "credentials belong in username/password";
  EXPECT_FALSE(parse({{"type", "email"}, {"name", "m"}, {"smtp_url", "smtps://mail.example"}, {"from", "a@b.example"},
                      {"url", "x"}},
                     nullptr, err));
  EXPECT_EQ(err.field, "url");
  EXPECT_FALSE(parse({{"type", "pager"}, {"name", "p"}}, nullptr, err));
  EXPECT_EQ(err.field, "type");
}

TEST(Channels, SecretsAreMaskedAndAPatchKeepsThemUnlessReplaced) {
  ChannelError err;
  const auto spec = parse({{"type", "sms"}, {"name", "s"}, {"api_url", "https://api.twilio.com"}, {"account_sid", "AC1"},
                           {"auth_token", "token-secret"}, {"from", "+15550000001"}},
                          nullptr, err);
  ASSERT_TRUE(spec) << err.message;
  const json shown = public_fields(*spec);
  EXPECT_EQ(shown["auth_token"], kMasked);
  EXPECT_EQ(shown["account_sid"], "AC1");
  EXPECT_EQ(shown.dump().find("token-secret"), std::string::npos);
  auto kept = parse({{"name", "renamed"}, {"auth_token", kMasked}}, &*spec, err);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->secrets["auth_token"], "token-secret");
  EXPECT_EQ(kept->name, "renamed");
  auto replaced = parse({{"auth_token", "new-secret"}}, &*spec, err);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->secrets["auth_token"], "new-secret");
  EXPECT_FALSE(parse({{"type", "voice"}}, &*spec, err));
  EXPECT_EQ(err.field, "type");
}

json payload() {
  return {{"event", "alert.opened"},
          {"alert",
           {{"id", 12}, {"device", "co-1"}, {"device_name", "Kitchen <CO>"}, {"metric", "co"}, {"value", 62.5},
            {"severity", "critical"}, {"message", "CO high: co > 50 (value 62.5)"},
            {"opened_at", "2026-12-02T10:00:00.000Z"}, {"url", "http://dash.example/#/alerts/12"}}}};
}

TEST(Messages, EveryTextSaysDeviceMetricValueRuleTimeAndLink) {
  const Message m = render(payload());
  for (const std::string& s : {m.text, m.sms}) {
    for (const char* want : {"co-1", "co", "62.5", "http://dash.example/#/alerts/12"})
      EXPECT_NE(s.find(want), std::string::npos) << want << " not in " << s;
  }
  EXPECT_NE(m.text.find("CO high"), std::string::npos);
  EXPECT_NE(m.text.find("2026-12-02T10:00:00.000Z"), std::string::npos);
  EXPECT_NE(m.subject.find("[CRITICAL]"), std::string::npos) << m.subject;
  // HTML and TwiML escape what they carry.
  EXPECT_NE(m.html.find("Kitchen &lt;CO&gt;"), std::string::npos);
  EXPECT_EQ(m.html.find("Kitchen <CO>"), std::string::npos);
  EXPECT_TRUE(m.twiml.starts_with("<Response><Say>"));
  EXPECT_EQ(m.twiml.find("<CO>"), std::string::npos);
  EXPECT_LE(m.sms.size(), 320u);
  json again = payload();
  again["reminder"] = 2;
  EXPECT_TRUE(render(again).sms.starts_with("Reminder 2: ")) << render(again).sms;
}

struct FakeOutbox : Outbox {
  std::vector<NotifyRequest> seen;
  void notify(const NotifyRequest& r) override { seen.push_back(r); }
};
struct FakeControl : alerts::AlertControl {
  std::vector<std::string> steps;
  void escalate_later(alerts::AlertId, rules::Severity, std::string, std::string) override {}
  void record_action(alerts::AlertId, core::TenantId, std::string detail) override { steps.push_back(detail); }
  void run_actions_later(alerts::Alert, json, std::string) override {}
};
struct FixedClock : core::Clock {
  core::Micros now = 1'000'000'000;
  core::Micros now_us() const noexcept override { return now; }
};

TEST(NotifyAction, AStepGoesToTheOutboxWithItsDelayAndLaterTransitionsFollow) {
  devices::Registry registry;
  FakeOutbox outbox;
  FakeControl control;
  FixedClock clock;
  NotifyAction action(outbox, registry, clock, {.public_url = "http://dash.example/"});
  alerts::Alert a;
  a.id = 5;
  a.tenant = 3;
  a.device = "co-1";
  a.opened_at = clock.now - 1000;
  action.run(a, {{"type", "notify"}, {"channel", 9}, {"contacts", {1, 2}}, {"kind", "emergency"}, {"after_s", 60},
                 {"repeat_s", 600}},
             control);
  ASSERT_EQ(outbox.seen.size(), 1u);
  const NotifyRequest& r = outbox.seen[0];
  EXPECT_EQ(r.channel_id, 9);
  EXPECT_EQ(r.mode, ContactMode::ids);
  EXPECT_EQ(r.contact_ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(r.kind, "emergency");
  EXPECT_TRUE(r.conditional);
  EXPECT_EQ(r.repeat_s, 600);
  EXPECT_EQ(r.due_at, clock.now + 60'000'000);
  const json body = json::parse(r.payload);
  EXPECT_EQ(body["event"], "alert.opened");
  EXPECT_EQ(body["alert"]["url"], "http://dash.example/#/alerts/5");
  ASSERT_EQ(control.steps.size(), 1u);
  EXPECT_NE(control.steps[0].find("after 60 s"), std::string::npos);

  alerts::AlertEvent ack{5, alerts::EventKind::acknowledged, "op@example.org", clock.now, "", 0};
  action.on_transition(a, ack);
  ASSERT_EQ(outbox.seen.size(), 2u);
  EXPECT_EQ(outbox.seen[1].channel_id, 0);
  EXPECT_EQ(outbox.seen[1].event, "alert.acknowledged");
  EXPECT_EQ(outbox.seen[1].cancel_reason, "acknowledged");
  action.on_transition(a, {5, alerts::EventKind::escalated, "system", clock.now, "", 0});
  EXPECT_EQ(outbox.seen[2].event, "alert.escalated");
  EXPECT_TRUE(outbox.seen[2].cancel_reason.empty()) << "an escalation cancels nothing";
  action.on_transition(a, {5, alerts::EventKind::opened, "system", clock.now, "", 0});
  EXPECT_EQ(outbox.seen.size(), 3u) << "an opening's notifications are its actions";
}

TEST(Silences, CoverByDeviceGroupOrRuleWithinTheirWindowAndTenant) {
  devices::Registry registry;
  devices::DeviceRecord rec;
  rec.id = "co-1";
  rec.tenant = 3;
  rec.group_ids = {7};
  registry.add(rec);
  Silences silences(registry);
  silences.load({{1, 3, "", 7, 0, 100, 200}, {2, 3, "", 0, 42, 300, 400}, {3, 4, "co-1", 0, 0, 0, 1000}});
  alerts::Alert a;
  a.tenant = 3;
  a.device = "co-1";
  a.rule_id = 42;
  EXPECT_EQ(silences.silenced(a, 50), std::nullopt) << "before the window";
  EXPECT_EQ(silences.silenced(a, 150), 1) << "the device's group";
  EXPECT_EQ(silences.silenced(a, 250), std::nullopt) << "between windows; tenant 4's device silence is not ours";
  EXPECT_EQ(silences.silenced(a, 350), 2) << "the rule";
  silences.remove(3, 2);
  EXPECT_EQ(silences.silenced(a, 350), std::nullopt);
}

}  // namespace
}  // namespace peregrine::notifications
