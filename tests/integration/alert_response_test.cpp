// Alert response against the real servers and local fakes of the providers
// (tests/support/fake_providers.py): a CO alarm texts, calls and mails the
// family at once and calls the emergency contact when nobody acknowledges;
// acknowledging first cancels that step; failed deliveries retry with
// back-off and honour Retry-After; pending deliveries survive a restart and
// go out once; a silence keeps notifications and commands from running but
// not the alert; secrets never come back or reach the log; incidents walk
// their states with a timeline, maintenance and audit, walled per tenant;
// HTTP ingest keeps metric case and checks `device_id`.
#include <peregrine/core/time_format.hpp>

#include "support/alerting_fixture.hpp"
#include "support/fake_providers.hpp"
#include "support/mqtt_listener.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class AlertResponseTest : public AlertingTest {
 protected:
  void SetUp() override {
    AlertingTest::SetUp();
    if (IsSkipped()) return;
    fakes_ = std::make_unique<FakeProviders>();
    ASSERT_TRUE(fakes_->start()) << "tests/support/fake_providers.py did not start (python3-aiosmtpd?)";
  }

  std::map<std::string, std::string> env() const {
    return {{"PEREGRINE_NOTIFY_RETRY_BASE_MS", "200"},
            {"PEREGRINE_PUBLIC_URL", "http://dash.example"},
            {"PEREGRINE_NOTIFY_MAX_ATTEMPTS", "5"}};
  }

  std::int64_t created(const HttpResponse& r) const {
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json().value("id", std::int64_t{0}) : 0;
  }

  std::int64_t webhook(const std::string& name = "hook") const {
    return created(call("POST", "/api/v1/channels",
                        json{{"type", "webhook"}, {"name", name}, {"url", fakes_->base_url() + "/hook/" + name},
                             {"secret", FakeProviders::kSecret}}));
  }
  std::int64_t phone_channel(const std::string& type) const {
    return created(call("POST", "/api/v1/channels",
                        json{{"type", type}, {"name", type}, {"api_url", fakes_->base_url()},
                             {"account_sid", FakeProviders::kSid}, {"auth_token", FakeProviders::kToken},
                             {"from", "+15550000001"}}));
  }
  std::int64_t email_channel() const {
    return created(call("POST", "/api/v1/channels",
                        json{{"type", "email"}, {"name", "mail"},
                             {"smtp_url", "smtp://127.0.0.1:" + std::to_string(fakes_->smtp_port())},
                             {"from", "alarm@example.org"}, {"username", FakeProviders::kSmtpUser},
                             {"password", FakeProviders::kSmtpPassword}, {"starttls", "optional"}}));
  }

  /// The device exists as a row (contacts link to stored devices).
  void provision(const std::string& dev) {
    publish(dev, {{"co", 1}});
    ASSERT_TRUE(eventually([&] { return db_->scalar("SELECT count(*) FROM devices WHERE id = '" + dev + "'") == 1; }));
  }

  /// A CO > 50 rule on `dev` with `actions`, and the alert it opens for 80 ppm.
  std::int64_t alarm(const std::string& dev, const json& actions) {
    json rule = threshold_rule("CO high " + dev, "co", dev, {{"op", ">"}, {"value", 50}});
    rule["actions"] = actions;
    if (create_rule(rule) == 0) return 0;
    publish(dev, {{"co", 80}});
    std::int64_t id = 0;
    eventually([&] {
      const auto r = get("/api/v1/alerts?device=" + dev);
      if (r.status != 200 || r.json()["items"].empty()) return false;
      id = r.json()["items"][0]["id"];
      return db_->scalar("SELECT count(*) FROM alerts WHERE id = " + std::to_string(id)) == 1;
    });
    EXPECT_GT(id, 0) << "no alert opened for " << dev;
    return id;
  }

  json requests_to(const std::string& kind, const std::string& to) const {
    json out = json::array();
    for (const auto& r : fakes_->requests(kind))
      if (r["form"].value("To", "") == to) out.push_back(r);
    return out;
  }

  json events_of(std::int64_t alert) const { return get("/api/v1/alerts/" + std::to_string(alert)).json()["events"]; }

  static bool has_event(const json& events, const std::string& text) {
    for (const auto& e : events)
      if (e.value("detail", "").find(text) != std::string::npos) return true;
    return false;
  }

  std::unique_ptr<FakeProviders> fakes_;
};

TEST_F(AlertResponseTest, CoAlarmReachesTheFamilyAtOnceAndTheEmergencyContactWhenNobodyAcks) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-kitchen");
  provision(dev);
  const std::int64_t sms = phone_channel("sms"), voice = phone_channel("voice"), mail = email_channel();
  const std::int64_t mum = created(call("POST", "/api/v1/contacts",
                                        json{{"name", "Mum"}, {"phone", "+4915100000001"},
                                             {"email", "mum@example.org"}, {"kind", "personal"},
                                             {"device_ids", {dev}}}));
  created(call("POST", "/api/v1/contacts", json{{"name", "Neighbour"}, {"phone", "+4915100000009"},
                                               {"kind", "emergency"}, {"device_ids", {dev}}}));
  ASSERT_GT(mum, 0);
  const std::int64_t alert = alarm(dev, json::array({
      {{"type", "notify"}, {"channel", sms}, {"contacts", "device"}, {"kind", "personal"}},
      {{"type", "notify"}, {"channel", voice}, {"contacts", "device"}, {"kind", "personal"}},
      {{"type", "notify"}, {"channel", mail}, {"contacts", {mum}}},
      {{"type", "notify"}, {"channel", voice}, {"contacts", "device"}, {"kind", "emergency"}, {"after_s", 2}},
  }));
  ASSERT_GT(alert, 0);

  ASSERT_TRUE(eventually([&] { return requests_to("sms", "+4915100000001").size() == 1; }, 10s))
      << fakes_->requests().dump();
  const json text = requests_to("sms", "+4915100000001")[0];
  EXPECT_TRUE(text.value("auth_ok", false));
  EXPECT_EQ(text["form"].value("From", ""), "+15550000001");
  const std::string body = text["form"].value("Body", "");
  EXPECT_NE(body.find(dev), std::string::npos) << body;
  EXPECT_NE(body.find("80"), std::string::npos) << body;
  EXPECT_NE(body.find("http://dash.example/#/alerts/" + std::to_string(alert)), std::string::npos) << body;

  ASSERT_TRUE(eventually([&] { return requests_to("voice", "+4915100000001").size() == 1; }, 10s));
  const std::string twiml = requests_to("voice", "+4915100000001")[0]["form"].value("Twiml", "");
  EXPECT_TRUE(twiml.starts_with("<Response><Say>")) << twiml;
  EXPECT_NE(twiml.find("co is 80"), std::string::npos) << twiml;
  // The emergency step waits for its after_s.
  EXPECT_TRUE(requests_to("voice", "+4915100000009").empty());

  ASSERT_TRUE(eventually([&] { return fakes_->mails().size() == 1; }, 10s));
  const json m = fakes_->mails()[0];
  EXPECT_EQ(m["to"], json::array({"mum@example.org"}));
  EXPECT_EQ(m.value("login", ""), FakeProviders::kSmtpUser);
  const std::string mail_text = m.value("text", "");
  for (const std::string& want : {dev, std::string("80"), std::string("CO high"), std::string("co"),
                                  "http://dash.example/#/alerts/" + std::to_string(alert)})
    EXPECT_NE(mail_text.find(want), std::string::npos) << want << " not in: " << mail_text;
  EXPECT_NE(m.value("html", "").find("<a href=\"http://dash.example/#/alerts/"), std::string::npos);

  // Nobody acknowledged: the neighbour is called.
  ASSERT_TRUE(eventually([&] { return requests_to("voice", "+4915100000009").size() == 1; }, 10s))
      << fakes_->requests().dump();

  const auto listed = get("/api/v1/notifications?alert=" + std::to_string(alert));
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json()["items"].size(), 4u) << listed.body;
  ASSERT_TRUE(eventually([&] {
    const json items = get("/api/v1/notifications?alert=" + std::to_string(alert)).json()["items"];
    for (const auto& n : items)
      if (n.value("status", "") != "sent") return false;
    return true;
  }));
  EXPECT_EQ(get("/api/v1/alerts/" + std::to_string(alert)).json()["notifications"].size(), 4u);
  EXPECT_GE(metric("peregrine_notifications_total", {{"type", "sms"}, {"status", "sent"}}), 1);
  EXPECT_GE(metric("peregrine_notification_latency_seconds_count"), 3);
}

TEST_F(AlertResponseTest, AcknowledgingFirstCancelsTheEscalationStepAndTellsTheWebhook) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-hall");
  provision(dev);
  const std::int64_t voice = phone_channel("voice"), hook = webhook();
  created(call("POST", "/api/v1/contacts", json{{"name", "Neighbour"}, {"phone", "+4915100000009"},
                                               {"kind", "emergency"}, {"device_ids", {dev}}}));
  const std::int64_t alert = alarm(dev, json::array({
      {{"type", "notify"}, {"channel", hook}},
      {{"type", "notify"}, {"channel", voice}, {"kind", "emergency"}, {"after_s", 3}},
  }));
  ASSERT_GT(alert, 0);
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 1; }));
  const auto ack = call("POST", "/api/v1/alerts/" + std::to_string(alert) + "/ack");
  ASSERT_EQ(ack.status, 200) << ack.body;

  ASSERT_TRUE(eventually([&] { return has_event(events_of(alert), "notifications cancelled: 1 pending (acknowledged)"); }))
      << events_of(alert).dump();
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 2; }));
  const json hooks = fakes_->requests("webhook");
  EXPECT_EQ(hooks[0]["body"].value("event", ""), "alert.opened");
  EXPECT_EQ(hooks[1]["body"].value("event", ""), "alert.acknowledged");
  EXPECT_EQ(hooks[1]["body"]["alert"].value("state", ""), "acknowledged");
  for (const auto& h : hooks) EXPECT_TRUE(h.value("signature_ok", false)) << h.dump();
  EXPECT_NE(hooks[0]["delivery"], hooks[1]["delivery"]);

  std::this_thread::sleep_for(3500ms);  // past the step's after_s
  EXPECT_TRUE(requests_to("voice", "+4915100000009").empty()) << fakes_->requests().dump();
  bool cancelled = false;
  const auto listed = get("/api/v1/notifications?alert=" + std::to_string(alert));
  const json items = listed.json()["items"];
  for (const auto& n : items)
    cancelled = cancelled || (n.value("channel_type", "") == "voice" && n.value("status", "") == "cancelled");
  EXPECT_TRUE(cancelled) << listed.body;
}

TEST_F(AlertResponseTest, RemindersRepeatUntilTheAlertIsAcknowledged) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-remind");
  const std::int64_t hook = webhook();
  const std::int64_t alert = alarm(dev, json::array({{{"type", "notify"}, {"channel", hook}, {"repeat_s", 10}}}));
  ASSERT_GT(alert, 0);
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 1; }));
  // The reminder is due 10 s after the first delivery.
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 2; }, 15s)) << fakes_->requests().dump();
  const json hooks = fakes_->requests("webhook");
  EXPECT_GE(hooks[1]["at"].get<double>() - hooks[0]["at"].get<double>(), 9.5);
  EXPECT_EQ(hooks[1]["body"].value("reminder", 0), 1);
  EXPECT_NE(hooks[0]["delivery"], hooks[1]["delivery"]) << "a reminder is a delivery of its own";
  ASSERT_EQ(call("POST", "/api/v1/alerts/" + std::to_string(alert) + "/ack").status, 200);
  ASSERT_TRUE(eventually([&] { return has_event(events_of(alert), "notifications cancelled: 1 pending (acknowledged)"); }))
      << events_of(alert).dump();
  const json items = get("/api/v1/notifications?alert=" + std::to_string(alert)).json()["items"];
  int cancelled = 0;
  for (const auto& n : items)
    if (n.value("reminder", 0) == 2 && n.value("status", "") == "cancelled") ++cancelled;
  EXPECT_EQ(cancelled, 1) << items.dump();
}

TEST_F(AlertResponseTest, FailedDeliveriesRetryWithBackoffAndHonourRetryAfter) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-retry");
  const std::int64_t hook = webhook();
  fakes_->script({{"webhook", {500, 500}}});
  const std::int64_t alert = alarm(dev, json::array({{{"type", "notify"}, {"channel", hook}}}));
  ASSERT_GT(alert, 0);
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 3; }, 15s)) << fakes_->requests().dump();
  json hooks = fakes_->requests("webhook");
  EXPECT_EQ(hooks[0]["status"], 500);
  EXPECT_EQ(hooks[1]["status"], 500);
  EXPECT_EQ(hooks[2]["status"], 200);
  EXPECT_EQ(hooks[0]["delivery"], hooks[2]["delivery"]) << "a retry keeps its delivery id";
  EXPECT_EQ(hooks[1]["delivery"], hooks[2]["delivery"]);
  // Back-off 200 ms then 400 ms, each with jitter in [0.5, 1).
  const double gap1 = hooks[1]["at"].get<double>() - hooks[0]["at"].get<double>();
  const double gap2 = hooks[2]["at"].get<double>() - hooks[1]["at"].get<double>();
  EXPECT_GE(gap1, 0.09);
  EXPECT_GE(gap2, 0.19);
  ASSERT_TRUE(eventually([&] {
    const json n = get("/api/v1/notifications?alert=" + std::to_string(alert)).json()["items"];
    return n.size() == 1 && n[0].value("status", "") == "sent" && n[0].value("attempts", 0) == 3;
  })) << get("/api/v1/notifications?alert=" + std::to_string(alert)).body;
  EXPECT_GE(metric("peregrine_notifications_total", {{"type", "webhook"}, {"status", "retry"}}), 2);

  // 429 with Retry-After: 2 is waited out, not the 200 ms back-off.
  fakes_->script({{"webhook", {429}}, {"retry_after", "2"}});
  ASSERT_EQ(call("POST", "/api/v1/alerts/" + std::to_string(alert) + "/resolve").status, 200);
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 5; }, 15s)) << fakes_->requests().dump();
  hooks = fakes_->requests("webhook");
  EXPECT_EQ(hooks[3]["status"], 429);
  EXPECT_EQ(hooks[4]["status"], 200);
  EXPECT_EQ(hooks[4]["body"].value("event", ""), "alert.resolved");
  EXPECT_GE(hooks[4]["at"].get<double>() - hooks[3]["at"].get<double>(), 1.9);

  // A 4xx other than 408/429 is final.
  const std::string dev2 = device("co-gone");
  fakes_->script({{"webhook", {410}}});
  const std::int64_t alert2 = alarm(dev2, json::array({{{"type", "notify"}, {"channel", hook}}}));
  ASSERT_TRUE(eventually([&] {
    const json n = get("/api/v1/notifications?alert=" + std::to_string(alert2)).json()["items"];
    return n.size() == 1 && n[0].value("status", "") == "failed";
  }));
  const json failed = get("/api/v1/notifications?alert=" + std::to_string(alert2)).json()["items"][0];
  EXPECT_EQ(failed.value("attempts", 0), 1);
  EXPECT_NE(failed.value("last_error", "").find("HTTP 410"), std::string::npos) << failed.dump();
}

TEST_F(AlertResponseTest, PendingDeliveriesSurviveARestartAndGoOutExactlyOnce) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-restart");
  const std::int64_t hook = webhook();
  fakes_->script({{"webhook", json(std::vector<int>(200, 503))}, {"retry_after", "1"}});
  const std::int64_t alert = alarm(dev, json::array({{{"type", "notify"}, {"channel", hook}}}));
  ASSERT_GT(alert, 0);
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() >= 1; }));
  ASSERT_EQ(server_->sigterm_and_wait(), 0);
  fakes_->script({{"webhook", json::array()}});  // the provider is back
  const std::string delivery = fakes_->requests("webhook")[0].value("delivery", "");
  ASSERT_TRUE(start_server(env()));
  ASSERT_TRUE(eventually([&] {
    for (const auto& h : fakes_->requests("webhook"))
      if (h["status"] == 200) return true;
    return false;
  }, 15s)) << fakes_->requests().dump();
  std::this_thread::sleep_for(1500ms);
  int accepted = 0;
  for (const auto& h : fakes_->requests("webhook")) {
    EXPECT_EQ(h.value("delivery", ""), delivery) << "one delivery, one id";
    if (h["status"] == 200) ++accepted;
  }
  EXPECT_EQ(accepted, 1);
  const json n = get("/api/v1/notifications?alert=" + std::to_string(alert)).json()["items"];
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value("status", ""), "sent");
}

TEST_F(AlertResponseTest, ASilenceKeepsNotificationsAndCommandsFromRunningButNotTheAlert) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("co-quiet");
  provision(dev);
  const std::int64_t hook = webhook();
  const auto s = call("POST", "/api/v1/silences",
                      json{{"device", dev},
                           {"to", core::format_rfc3339((now_ms() + 3'600'000) * 1000)},
                           {"reason", "sensor replacement"}});
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_TRUE(s.json().value("active", false));
  MqttListener commands(env_->mqtt_url, "devices/+/commands");
  const std::int64_t alert = alarm(dev, json::array({{{"type", "notify"}, {"channel", hook}},
                                                     {{"type", "command"}, {"name", "activate_backup"}}}));
  ASSERT_GT(alert, 0);
  ASSERT_TRUE(eventually([&] { return has_event(events_of(alert), "not run: silenced"); })) << events_of(alert).dump();
  EXPECT_TRUE(get("/api/v1/alerts/" + std::to_string(alert)).json().value("silenced", false));
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(fakes_->requests("webhook").empty()) << fakes_->requests().dump();
  EXPECT_TRUE(commands.messages().empty());
  EXPECT_TRUE(get("/api/v1/notifications?alert=" + std::to_string(alert)).json()["items"].empty());

  // Lifted: the next alert notifies again.
  const std::int64_t sid = s.json()["id"];
  ASSERT_EQ(call("DELETE", "/api/v1/silences/" + std::to_string(sid)).status, 204);
  ASSERT_EQ(call("POST", "/api/v1/alerts/" + std::to_string(alert) + "/resolve").status, 200);
  publish(dev, {{"co", 10}});
  publish(dev, {{"co", 90}});
  ASSERT_TRUE(eventually([&] { return fakes_->requests("webhook").size() == 1; }, 10s)) << fakes_->requests().dump();
}

TEST_F(AlertResponseTest, SecretsNeverComeBackAndNeverReachTheLog) {
  ASSERT_TRUE(start_server(env()));
  const std::int64_t hook = webhook(), sms = phone_channel("sms"), mail = email_channel();
  for (const std::int64_t id : {hook, sms, mail}) {
    const auto r = get("/api/v1/channels/" + std::to_string(id));
    ASSERT_EQ(r.status, 200);
    for (const char* secret : {FakeProviders::kSecret, FakeProviders::kToken, FakeProviders::kSmtpPassword})
      EXPECT_EQ(r.body.find(secret), std::string::npos) << r.body;
  }
  EXPECT_EQ(get("/api/v1/channels/" + std::to_string(hook)).json().value("secret", ""), "********");
  EXPECT_EQ(get("/api/v1/channels/" + std::to_string(sms)).json().value("auth_token", ""), "********");
  const auto list = get("/api/v1/channels");
  EXPECT_EQ(list.body.find(FakeProviders::kToken), std::string::npos);

  // A PATCH that leaves the secret out (or masked) keeps it: the test message is still signed.
  ASSERT_EQ(call("PATCH", "/api/v1/channels/" + std::to_string(hook), json{{"name", "renamed"}, {"secret", "********"}}).status, 200);
  const auto t = call("POST", "/api/v1/channels/" + std::to_string(hook) + "/test", json::object());
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_TRUE(t.json().value("ok", false)) << t.body;
  ASSERT_EQ(fakes_->requests("webhook").size(), 1u);
  EXPECT_TRUE(fakes_->requests("webhook")[0].value("signature_ok", false));
  const auto ts = call("POST", "/api/v1/channels/" + std::to_string(sms) + "/test", json{{"to", "+4915100000001"}});
  EXPECT_TRUE(ts.json().value("ok", false)) << ts.body;
  const auto tm = call("POST", "/api/v1/channels/" + std::to_string(mail) + "/test", json{{"to", "ops@example.org"}});
  EXPECT_TRUE(tm.json().value("ok", false)) << tm.body;
  EXPECT_EQ(fakes_->mails().size(), 1u);
  // A wrong password is refused by the provider, and that is the answer.
  ASSERT_EQ(call("PATCH", "/api/v1/channels/" + std::to_string(sms), json{{"auth_token", "wrong-token"}}).status, 200);
  const auto bad = call("POST", "/api/v1/channels/" + std::to_string(sms) + "/test", json{{"to", "+4915100000001"}});
  EXPECT_FALSE(bad.json().value("ok", true)) << bad.body;
  EXPECT_EQ(bad.json().value("status", 0), 401);
  // Bad input is a 422 naming the field.
  const auto weak = call("POST", "/api/v1/channels", json{{"type", "webhook"}, {"name", "w"}, {"url", "http://x"}, {"secret", "short"}});
  EXPECT_EQ(weak.status, 422);
  EXPECT_NE(weak.body.find("secret"), std::string::npos);

  // Neither the log nor the audit log holds a secret.
  const std::string log = file_tail(server_->log_path(), 10'000'000);
  for (const char* secret : {FakeProviders::kSecret, FakeProviders::kToken, FakeProviders::kSmtpPassword, "wrong-token"})
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%" + std::string(FakeProviders::kSecret) + "%'"), 0);
  EXPECT_GE(db_->scalar("SELECT count(*) FROM audit_log WHERE action = 'channel.update'"), 2);
}

TEST_F(AlertResponseTest, IncidentsWalkTheirStatesWithTimelineMaintenanceAndAuditWalledPerTenant) {
  ASSERT_TRUE(start_server(env()));
  const std::string a = device("pipe-a"), b = device("pipe-b");
  const std::int64_t alert_a = alarm(a, json::array()), alert_b = alarm(b, json::array());
  ASSERT_GT(alert_a, 0);
  ASSERT_GT(alert_b, 0);
  auto ws = std::make_unique<WsClient>();
  ws->connect("127.0.0.1", server_->http_port(), ws_target());
  ws->send(json{{"op", "subscribe"}, {"topics", {"incidents"}}});
  ws->send(json{{"op", "ping"}});
  ASSERT_TRUE(next_frame(*ws, "pong", [](const json&) { return true; }));

  const auto c = call("POST", "/api/v1/incidents", json{{"title", "Pressure drop, north"}, {"severity", "critical"}, {"alert_ids", {alert_a}}});
  ASSERT_EQ(c.status, 201) << c.body;
  const std::int64_t id = c.json()["id"];
  const std::string at = "/api/v1/incidents/" + std::to_string(id);
  EXPECT_EQ(c.json().value("state", ""), "open");
  ASSERT_TRUE(next_frame(*ws, "incident", [&](const json& f) { return f["incident"]["id"] == id; }));

  ASSERT_EQ(call("POST", at + "/alerts", json{{"alert_ids", {alert_b}}}).status, 200);
  EXPECT_EQ(get("/api/v1/alerts/" + std::to_string(alert_b)).json()["incident_id"], id);
  const auto me = get("/api/v1/auth/me");
  ASSERT_EQ(me.status, 200);
  const std::int64_t me_id = me.json().value("id", std::int64_t{0});
  auto p = call("PATCH", at, json{{"state", "investigating"}, {"assignee", me_id}});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json()["assignee"].value("email", ""), kAdminEmail);
  ASSERT_TRUE(next_frame(*ws, "incident", [&](const json& f) { return f["incident"]["state"] == "investigating"; }));
  EXPECT_EQ(call("POST", at + "/comments", json{{"text", "crew dispatched"}}).status, 201);
  const auto m = call("POST", at + "/maintenance",
                      json{{"note", "replaced valve"}, {"performed_by", "crew 7"},
                           {"performed_at", "2026-12-01T10:00:00Z"}, {"parts", {"valve V-12"}}});
  ASSERT_EQ(m.status, 201) << m.body;
  EXPECT_EQ(m.json()["parts"], json::array({"valve V-12"}));
  EXPECT_EQ(call("PATCH", at, json{{"state", "open"}}).status, 409);
  ASSERT_EQ(call("PATCH", at, json{{"state", "resolved"}}).status, 200);
  ASSERT_EQ(call("PATCH", at, json{{"state", "closed"}}).status, 200);
  EXPECT_EQ(call("PATCH", at, json{{"state", "investigating"}}).status, 409) << "closed is final";

  const auto g = get(at);
  ASSERT_EQ(g.status, 200);
  const json inc = g.json();
  EXPECT_EQ(inc["alert_ids"], json::array({alert_a, alert_b}));
  EXPECT_EQ(inc["alerts"].size(), 2u);
  std::vector<std::string> kinds;
  for (const auto& e : inc["timeline"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"created", "alert_added", "alert_added", "state", "assignee", "comment",
                                            "maintenance", "state", "state"}))
      << inc["timeline"].dump();
  ASSERT_EQ(inc["maintenance"].size(), 1u);
  EXPECT_EQ(inc["maintenance"][0].value("performed_at", ""), "2026-12-01T10:00:00.000Z");
  EXPECT_EQ(get("/api/v1/incidents?state=closed").json()["items"].size(), 1u);
  EXPECT_GE(db_->scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'incident.%'"), 7);

  // An alert is in one incident at most.
  const auto again = call("POST", "/api/v1/incidents", json{{"title", "dup"}, {"alert_ids", {alert_a}}});
  EXPECT_EQ(again.status, 409) << again.body;

  // Another tenant sees none of it.
  const auto t = call("POST", "/api/v1/tenants", json{{"name", "south-" + tag_}});
  ASSERT_EQ(t.status, 201) << t.body;
  const auto u = call("POST", "/api/v1/users", json{{"email", "south-" + tag_ + "@example.org"}, {"password", "password-123"},
                                                    {"role", "admin"}, {"tenant_id", t.json()["id"]}});
  ASSERT_EQ(u.status, 201) << u.body;
  const auto login = authit::request(server_->http_port(), "POST", "/api/v1/auth/login", {},
                                     json{{"email", "south-" + tag_ + "@example.org"}, {"password", "password-123"}}.dump());
  ASSERT_EQ(login.status, 200) << login.body;
  const std::map<std::string, std::string> other = {{"Authorization", "Bearer " + login.json().value("access_token", "")}};
  const std::int64_t hook = webhook("mine");
  const auto contact = call("POST", "/api/v1/contacts", json{{"name", "x"}, {"email", "x@example.org"}});
  ASSERT_EQ(contact.status, 201);
  const auto sil = call("POST", "/api/v1/silences", json{{"device", a}, {"to", core::format_rfc3339((now_ms() + 60'000) * 1000)}});
  ASSERT_EQ(sil.status, 201) << sil.body;
  const auto as_other = [&](const std::string& method, const std::string& target, const std::string& body = "") {
    return authit::request(server_->http_port(), method, target, other, body).status;
  };
  EXPECT_EQ(as_other("GET", at), 404);
  EXPECT_EQ(as_other("PATCH", at, R"({"title":"x"})"), 404);
  EXPECT_EQ(as_other("POST", at + "/comments", R"({"text":"x"})"), 404);
  EXPECT_EQ(as_other("GET", "/api/v1/channels/" + std::to_string(hook)), 404);
  EXPECT_EQ(as_other("POST", "/api/v1/channels/" + std::to_string(hook) + "/test", "{}"), 404);
  EXPECT_EQ(as_other("GET", "/api/v1/contacts/" + std::to_string(contact.json()["id"].get<std::int64_t>())), 404);
  EXPECT_EQ(as_other("DELETE", "/api/v1/silences/" + std::to_string(sil.json()["id"].get<std::int64_t>())), 404);
  EXPECT_EQ(as_other("POST", "/api/v1/incidents", json{{"title", "steal"}, {"alert_ids", {alert_a}}}.dump()), 422);
  const auto theirs = authit::request(server_->http_port(), "GET", "/api/v1/notifications?alert=" + std::to_string(alert_a), other, "");
  EXPECT_EQ(theirs.json()["items"].size(), 0u);
  EXPECT_EQ(authit::request(server_->http_port(), "GET", "/api/v1/incidents", other, "").json()["items"].size(), 0u);
}

TEST_F(AlertResponseTest, HttpIngestKeepsMetricCaseAndRefusesAnotherDevicesId) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("esp32-1");
  const auto c = call("POST", "/api/v1/devices", json{{"id", dev}});
  ASSERT_EQ(c.status, 201) << c.body;
  const std::map<std::string, std::string> headers = {{"X-Device-Token", c.json().value("token", "")}};
  const std::string path = "/api/v1/devices/" + dev + "/telemetry";
  const auto ok = authit::request(server_->http_port(), "POST", path, headers,
                                  json{{"device_id", dev}, {"Temp", 22.1}, {"Hum", 41}, {"CO", 12}}.dump());
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(ok.json().value("stored", 0), 1);
  ASSERT_TRUE(wait_rows(3, dev));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM readings WHERE device_id = '" + dev + "' AND metric IN ('Temp', 'Hum', 'CO')"), 3);
  const auto other = authit::request(server_->http_port(), "POST", path, headers, json{{"device_id", "esp32-2"}, {"CO", 12}}.dump());
  EXPECT_EQ(other.status, 400) << other.body;
  EXPECT_NE(other.body.find("device_id"), std::string::npos);
  EXPECT_EQ(metric("peregrine_ingest_rejected_total", {{"reason", "device_mismatch"}}), 1);
}

}  // namespace
}  // namespace peregrine::test
