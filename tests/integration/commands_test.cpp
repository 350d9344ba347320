// Groups, commands and the closed loop against the real servers: group
// membership steers group rules live; a command's round trip over MQTT; a
// silent device times out on the timer and its rule action's fallback runs;
// a pending command survives a restart without a second publish; an
// offline device's command waits or expires; a batch command is a job whose
// frames count up; a bulk CSV import creates the good rows.
#include <peregrine/core/time_format.hpp>

#include "support/alerting_fixture.hpp"
#include "support/mqtt_listener.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::int64_t ms_of(const json& rfc3339) {
  const auto us = core::parse_rfc3339(rfc3339.get<std::string>());
  EXPECT_TRUE(us.has_value()) << rfc3339;
  return us ? *us / 1000 : 0;
}

class CommandsTest : public AlertingTest {
 protected:
  std::unique_ptr<MqttListener> commands_listener() const {
    return std::make_unique<MqttListener>(env_->mqtt_url, "devices/+/commands");
  }

  /// The device publishes a reading (so it is online, auto-provisioned) and
  /// its row is written (groups name persisted devices only).
  void online(const std::string& dev) {
    publish(dev, {{"v", 1}});
    ASSERT_TRUE(eventually([&] {
      const auto r = get("/api/v1/devices/" + dev);
      return r.status == 200 && r.json().value("online", false) &&
             db_->scalar("SELECT count(*) FROM devices WHERE id = '" + dev + "'") == 1;
    }));
  }

  void ack(const std::string& dev, const std::string& id, const std::string& status,
           const std::string& detail = "") {
    mqtt().publish("devices/" + dev + "/commands/ack",
                   json{{"id", id}, {"status", status}, {"detail", detail}}.dump());
  }

  /// The command as GET shows it once its status is `status` (null after 20 s).
  json wait_status(const std::string& dev, const std::string& id, const std::string& status,
                   std::chrono::milliseconds timeout = 20s) {
    json last;
    eventually([&] {
      const auto r = get("/api/v1/devices/" + dev + "/commands/" + id);
      if (r.status != 200) return false;
      last = r.json();
      return last.value("status", "") == status;
    }, timeout);
    EXPECT_EQ(last.value("status", ""), status) << last.dump();
    return last.value("status", "") == status ? last : json();
  }

  std::unique_ptr<WsClient> ws_on(const std::vector<std::string>& topics) const {
    auto ws = std::make_unique<WsClient>();
    ws->connect("127.0.0.1", server_->http_port(), ws_target());
    ws->send(json{{"op", "subscribe"}, {"topics", topics}});
    ws->send(json{{"op", "ping"}});
    for (int i = 0; i < 10; ++i) {
      const auto f = ws->read_json(5s);
      if (f && f->value("type", "") == "pong") return ws;
    }
    ADD_FAILURE() << "no pong on /ws";
    return ws;
  }

  std::int64_t create_group(const std::string& name, const std::vector<std::string>& devices) {
    const auto r = call("POST", "/api/v1/groups", json{{"name", name}, {"device_ids", devices}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json().value("id", std::int64_t{0}) : 0;
  }

  static bool command_named(const MqttMessage& m, const std::string& dev, const std::string& name) {
    if (m.topic != "devices/" + dev + "/commands") return false;
    const json j = json::parse(m.payload, nullptr, false);
    return j.is_object() && j.value("name", "") == name;
  }
};

TEST_F(CommandsTest, GroupRuleAppliesWhenADeviceJoinsAndStopsWhenItLeaves) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("joiner");
  online(dev);
  const std::int64_t group = create_group(device("line"), {});
  ASSERT_GT(group, 0);
  json rule = {{"name", "group co"}, {"metric", "co"}, {"scope", {{"group", group}}},
               {"kind", "threshold"}, {"params", {{"op", ">"}, {"value", 50}}}, {"severity", "warning"}};
  const std::int64_t rule_id = create_rule(rule);
  ASSERT_GT(rule_id, 0);
  auto ws = alerts_ws();

  // Not a member: the reading is stored, no alert opens.
  publish(dev, {{"co", 60}});
  ASSERT_TRUE(wait_rows(2, dev));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts"), 0);

  // Joins: the next reading opens the rule's alert, without a restart.
  const auto joined = call("PATCH", "/api/v1/groups/" + std::to_string(group), json{{"add", {dev}}});
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(joined.json()["device_ids"], json::array({dev}));
  const auto listed = get("/api/v1/devices?group=" + std::to_string(group));
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json()["items"].size(), 1u) << listed.body;
  EXPECT_EQ(listed.json()["items"][0]["group_ids"], json::array({group}));
  publish(dev, {{"co", 61}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["rule_id"] == rule_id && a["state"] == "active"; });
  ASSERT_TRUE(opened.has_value());

  // Leaves: its open alert resolves, and a further reading opens nothing.
  const auto left = call("PATCH", "/api/v1/devices/" + dev, json{{"group_ids", json::array()}});
  ASSERT_EQ(left.status, 200) << left.body;
  const auto resolved = next_alert(*ws, [&](const json& a) { return a["id"] == (*opened)["id"] && a["state"] == "resolved"; });
  EXPECT_TRUE(resolved.has_value());
  publish(dev, {{"co", 90}});
  ASSERT_TRUE(wait_rows(4, dev));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM alerts"), 1);

  // A group a rule uses cannot be deleted; an unknown group is named.
  EXPECT_EQ(call("DELETE", "/api/v1/groups/" + std::to_string(group)).status, 409);
  const auto bad = call("PATCH", "/api/v1/devices/" + dev, json{{"group_ids", {999999}}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.body.find("999999"), std::string::npos) << bad.body;
}

TEST_F(CommandsTest, CommandRoundTripOverMqttWithLiveFrames) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("valve");
  online(dev);
  auto listener = commands_listener();
  auto ws = ws_on({"commands"});

  const auto sent = call("POST", "/api/v1/devices/" + dev + "/commands",
                         json{{"name", "activate_backup"}, {"params", {{"line", 2}}}, {"ack_timeout_s", 10}});
  ASSERT_EQ(sent.status, 201) << sent.body;
  const std::string id = sent.json().value("id", "");
  EXPECT_EQ(sent.json().value("status", ""), "sent");

  const auto msg = listener->wait_for([&](const MqttMessage& m) { return command_named(m, dev, "activate_backup"); });
  ASSERT_TRUE(msg.has_value());
  const json payload = json::parse(msg->payload);
  EXPECT_EQ(payload, (json{{"id", id}, {"name", "activate_backup"}, {"params", {{"line", 2}}}}));

  // Another device cannot ack it (the broker's ACL stops that at the door
  // when authentication is on: MqttAuthTest; here the server's own check).
  const std::string other = device("other");
  online(other);
  ack(other, id, "ok");
  ASSERT_TRUE(eventually([&] { return metric("peregrine_command_acks_total", {{"result", "wrong_device"}}) == 1; }));
  EXPECT_EQ(get("/api/v1/devices/" + dev + "/commands/" + id).json().value("status", ""), "sent");

  ack(dev, id, "ok", "on backup");
  const json done = wait_status(dev, id, "ok");
  EXPECT_EQ(done.value("detail", ""), "on backup");
  ASSERT_TRUE(done["events"].is_array());
  const auto frame = next_frame(*ws, "command", [&](const json& f) {
    return f["command"]["id"] == id && f["command"]["status"] == "ok";
  }, 15s);
  EXPECT_TRUE(frame.has_value());

  // A duplicate ack is recorded and changes nothing; a malformed one is counted.
  ack(dev, id, "error", "again");
  mqtt().publish("devices/" + dev + "/commands/ack", "not json");
  ASSERT_TRUE(eventually([&] { return metric("peregrine_command_acks_total", {{"result", "duplicate"}}) == 1; }));
  ASSERT_TRUE(eventually([&] { return metric("peregrine_command_acks_total", {{"result", "malformed"}}) == 1; }));
  ASSERT_TRUE(eventually([&] {
    const auto r = get("/api/v1/devices/" + dev + "/commands/" + id);
    return r.json()["events"].size() == 3;  // sent, ok, the duplicate ack
  }));
  const json after = get("/api/v1/devices/" + dev + "/commands/" + id).json();
  EXPECT_EQ(after.value("status", ""), "ok");
  EXPECT_EQ(after["events"][2].value("status", ""), "ack");
  const auto history = get("/api/v1/devices/" + dev + "/commands");
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.json()["items"].size(), 1u);
  EXPECT_EQ(history.json()["items"][0]["id"], id);
}

TEST_F(CommandsTest, SilentDeviceTimesOutOnTheTimerAndTheFallbackRuns) {
  ASSERT_TRUE(start_server());
  const std::string o2 = device("o2"), w1 = device("ward-1"), w2 = device("ward-2");
  online(o2);
  online(w1);
  online(w2);
  const std::int64_t ward = create_group(device("ward"), {w1, w2});
  ASSERT_GT(ward, 0);
  json rule = threshold_rule("o2 low", "o2", o2, {{"op", "<"}, {"value", 19.5}});
  rule["severity"] = "warning";
  rule["actions"] = json::array({{{"type", "command"},
                                  {"name", "activate_backup"},
                                  {"ack_timeout_s", 2},
                                  {"on_timeout",
                                   json::array({{{"type", "command"},
                                                 {"name", "close_valves"},
                                                 {"target", {{"group", ward}}},
                                                 {"ack_timeout_s", 30}},
                                                {{"type", "escalate"}, {"to", "critical"}}})}}});
  const std::int64_t rule_id = create_rule(rule);
  ASSERT_GT(rule_id, 0);
  auto listener = commands_listener();
  auto ws = alerts_ws();

  publish(o2, {{"o2", 18.2}});
  const auto opened = next_alert(*ws, [&](const json& a) { return a["rule_id"] == rule_id; });
  ASSERT_TRUE(opened.has_value());
  const std::int64_t alert_id = (*opened)["id"];
  const auto backup = listener->wait_for([&](const MqttMessage& m) { return command_named(m, o2, "activate_backup"); });
  ASSERT_TRUE(backup.has_value());
  const std::string backup_id = json::parse(backup->payload)["id"];

  // Nobody acks: timed out by the timer, about 2 s after it was sent.
  const json timed_out = wait_status(o2, backup_id, "timed_out", 15s);
  ASSERT_FALSE(timed_out.is_null());
  const std::int64_t late_ms = ms_of(timed_out["finished_at"]) - ms_of(timed_out["sent_at"]) - 2000;
  EXPECT_GE(late_ms, 0);
  EXPECT_LT(late_ms, 500) << "the deadline fired " << late_ms << " ms late";

  // The fallback: close_valves to every member of the ward, and the escalation.
  EXPECT_TRUE(listener->wait_for([&](const MqttMessage& m) { return command_named(m, w1, "close_valves"); }).has_value());
  EXPECT_TRUE(listener->wait_for([&](const MqttMessage& m) { return command_named(m, w2, "close_valves"); }).has_value());
  const auto escalated = next_alert(*ws, [&](const json& a) { return a["id"] == alert_id && a["severity"] == "critical"; });
  EXPECT_TRUE(escalated.has_value());
  EXPECT_EQ(listener->count([&](const MqttMessage& m) { return command_named(m, o2, "activate_backup"); }), 1u);

  // Every step is an event of the alert.
  ASSERT_TRUE(eventually([&] {
    const auto a = get("/api/v1/alerts/" + std::to_string(alert_id));
    if (a.status != 200) return false;
    int actions = 0;
    bool fallback = false;
    const json body = a.json();
    for (const auto& e : body["events"]) {
      if (e.value("kind", "") != "action") continue;
      ++actions;
      fallback = fallback || e.value("detail", "").starts_with("fallback:");
    }
    return fallback && actions >= 5;  // sent, timed_out, fallback, close_valves sent ×2
  }, 15s)) << get("/api/v1/alerts/" + std::to_string(alert_id)).body;
  EXPECT_GE(metric("peregrine_action_latency_seconds_count"), 1);
}

TEST_F(CommandsTest, APendingCommandSurvivesARestartWithoutASecondPublish) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("pump");
  online(dev);
  auto listener = commands_listener();
  const auto sent = call("POST", "/api/v1/devices/" + dev + "/commands",
                         json{{"name", "stop"}, {"ack_timeout_s", 8}});
  ASSERT_EQ(sent.status, 201) << sent.body;
  const std::string id = sent.json().value("id", "");
  ASSERT_TRUE(listener->wait_for([&](const MqttMessage& m) { return command_named(m, dev, "stop"); }).has_value());
  ASSERT_TRUE(eventually([&] {
    return db_->scalar("SELECT count(*) FROM commands WHERE status = 'sent' AND id = '" + id + "'") == 1;
  }));

  ASSERT_EQ(server_->sigterm_and_wait(), 0);
  ASSERT_TRUE(start_server());
  const json timed_out = wait_status(dev, id, "timed_out", 20s);
  ASSERT_FALSE(timed_out.is_null());
  EXPECT_GE(ms_of(timed_out["finished_at"]) - ms_of(timed_out["sent_at"]), 8000);
  EXPECT_EQ(listener->count([&](const MqttMessage& m) { return command_named(m, dev, "stop"); }), 1u)
      << "published again after the restart";
  // A late ack is kept in the history and changes nothing.
  ack(dev, id, "ok");
  ASSERT_TRUE(eventually([&] { return metric("peregrine_command_acks_total", {{"result", "late"}}) == 1; }));
  EXPECT_EQ(get("/api/v1/devices/" + dev + "/commands/" + id).json().value("status", ""), "timed_out");
}

TEST_F(CommandsTest, AnOfflineDevicesCommandWaitsForItOrExpires) {
  ASSERT_TRUE(start_server());
  const std::string waiting = device("sleepy"), gone = device("gone");
  for (const auto& d : {waiting, gone}) ASSERT_EQ(call("POST", "/api/v1/devices", json{{"id", d}}).status, 201);
  auto listener = commands_listener();

  const auto q = call("POST", "/api/v1/devices/" + waiting + "/commands", json{{"name", "wake"}, {"expires_s", 60}});
  ASSERT_EQ(q.status, 201) << q.body;
  EXPECT_EQ(q.json().value("status", ""), "queued");
  const std::string qid = q.json().value("id", "");
  const auto e = call("POST", "/api/v1/devices/" + gone + "/commands", json{{"name", "wake"}, {"expires_s", 1}});
  ASSERT_EQ(e.status, 201) << e.body;
  const std::string eid = e.json().value("id", "");

  EXPECT_FALSE(wait_status(gone, eid, "expired", 10s).is_null());
  EXPECT_EQ(listener->count([&](const MqttMessage& m) { return command_named(m, gone, "wake"); }), 0u);

  // The device comes online: its queued command is published and sent.
  mqtt().publish("sensors/" + waiting + "/status", "online");
  const auto msg = listener->wait_for([&](const MqttMessage& m) { return command_named(m, waiting, "wake"); });
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(json::parse(msg->payload)["id"], qid);
  EXPECT_FALSE(wait_status(waiting, qid, "sent").is_null());
  ack(waiting, qid, "error", "battery low");
  EXPECT_EQ(wait_status(waiting, qid, "error").value("detail", ""), "battery low");
}

TEST_F(CommandsTest, ABatchCommandIsAJobWhoseFramesCountUpToTheEnd) {
  ASSERT_TRUE(start_server());
  std::vector<std::string> line;
  for (int i = 1; i <= 5; ++i) {
    line.push_back(device("m" + std::to_string(i)));
    online(line.back());
  }
  const std::int64_t group = create_group(device("line-1"), line);
  ASSERT_GT(group, 0);
  auto listener = commands_listener();
  auto ws = ws_on({"jobs"});

  const auto r = call("POST", "/api/v1/groups/" + std::to_string(group) + "/commands",
                      json{{"name", "stop"}, {"ack_timeout_s", 30}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::int64_t job = r.json().value("id", std::int64_t{0});
  EXPECT_EQ(r.json()["progress"]["total"], 5);
  for (const auto& dev : line) {
    const auto msg = listener->wait_for([&](const MqttMessage& m) { return command_named(m, dev, "stop"); });
    ASSERT_TRUE(msg.has_value()) << dev;
    ack(dev, json::parse(msg->payload)["id"], "ok");
  }
  int last_done = -1;
  const auto final_frame = next_frame(*ws, "job", [&](const json& f) {
    if (f["job"]["id"] != job) return false;
    const int done = f["job"]["progress"]["done"];
    EXPECT_GE(done, last_done) << "progress went back";
    last_done = done;
    return f["job"]["state"] == "done";
  }, 15s);
  ASSERT_TRUE(final_frame.has_value());
  EXPECT_EQ((*final_frame)["job"]["progress"], (json{{"total", 5}, {"done", 5}, {"failed", 0}}));
  ASSERT_TRUE(eventually([&] { return get("/api/v1/jobs/" + std::to_string(job)).json().value("state", "") == "done"; }));
  const json stored = get("/api/v1/jobs/" + std::to_string(job)).json();
  ASSERT_EQ(stored["items"].size(), 5u) << stored.dump();
  for (const auto& item : stored["items"]) EXPECT_EQ(item.value("status", ""), "ok") << item.dump();
}

TEST_F(CommandsTest, BulkCsvCreatesTheGoodRowsAndNamesTheBadOne) {
  ASSERT_TRUE(start_server());
  const std::int64_t group = create_group(device("imported"), {});
  ASSERT_GT(group, 0);
  const std::string a = device("b1"), b = device("b2");
  const std::string csv = "id,name,type,group,lat,lon,floor\n" + a + ",Boiler 1,boiler," + device("imported") +
                          ",52.1,4.3,2\n" + "bad id!,Broken,boiler,,,,\n" + b + ",\"Boiler, 2\",boiler," +
                          std::to_string(group) + ",,,3\n";
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token_},
                                                {"Content-Type", "text/csv"}};
  const auto r = authit::request(server_->http_port(), "POST", "/api/v1/devices/bulk", headers, csv);
  ASSERT_EQ(r.status, 200) << r.body;
  const json out = r.json();
  EXPECT_EQ(out.value("created", 0), 2);
  EXPECT_EQ(out.value("failed", 0), 1);
  ASSERT_EQ(out["results"].size(), 3u);
  EXPECT_EQ(out["results"][1]["row"], 2);
  EXPECT_EQ(out["results"][1]["status"], "error");
  EXPECT_EQ(out["results"][1]["field"], "id");
  EXPECT_TRUE(out["results"][0]["token"].get<std::string>().starts_with("pdt_"));

  const json dev_b = get("/api/v1/devices/" + b).json();
  EXPECT_EQ(dev_b.value("name", ""), "Boiler, 2");
  EXPECT_EQ(dev_b["group_ids"], json::array({group}));
  EXPECT_EQ(dev_b["metadata"], (json{{"floor", "3"}}));
  const json dev_a = get("/api/v1/devices/" + a).json();
  EXPECT_EQ(dev_a["location"]["lat"], 52.1);
  // The import is a job with one item per row.
  const json job = get("/api/v1/jobs/" + std::to_string(out.value("job_id", 0))).json();
  EXPECT_EQ(job["progress"], (json{{"total", 3}, {"done", 2}, {"failed", 1}}));
}

TEST_F(CommandsTest, TenThousandRowsInOneImport) {
  ASSERT_TRUE(start_server());
  std::string csv = "id,name,type\n";
  for (int i = 0; i < 10'000; ++i) csv += device("k" + std::to_string(i)) + ",Sensor " + std::to_string(i) + ",co\n";
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token_},
                                                {"Content-Type", "text/csv"}};
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = authit::request(server_->http_port(), "POST", "/api/v1/devices/bulk", headers, csv);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.json().value("created", 0), 10'000);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM devices"), 10'000);
  std::printf("bulk import: 10000 CSV rows (%zu bytes) in %lld ms\n", csv.size(), static_cast<long long>(ms));
  RecordProperty("bulk_10000_ms", std::to_string(ms));
}

}  // namespace
}  // namespace peregrine::test
