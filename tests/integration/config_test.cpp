// Device configuration against the real servers: a type's JSON Schema
// refuses a bad configuration with every failing path and nothing pushed; a
// good one is a new version, published retained (a subscriber that comes
// later still gets it); the device's reports move it to in_sync or
// rejected, and a stale report never overwrites a newer one; if_version
// makes one of two writers a 409; a new schema names the configurations it
// no longer accepts; a group push validates every member before writing
// anything, is a job that follows the reports and survives a restart; a
// version committed but never published is published at start.
#include <set>

#include "support/alerting_fixture.hpp"
#include "support/mqtt_listener.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ConfigTest : public AlertingTest {
 protected:
  /// A device that published a reading, is stored, and has `type`.
  std::string board(const std::string& name, const std::string& type) {
    const std::string dev = device(name);
    publish(dev, {{"v", 1}});
    EXPECT_TRUE(eventually([&] { return db_->scalar("SELECT count(*) FROM devices WHERE id = '" + dev + "'") == 1; }));
    const auto r = call("PATCH", "/api/v1/devices/" + dev, json{{"type", type}});
    EXPECT_EQ(r.status, 200) << r.body;
    return dev;
  }

  json config_of(const std::string& dev) const {
    const auto r = get("/api/v1/devices/" + dev + "/config");
    return r.status == 200 ? r.json() : json{{"status", r.status}};
  }

  /// GET …/config until `pred` holds (or 10 s pass); the last answer.
  json wait_config(const std::string& dev, const std::function<bool(const json&)>& pred) {
    json last;
    eventually([&] {
      last = config_of(dev);
      return pred(last);
    });
    return last;
  }

  void report(const std::string& dev, const json& body) {
    mqtt().publish("devices/" + dev + "/config/applied", body.dump());
  }

  static json schema_v1() {
    return {{"$schema", "http://json-schema.org/draft-07/schema#"},
            {"type", "object"},
            {"properties",
             {{"interval_s", {{"type", "integer"}, {"minimum", 1}}},
              {"mode", {{"enum", {"eco", "full"}}}},
              {"display", {{"type", "object"}, {"properties", {{"brightness", {{"type", "number"}, {"maximum", 100}}}}}}}}},
            {"required", {"interval_s"}},
            {"additionalProperties", false}};
  }
};

std::set<std::string> paths(const json& problem) {
  std::set<std::string> out;
  for (const auto& e : problem.value("errors", json::array())) out.insert(e.value("path", "?"));
  return out;
}

TEST_F(ConfigTest, ValidatedVersionsPushedRetainedAndReportedBack) {
  ASSERT_TRUE(start_server());
  const std::string type = "board-" + tag_;
  const std::string dev = board("panel", type);

  // Schemas: refused when they are not one, versioned when they are.
  EXPECT_EQ(call("PUT", "/api/v1/device-types/" + type + "/schema", json{{"type", 12}}).status, 422);
  EXPECT_EQ(call("PUT", "/api/v1/device-types/" + type + "/schema",
                 json{{"$ref", "http://example.com/remote.json"}}).status,
            422);
  const auto s1 = call("PUT", "/api/v1/device-types/" + type + "/schema", schema_v1());
  ASSERT_EQ(s1.status, 201) << s1.body;
  EXPECT_EQ(s1.json()["version"], 1);
  const auto types = get("/api/v1/device-types");
  ASSERT_EQ(types.status, 200);
  bool listed = false;
  const json type_items = types.json()["items"];
  for (const auto& t : type_items)
    if (t["type"] == type) listed = t["schema_version"] == 1 && t["devices"] == 1;
  EXPECT_TRUE(listed) << types.body;

  // An invalid configuration: every failing path, and nothing published.
  MqttListener early(env_->mqtt_url, "devices/" + dev + "/config");
  const auto bad = call("POST", "/api/v1/devices/" + dev + "/config",
                        json{{"config", {{"interval_s", 0}, {"mode", "turbo"}, {"display", {{"brightness", 300}}}}}});
  ASSERT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.headers.at("content-type").find("application/problem+json"), std::string::npos);
  const auto failing = paths(bad.json());
  for (const char* p : {"/interval_s", "/mode", "/display/brightness"})
    EXPECT_TRUE(failing.count(p)) << p << " in " << bad.body;
  EXPECT_EQ(call("POST", "/api/v1/devices/" + dev + "/config", json{{"config", {{"mode", "eco"}}}}).status, 422)
      << "interval_s is required";
  EXPECT_EQ(call("POST", "/api/v1/devices/" + dev + "/config", json{{"config", json::array()}}).status, 422);
  EXPECT_EQ(config_of(dev)["status"], 404);

  // Version 1: stored, published retained.
  const auto v1 = call("POST", "/api/v1/devices/" + dev + "/config",
                       json{{"config", {{"interval_s", 30}, {"mode", "eco"}}}, {"if_version", 0}});
  ASSERT_EQ(v1.status, 201) << v1.body;
  EXPECT_EQ(v1.json()["version"], 1);
  EXPECT_EQ(v1.json()["schema_version"], 1);
  ASSERT_TRUE(early.wait_for([](const MqttMessage&) { return true; }, 10s));
  EXPECT_EQ(early.messages().size(), 1u) << "the invalid one was never published";
  MqttListener late(env_->mqtt_url, "devices/" + dev + "/config");  // subscribes after the publish
  const auto retained = late.wait_for([](const MqttMessage&) { return true; }, 10s);
  ASSERT_TRUE(retained) << "the broker keeps the desired configuration";
  EXPECT_EQ(json::parse(retained->payload), json({{"version", 1}, {"config", {{"interval_s", 30}, {"mode", "eco"}}}}));
  json c = wait_config(dev, [](const json& c) { return c.value("published_version", 0) == 1; });
  EXPECT_EQ(c["state"], "pending");
  EXPECT_EQ(c["desired_version"], 1);
  EXPECT_TRUE(c["applied_version"].is_null());

  // The device applies it.
  auto ws = alerts_ws();
  ws->send(json{{"op", "subscribe"}, {"topics", {"devices"}}});
  report(dev, {{"version", 1}});
  c = wait_config(dev, [](const json& c) { return c.value("state", "") == "in_sync"; });
  EXPECT_EQ(c["applied_version"], 1) << c.dump();
  const auto frame = next_frame(*ws, "config", [&](const json& f) { return f["config"]["device"] == dev; });
  ASSERT_TRUE(frame) << "a config frame on the devices topic";
  EXPECT_EQ((*frame)["config"]["state"], "in_sync");

  // Optimistic locking: two writers who both read version 1.
  const auto v2 = call("POST", "/api/v1/devices/" + dev + "/config",
                       json{{"config", {{"interval_s", 60}, {"mode", "eco"}}}, {"if_version", 1}});
  ASSERT_EQ(v2.status, 201) << v2.body;
  EXPECT_EQ(v2.json()["version"], 2);
  const auto lost = call("POST", "/api/v1/devices/" + dev + "/config",
                         json{{"config", {{"interval_s", 90}}}, {"if_version", 1}});
  EXPECT_EQ(lost.status, 409) << lost.body;

  // A rejection of version 2; a stale report of 1 changes nothing.
  report(dev, {{"version", 2}, {"error", "interval too long for battery"}});
  c = wait_config(dev, [](const json& c) { return c.value("state", "") == "rejected"; });
  EXPECT_EQ(c["rejected_error"], "interval too long for battery");
  EXPECT_EQ(c["applied_version"], 1);
  report(dev, {{"version", 2}});
  c = wait_config(dev, [](const json& c) { return c.value("state", "") == "in_sync"; });
  EXPECT_EQ(c["applied_version"], 2);
  report(dev, {{"version", 1}});  // late, from before
  report(dev, {{"version", 7}});  // never desired
  mqtt().publish("devices/" + dev + "/config/applied", "not json");
  ASSERT_TRUE(eventually([&] {
    const auto m = get("/metrics");
    return m.body.find("peregrine_config_reports_total{result=\"stale\"} 2") != std::string::npos &&
           m.body.find("peregrine_config_reports_total{result=\"invalid\"} 1") != std::string::npos;
  })) << get("/metrics").body.substr(0, 200);
  EXPECT_EQ(config_of(dev)["applied_version"], 2) << "a stale report never overwrites a newer one";

  // History and a diff.
  const auto versions = get("/api/v1/devices/" + dev + "/config/versions");
  ASSERT_EQ(versions.status, 200);
  ASSERT_EQ(versions.json()["items"].size(), 2u);
  EXPECT_EQ(versions.json()["items"][0]["version"], 2);
  EXPECT_EQ(get("/api/v1/devices/" + dev + "/config/versions/1").json()["config"]["interval_s"], 30);
  EXPECT_EQ(get("/api/v1/devices/" + dev + "/config/versions/9").status, 404);
  const auto diff = get("/api/v1/devices/" + dev + "/config/diff?from=1&to=2");
  ASSERT_EQ(diff.status, 200) << diff.body;
  EXPECT_EQ(diff.json()["patch"], json::parse(R"([{"op":"replace","path":"/interval_s","value":60}])"));

  // A stricter schema names the desired configurations it no longer accepts.
  json strict = schema_v1();
  strict["properties"]["mode"] = {{"enum", {"full"}}};
  const auto s2 = call("PUT", "/api/v1/device-types/" + type + "/schema", strict);
  ASSERT_EQ(s2.status, 200) << s2.body;
  EXPECT_EQ(s2.json()["version"], 2);
  ASSERT_EQ(s2.json()["invalid_configs"].size(), 1u) << s2.body;
  EXPECT_EQ(s2.json()["invalid_configs"][0]["device"], dev);
  EXPECT_EQ(s2.json()["invalid_configs"][0]["errors"][0]["path"], "/mode");
  EXPECT_EQ(get("/api/v1/device-types/" + type + "/schema?version=1").json()["schema"], schema_v1());

  // Every change is in the audit log.
  const auto audit = get("/api/v1/audit?action=device.config");
  ASSERT_EQ(audit.status, 200) << audit.body;
  int writes = 0;
  const json entries = audit.json()["items"];
  for (const auto& e : entries) writes += e.value("target", "") == "device:" + dev;
  EXPECT_EQ(writes, 2);
  EXPECT_FALSE(get("/api/v1/audit?action=device_type.schema").json()["items"].empty());
}

TEST_F(ConfigTest, AGroupPushValidatesEveryMemberFirstAndFollowsTheReportsAcrossARestart) {
  ASSERT_TRUE(start_server());
  const std::string loose = "loose-" + tag_, tight = "tight-" + tag_;
  const std::string a = board("a", loose), b = board("b", loose), t = board("t", tight);
  ASSERT_EQ(call("PUT", "/api/v1/device-types/" + loose + "/schema",
                 json{{"type", "object"}, {"properties", {{"interval_s", {{"type", "integer"}}}}}}).status,
            201);
  ASSERT_EQ(call("PUT", "/api/v1/device-types/" + tight + "/schema",
                 json{{"type", "object"}, {"properties", {{"interval_s", {{"type", "integer"}, {"maximum", 10}}}}}})
                .status,
            201);
  const auto g = call("POST", "/api/v1/groups", json{{"name", "boards-" + tag_}, {"device_ids", {a, b, t}}});
  ASSERT_EQ(g.status, 201) << g.body;
  const std::string group = std::to_string(g.json()["id"].get<std::int64_t>());
  MqttListener pushed(env_->mqtt_url, "devices/+/config");
  // Other tests' devices keep their retained messages on the same broker.
  const auto ours = [&] {
    return pushed.count([&](const MqttMessage& m) {
      return m.topic == "devices/" + a + "/config" || m.topic == "devices/" + b + "/config" ||
             m.topic == "devices/" + t + "/config";
    });
  };

  // One member cannot take it: nothing is written or published for anyone.
  const auto refused = call("POST", "/api/v1/groups/" + group + "/config", json{{"config", {{"interval_s", 30}}}});
  ASSERT_EQ(refused.status, 422) << refused.body;
  ASSERT_EQ(refused.json()["errors"].size(), 1u) << refused.body;
  EXPECT_EQ(refused.json()["errors"][0]["device"], t);
  EXPECT_EQ(refused.json()["errors"][0]["path"], "/interval_s");
  for (const auto& d : {a, b, t}) EXPECT_EQ(config_of(d)["status"], 404) << d;
  EXPECT_EQ(ours(), 0u) << "nothing published";

  const auto job = call("POST", "/api/v1/groups/" + group + "/config", json{{"config", {{"interval_s", 5}}}});
  ASSERT_EQ(job.status, 202) << job.body;
  EXPECT_EQ(job.json()["kind"], "config_push");
  const std::string id = std::to_string(job.json()["id"].get<std::int64_t>());
  ASSERT_TRUE(eventually([&] { return ours() == 3; })) << ours() << " messages; " << get("/api/v1/jobs/" + id).body;
  for (const auto& d : {a, b, t}) EXPECT_EQ(config_of(d)["desired_version"], 1) << d;

  report(a, {{"version", 1}});
  ASSERT_TRUE(eventually([&] { return get("/api/v1/jobs/" + id).json()["progress"]["done"] == 1; }))
      << get("/api/v1/jobs/" + id).body;

  // A restart while b and t have not answered: the job goes on.
  ASSERT_TRUE(server_->sigterm_and_wait().has_value());
  report(b, {{"version", 1}, {"error", "flash full"}});  // the broker keeps it for the server's session
  ASSERT_TRUE(start_server());
  report(t, {{"version", 1}});
  json last;
  ASSERT_TRUE(eventually([&] {
    last = get("/api/v1/jobs/" + id).json();
    return last.value("state", "") == "failed";
  }, 20s)) << last.dump();
  EXPECT_EQ(last["progress"], json({{"total", 3}, {"done", 2}, {"failed", 1}}));
  EXPECT_EQ(ours(), 3u) << "nothing published twice after the restart";
  EXPECT_EQ(config_of(b)["state"], "rejected");
}

TEST_F(ConfigTest, AVersionCommittedButNeverPublishedIsPublishedAtStart) {
  ASSERT_TRUE(start_server());
  const std::string dev = board("crashed", "crash-" + tag_);
  ASSERT_TRUE(server_->sigterm_and_wait().has_value());
  // What a crash between the commit and the publish leaves behind.
  db_->exec("INSERT INTO device_configs (device_id, version, tenant_id, config, created_by) VALUES ('" + dev +
            "', 1, 1, '{\"interval_s\": 15}', 'test')");
  db_->exec("INSERT INTO device_config_state (device_id, tenant_id, desired_version) VALUES ('" + dev + "', 1, 1)");
  MqttListener listener(env_->mqtt_url, "devices/" + dev + "/config");
  ASSERT_TRUE(start_server());
  const auto m = listener.wait_for([](const MqttMessage&) { return true; }, 15s);
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->payload), json({{"version", 1}, {"config", {{"interval_s", 15}}}}));
  EXPECT_TRUE(eventually([&] { return config_of(dev).value("published_version", 0) == 1; }));
}

}  // namespace
}  // namespace peregrine::test
