// The authorization matrix. The expected (method, pattern, access) of every
// route is written below, from the contract (docs: CONTRACT.md, roles), not
// taken from the server: the server's own table (GET /api/v1/routes) is
// fetched only to fail on a route either side lacks or on an access level
// that differs. Then every route of the table is called as {no token,
// expired, tampered, alg:none, viewer, operator, admin, admin of another
// tenant, superadmin}, with the real ids of tenant A's device, rule, alert,
// user, tenant and audit entries in its `{id}`.
#include "auth_fixture.hpp"

#include <map>
#include <set>

namespace peregrine::test {
namespace {

using nlohmann::json;

/// One route as the contract wants it. `sample`: for GET the query string
/// (without `?`), otherwise the request body; it only has to be valid enough
/// that a wrong refusal or a tenant leak is the only way the call can fail.
struct Row {
  std::string method;
  std::string pattern;
  std::string access;  // public, viewer, operator, admin, superadmin, device
  std::string sample;
};

// Access from the contract: viewer reads; operator acts on alerts and runs
// backtests; admin manages devices, rules, users and reads its audit log;
// superadmin manages tenants and reads the route table; login, refresh and
// logout are public; device ingest takes X-Device-Token. A new route is one
// line here (and, for a new resource under `{id}`, one entry in `real_ids`).
const std::vector<Row> kRoutes = {
    // Process health and metrics: unauthenticated.
    {"GET", "/livez", "public", ""},
    {"GET", "/healthz", "public", ""},
    {"GET", "/readyz", "public", ""},
    {"GET", "/metrics", "public", ""},
    // Sessions.
    {"POST", "/api/v1/auth/login", "public", "{}"},
    {"POST", "/api/v1/auth/refresh", "public", "{}"},
    {"POST", "/api/v1/auth/logout", "public", "{}"},
    {"GET", "/api/v1/auth/me", "viewer", ""},
    {"GET", "/api/v1/routes", "superadmin", ""},
    // Devices.
    {"GET", "/api/v1/devices", "viewer", ""},
    {"POST", "/api/v1/devices", "admin", "{}"},
    {"GET", "/api/v1/devices/{id}", "viewer", ""},
    {"PATCH", "/api/v1/devices/{id}", "admin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/devices/{id}", "admin", ""},
    {"GET", "/api/v1/devices/{id}/state", "viewer", ""},
    {"GET", "/api/v1/devices/{id}/readings", "viewer", "metric=co"},
    {"GET", "/api/v1/devices/{id}/aggregates", "viewer", "metric=co"},
    {"GET", "/api/v1/devices/{id}/chart.svg", "viewer", "metric=co"},
    {"GET", "/api/v1/devices/{id}/chart.png", "viewer", "metric=co"},
    {"POST", "/api/v1/devices/{id}/token", "admin", "{}"},
    {"POST", "/api/v1/devices/{id}/telemetry", "device", R"({"co":1})"},
    {"POST", "/api/v1/devices/bulk", "admin", "[]"},
    // Commands and groups: operators act, admins manage groups, viewers read.
    {"POST", "/api/v1/devices/{id}/commands", "operator", R"({"name":"matrix_probe"})"},
    {"GET", "/api/v1/devices/{id}/commands", "viewer", ""},
    {"GET", "/api/v1/devices/{id}/commands/{cid}", "viewer", ""},
    {"GET", "/api/v1/groups", "viewer", ""},
    {"POST", "/api/v1/groups", "admin", "{}"},
    {"GET", "/api/v1/groups/{id}", "viewer", ""},
    {"PATCH", "/api/v1/groups/{id}", "admin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/groups/{id}", "admin", ""},
    {"POST", "/api/v1/groups/{id}/commands", "operator", R"({"name":"matrix_probe"})"},
    {"GET", "/api/v1/groups/{id}/aggregates", "viewer", "metric=co"},
    {"GET", "/api/v1/export/readings.csv", "viewer", "device={device}&metric=co"},  // tenant A's device, in the query
    {"GET", "/api/v1/devices/{id}/oee", "viewer", "ideal_rate=60"},
    {"GET", "/api/v1/groups/{id}/oee", "viewer", "ideal_rate=60"},
    {"GET", "/api/v1/shifts", "viewer", ""},
    {"POST", "/api/v1/shifts", "admin", R"({"name":"matrix-shift","start":"06:00","end":"14:00","tz":"UTC"})"},
    {"GET", "/api/v1/shifts/{id}", "viewer", ""},
    {"PATCH", "/api/v1/shifts/{id}", "admin", R"({"end":"15:00"})"},
    {"DELETE", "/api/v1/shifts/{id}", "admin", ""},
    // Device types and configuration: viewers read, operators push, admins
    // manage schemas. The PUT comes after the type's GETs: another tenant's
    // PUT makes a type of that name of its own (a name, not an id).
    {"GET", "/api/v1/device-types", "viewer", ""},
    {"GET", "/api/v1/device-types/{type}", "viewer", ""},
    {"GET", "/api/v1/device-types/{type}/schema", "viewer", ""},
    {"PUT", "/api/v1/device-types/{type}/schema", "admin", R"({"type":"object"})"},
    {"POST", "/api/v1/devices/{id}/config", "operator", R"({"config":{"interval_s":5}})"},
    {"GET", "/api/v1/devices/{id}/config", "viewer", ""},
    {"GET", "/api/v1/devices/{id}/config/versions", "viewer", ""},
    {"GET", "/api/v1/devices/{id}/config/versions/{v}", "viewer", ""},
    {"GET", "/api/v1/devices/{id}/config/diff", "viewer", "from=1&to=1"},
    {"POST", "/api/v1/groups/{id}/config", "operator", R"({"config":{"interval_s":5}})"},
    // Jobs.
    {"GET", "/api/v1/jobs", "viewer", ""},
    {"GET", "/api/v1/jobs/{id}", "viewer", ""},
    {"POST", "/api/v1/jobs/{id}/cancel", "operator", "{}"},
    // Rules.
    {"GET", "/api/v1/rules", "viewer", ""},
    {"POST", "/api/v1/rules", "admin", "{}"},
    {"POST", "/api/v1/rules/backtest", "operator", "{}"},
    {"GET", "/api/v1/rules/{id}", "viewer", ""},
    {"PATCH", "/api/v1/rules/{id}", "admin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/rules/{id}", "admin", ""},
    // Alerts.
    {"GET", "/api/v1/alerts", "viewer", ""},
    {"GET", "/api/v1/alerts/{id}", "viewer", ""},
    {"POST", "/api/v1/alerts/{id}/ack", "operator", "{}"},
    {"POST", "/api/v1/alerts/{id}/resolve", "operator", "{}"},
    // Users.
    {"GET", "/api/v1/users", "admin", ""},
    {"POST", "/api/v1/users", "admin", "{}"},
    {"GET", "/api/v1/users/{id}", "admin", ""},
    {"PATCH", "/api/v1/users/{id}", "admin", R"({"email":"renamed@matrix.example"})"},
    {"DELETE", "/api/v1/users/{id}", "admin", ""},
    // Tenants.
    {"GET", "/api/v1/tenants", "superadmin", ""},
    {"POST", "/api/v1/tenants", "superadmin", "{}"},
    {"GET", "/api/v1/tenants/{id}", "superadmin", ""},
    {"PATCH", "/api/v1/tenants/{id}", "superadmin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/tenants/{id}", "superadmin", ""},
    // Audit log.
    {"GET", "/api/v1/audit", "admin", ""},
    // Alert response: admins manage channels and contacts, operators read
    // contacts and act on silences and incidents, viewers read the rest.
    {"GET", "/api/v1/channels", "admin", ""},
    {"POST", "/api/v1/channels", "admin", "{}"},
    {"GET", "/api/v1/channels/{id}", "admin", ""},
    {"PATCH", "/api/v1/channels/{id}", "admin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/channels/{id}", "admin", ""},
    {"POST", "/api/v1/channels/{id}/test", "admin", "{}"},
    {"GET", "/api/v1/contacts", "operator", ""},
    {"POST", "/api/v1/contacts", "admin", "{}"},
    {"GET", "/api/v1/contacts/{id}", "operator", ""},
    {"PATCH", "/api/v1/contacts/{id}", "admin", R"({"name":"renamed-by-matrix"})"},
    {"DELETE", "/api/v1/contacts/{id}", "admin", ""},
    {"GET", "/api/v1/notifications", "viewer", "alert={alert}"},  // tenant A's alert, in the query
    {"GET", "/api/v1/silences", "viewer", ""},
    {"POST", "/api/v1/silences", "operator", "{}"},
    {"DELETE", "/api/v1/silences/{id}", "operator", ""},
    {"GET", "/api/v1/incidents", "viewer", ""},
    {"POST", "/api/v1/incidents", "operator", "{}"},
    {"GET", "/api/v1/incidents/{id}", "viewer", ""},
    {"PATCH", "/api/v1/incidents/{id}", "operator", R"({"title":"renamed-by-matrix"})"},
    {"POST", "/api/v1/incidents/{id}/alerts", "operator", R"({"alert_ids":[1]})"},
    {"POST", "/api/v1/incidents/{id}/comments", "operator", R"({"text":"matrix"})"},
    {"POST", "/api/v1/incidents/{id}/maintenance", "operator", R"({"note":"matrix","performed_by":"matrix"})"},
};

struct Caller {
  std::string name;
  std::string token;
  int role;          // 0 = not authenticated, 1..4 viewer..superadmin
  bool other_tenant;
};

int level(const std::string& access) {
  if (access == "viewer") return 1;
  if (access == "operator") return 2;
  if (access == "admin") return 3;
  if (access == "superadmin") return 4;
  if (access == "public") return 0;
  return -1;  // device
}

bool success(int status) { return status >= 200 && status < 300; }

/// The collection a path segment `{...}` belongs to: "devices" for
/// `/api/v1/devices/{id}/state`.
std::string collection_before(const std::string& pattern, std::size_t open) {
  const std::string before = pattern.substr(0, open);  // ".../devices/"
  const auto end = before.size() - 1;
  const auto start = before.rfind('/', end - 1) + 1;
  return before.substr(start, end - start);
}

std::string json_text(const json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

class AuthMatrixTest : public AuthTest {
 protected:
  /// Polls GET /api/v1/alerts?state=active as `token` until an alert of
  /// `rule_id` is listed; its id, or 0 after `timeout`.
  std::int64_t wait_active_alert(const std::string& token, std::int64_t rule_id,
                                 std::chrono::milliseconds timeout) const {
    std::int64_t id = 0;
    eventually(
        [&] {
          const auto r = call("GET", "/api/v1/alerts?state=active", token);
          if (r.status != 200) return false;
          const json body = r.json();  // the range must not be a temporary's member
          for (const auto& a : body["items"])
            if (a.value("rule_id", std::int64_t{0}) == rule_id) id = a.value("id", std::int64_t{0});
          return id > 0;
        },
        timeout, std::chrono::milliseconds(100));
    return id;
  }
};

TEST_F(AuthMatrixTest, EveryRouteEnforcesTheContractsAccessAndTenant) {
  ASSERT_TRUE(start());
  const std::string root = root_token();
  ASSERT_FALSE(root.empty());

  // (a) The test's table and the server's are the same routes with the same
  // access levels; a route on one side only is named.
  {
    std::map<std::string, std::string> expected;
    for (const Row& row : kRoutes) {
      ASSERT_TRUE(level(row.access) >= 0 || row.access == "device")
          << row.method << " " << row.pattern << ": unknown access '" << row.access << "'";
      EXPECT_TRUE(expected.emplace(row.method + " " + row.pattern, row.access).second)
          << row.method << " " << row.pattern << " is twice in the test's table";
    }
    const auto table = call("GET", "/api/v1/routes", root);
    ASSERT_EQ(table.status, 200) << table.body;
    std::map<std::string, std::string> actual;
    const json routes = table.json();
    for (const auto& r : routes["items"]) {
      actual.emplace(r.value("method", "") + " " + r.value("pattern", ""), r.value("access", ""));
    }
    for (const auto& [route, access] : actual) {
      const auto it = expected.find(route);
      if (it == expected.end()) {
        ADD_FAILURE() << "the server has " << route << " (access " << access
                      << ") which this test's table lacks: add it with its access from the contract";
      } else if (it->second != access) {
        ADD_FAILURE() << route << ": the server enforces '" << access << "', the contract says '"
                      << it->second << "'";
      }
    }
    for (const auto& [route, access] : expected) {
      if (!actual.count(route))
        ADD_FAILURE() << "this test's table has " << route << " (access " << access
                      << ") which the server does not: remove it, or the server lost a route";
    }
  }

  // Tenant B and its admin; tenant A is the default tenant (1), root's own.
  const auto tb = call("POST", "/api/v1/tenants", root, R"({"name":"matrix-b"})").json().value("id", 0);
  ASSERT_GT(tb, 0);
  const std::int64_t tenant_a = 1;
  const auto tenant_a_before = call("GET", "/api/v1/tenants/" + std::to_string(tenant_a), root);
  ASSERT_EQ(tenant_a_before.status, 200) << tenant_a_before.body;
  const std::string tenant_a_name = tenant_a_before.json().value("name", "");

  const auto viewer_id = create_user(root, "viewer@a.example", "viewer");
  ASSERT_GT(viewer_id, 0);
  ASSERT_GT(create_user(root, "operator@a.example", "operator"), 0);
  ASSERT_GT(create_user(root, "admin@a.example", "admin"), 0);
  const auto admin_b_id = create_user(root, "admin@b.example", "admin", tb);
  ASSERT_GT(admin_b_id, 0);

  // Tenant A's data the other tenant must never see or change: a device, a
  // rule, and an alert that rule opened on the device's reading.
  const std::string dev = device("secret");
  const auto created = call("POST", "/api/v1/devices", root,
                            json{{"id", dev}, {"name", "tenant-a-secret-name"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string dev_token = created.json().value("token", "");
  ASSERT_FALSE(dev_token.empty()) << created.body;
  const json rule_body = {{"name", "tenant-a-secret-rule"}, {"metric", "co"},
                          {"scope", {{"all", true}}}, {"kind", "threshold"},
                          {"params", {{"op", ">"}, {"value", 50}}}, {"severity", "warning"}};
  const auto rule = call("POST", "/api/v1/rules", root, rule_body.dump());
  ASSERT_EQ(rule.status, 201) << rule.body;
  const std::int64_t rule_id = rule.json().value("id", std::int64_t{0});
  ASSERT_GT(rule_id, 0);
  const std::string telemetry_path = "/api/v1/devices/" + dev + "/telemetry";
  const auto sent = call("POST", telemetry_path, "", telemetry(now_ms() - 2000, 1, {{"co", 80}}).dump(),
                         {{"X-Device-Token", dev_token}});
  ASSERT_EQ(sent.status, 202) << sent.body;
  const std::int64_t alert_id = wait_active_alert(root, rule_id, std::chrono::seconds(20));
  ASSERT_GT(alert_id, 0) << "the rule opened no alert for co=80 within 20 s";
  ASSERT_TRUE(wait_rows(1, dev));

  // Tenant A's group (with the device), a command to the device and a job
  // (a batch command to the group).
  const auto group = call("POST", "/api/v1/groups", root,
                          json{{"name", "tenant-a-secret-group"}, {"device_ids", {dev}}}.dump());
  ASSERT_EQ(group.status, 201) << group.body;
  const std::int64_t group_id = group.json().value("id", std::int64_t{0});
  const auto command = call("POST", "/api/v1/devices/" + dev + "/commands", root, R"({"name":"probe"})");
  ASSERT_EQ(command.status, 201) << command.body;
  const std::string command_id = command.json().value("id", "");
  const auto batch = call("POST", "/api/v1/groups/" + std::to_string(group_id) + "/commands", root,
                          R"({"name":"probe"})");
  ASSERT_EQ(batch.status, 202) << batch.body;
  const std::int64_t job_id = batch.json().value("id", std::int64_t{0});

  // Tenant A's alert response: a channel, a contact, a silence, an incident.
  const auto channel = call("POST", "/api/v1/channels", root,
                            json{{"type", "webhook"}, {"name", "tenant-a-secret-channel"},
                                 {"url", "http://127.0.0.1:9/hook"}, {"secret", "matrix-secret-0123456789"}}.dump());
  ASSERT_EQ(channel.status, 201) << channel.body;
  const auto contact = call("POST", "/api/v1/contacts", root,
                            json{{"name", "tenant-a-secret-contact"}, {"email", "c@a.example"}}.dump());
  ASSERT_EQ(contact.status, 201) << contact.body;
  const auto silence = call("POST", "/api/v1/silences", root,
                            json{{"rule", rule_id}, {"to", "2099-01-01T00:00:00Z"}}.dump());
  ASSERT_EQ(silence.status, 201) << silence.body;
  const auto incident = call("POST", "/api/v1/incidents", root,
                             json{{"title", "tenant-a-secret-incident"}, {"alert_ids", {alert_id}}}.dump());
  ASSERT_EQ(incident.status, 201) << incident.body;
  const auto shift = call("POST", "/api/v1/shifts", root,
                          json{{"name", "tenant-a-secret-shift"}, {"start", "06:00"}, {"end", "14:00"}, {"tz", "UTC"}}.dump());
  ASSERT_EQ(shift.status, 201) << shift.body;
  const std::string board_type = "matrix-board-" + tag_;
  ASSERT_EQ(call("PUT", "/api/v1/device-types/" + board_type + "/schema", root,
                 json{{"type", "object"}, {"properties", {{"interval_s", {{"type", "integer"}}}}}}.dump())
                .status,
            201);
  ASSERT_EQ(call("PATCH", "/api/v1/devices/" + dev, root, json{{"type", board_type}}.dump()).status, 200);
  const auto config = call("POST", "/api/v1/devices/" + dev + "/config", root, R"({"config":{"interval_s":1}})");
  ASSERT_EQ(config.status, 201) << config.body;

  // Tenant A's audit entries (the user, device and rule creations at least).
  const auto audit_a = call("GET", "/api/v1/audit?tenant_id=" + std::to_string(tenant_a), root);
  ASSERT_EQ(audit_a.status, 200) << audit_a.body;
  std::set<std::int64_t> audit_a_ids;
  const json audit_a_body = audit_a.json();
  for (const auto& e : audit_a_body["items"]) audit_a_ids.insert(e.value("id", std::int64_t{0}));
  ASSERT_FALSE(audit_a_ids.empty()) << audit_a.body;

  // Real ids of tenant A per collection, and ids that exist nowhere (what an
  // allowed caller of A changes, so the matrix leaves A's objects intact).
  const std::map<std::string, json> real_ids = {
      {"devices", dev},          {"rules", rule_id},       {"alerts", alert_id},
      {"users", viewer_id},      {"tenants", tenant_a},    {"audit", *audit_a_ids.begin()},
      {"groups", group_id},      {"commands", command_id}, {"jobs", job_id},
      {"channels", channel.json()["id"]}, {"contacts", contact.json()["id"]},
      {"silences", silence.json()["id"]}, {"incidents", incident.json()["id"]},
      {"shifts", shift.json()["id"]}, {"device-types", board_type}, {"versions", 1}};
  const std::map<std::string, std::string> missing_ids = {{"devices", "no-such-device"}};
  // The real ids are real: tenant A's superadmin reads every one.
  for (const auto& [coll, id] : real_ids) {
    if (coll == "audit" || coll == "commands" || coll == "silences" || coll == "versions") continue;  // no GET /…/{id} of these  // no GET /audit/{id}; commands are under devices
    const auto r = call("GET", "/api/v1/" + coll + "/" + json_text(id), root);
    EXPECT_EQ(r.status, 200) << coll << " " << json_text(id) << ": " << r.body;
  }

  const std::string admin_b = access_token("admin@b.example", "password-123");
  ASSERT_FALSE(admin_b.empty());
  // Tenant B's admin reaches its own objects by id (so its 404s below are the
  // tenant wall, not a broken token).
  const std::string dev_b = device("own-b");
  const auto created_b = call("POST", "/api/v1/devices", admin_b, json{{"id", dev_b}}.dump());
  ASSERT_EQ(created_b.status, 201) << created_b.body;
  EXPECT_EQ(call("GET", "/api/v1/devices/" + dev_b, admin_b).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/users/" + std::to_string(admin_b_id), admin_b).status, 200);
  // Tenant B's device token does not ingest as tenant A's device.
  const auto cross_ingest = call("POST", telemetry_path, "", telemetry(now_ms() - 1500, -1, {{"co", 1}}).dump(),
                                 {{"X-Device-Token", created_b.json().value("token", "")}});
  EXPECT_EQ(cross_ingest.status, 401) << cross_ingest.body;

  const json payload = {{"sub", "1"}, {"tenant", 1}, {"role", "superadmin"}, {"email", kRootEmail},
                        {"iat", now_ms() / 1000}, {"exp", now_ms() / 1000 + 600}};
  json expired_payload = payload;
  expired_payload["iat"] = now_ms() / 1000 - 3600;
  expired_payload["exp"] = now_ms() / 1000 - 60;
  json tampered_payload = payload;
  tampered_payload["exp"] = now_ms() / 1000 + 601;
  const json hs = {{"alg", "HS256"}, {"typ", "JWT"}};
  const std::string good_forged = authit::make_jwt(hs, payload, kSecret);
  ASSERT_EQ(call("GET", "/api/v1/auth/me", good_forged).status, 200);  // the forge itself is right
  // The payload changed, the signature kept from the genuine token.
  const std::string resigned = authit::make_jwt(hs, tampered_payload, kSecret);
  const std::string tampered_token =
      resigned.substr(0, resigned.rfind('.')) + good_forged.substr(good_forged.rfind('.'));

  const std::vector<Caller> callers = {
      {"no token", "", 0, false},
      {"expired", authit::make_jwt(hs, expired_payload, kSecret), 0, false},
      {"tampered", tampered_token, 0, false},
      {"alg:none", authit::make_jwt({{"alg", "none"}, {"typ", "JWT"}}, payload, ""), 0, false},
      {"viewer", access_token("viewer@a.example", "password-123"), 1, false},
      {"operator", access_token("operator@a.example", "password-123"), 2, false},
      {"admin", access_token("admin@a.example", "password-123"), 3, false},
      {"other-tenant admin", admin_b, 3, true},
      {"superadmin", root, 4, false},
  };
  for (const auto& c : callers) ASSERT_TRUE(c.role == 0 || !c.token.empty()) << c.name;

  // (b) The matrix, over the test's table.
  int checked = 0;
  for (const Row& row : kRoutes) {
    const int need = level(row.access);
    for (const auto& c : callers) {
      const bool allowed = need == 0 || (need > 0 && c.role >= need);
      // Tenant A's real objects for reads, for the other tenant and for
      // callers that must be refused; ids that exist nowhere for the writes
      // of allowed callers of tenant A.
      const bool real = row.method == "GET" || c.other_tenant || !allowed;
      std::string target;
      bool has_id = false;
      std::size_t i = 0;
      while (i < row.pattern.size()) {
        const auto open = row.pattern.find('{', i);
        if (open == std::string::npos) {
          target += row.pattern.substr(i);
          break;
        }
        const auto close = row.pattern.find('}', open);
        target += row.pattern.substr(i, open - i);
        const std::string coll = collection_before(row.pattern, open);
        const auto id = real_ids.find(coll);
        ASSERT_NE(id, real_ids.end()) << row.pattern << ": no real id of tenant A for '" << coll
                                      << "': add one to real_ids";
        const auto none = missing_ids.find(coll);
        target += real ? json_text(id->second) : none != missing_ids.end() ? none->second : "999999999";
        // A device type is a name within each tenant: writing one makes the caller's own.
        has_id = has_id || !(coll == "device-types" && row.method != "GET");
        i = close + 1;
      }
      const bool no_body = row.method == "GET" || row.method == "DELETE";
      std::string sample = row.sample;
      if (const auto at = sample.find("{alert}"); at != std::string::npos) {
        sample.replace(at, 7, std::to_string(alert_id));
        has_id = true;
      }
      if (const auto at = sample.find("{device}"); at != std::string::npos) {
        sample.replace(at, 8, real_ids.at("devices").get<std::string>());
        has_id = true;
      }
      if (no_body && !sample.empty()) target += "?" + sample;
      const auto r = call(row.method, target, c.token, no_body ? "" : sample);
      const std::string where = row.method + " " + target + " as " + c.name + " → " +
                                std::to_string(r.status) + " " + r.body.substr(0, 160);
      ASSERT_NE(r.status, 0) << where << r.error;
      EXPECT_LT(r.status, 500) << where;
      ++checked;

      if (need == 0) {  // public: a bad or missing token changes nothing
        EXPECT_NE(r.status, 401) << where;
        EXPECT_NE(r.status, 403) << where;
        if (row.method == "GET") {
          EXPECT_EQ(r.status, 200) << where;
        }
      } else if (need < 0) {  // device routes take X-Device-Token, never a bearer token
        EXPECT_EQ(r.status, 401) << where;
      } else if (c.role == 0) {
        EXPECT_EQ(r.status, 401) << where;
        EXPECT_NE(r.header("www-authenticate").find("Bearer"), std::string::npos) << where;
      } else if (c.role < need) {
        EXPECT_EQ(r.status, 403) << where;
      } else if (c.other_tenant && has_id) {
        // Another tenant's object does not exist for this caller.
        EXPECT_EQ(r.status, 404) << where;
      } else {
        EXPECT_NE(r.status, 401) << where;
        EXPECT_NE(r.status, 403) << where;
        if (row.method == "GET") {
          EXPECT_EQ(r.status, 200) << where;
        }
      }

      if (c.other_tenant) {
        EXPECT_EQ(r.body.find("tenant-a-secret-name"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-rule"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-group"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-channel"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-shift"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-contact"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("tenant-a-secret-incident"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("viewer@a.example"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("operator@a.example"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("admin@a.example"), std::string::npos) << where;
        // A list of a collection holds none of tenant A's objects.
        const auto last = row.pattern.rfind('/');
        const auto coll = real_ids.find(row.pattern.substr(last + 1));
        if (row.method == "GET" && !has_id && coll != real_ids.end() && success(r.status)) {
          const json items = r.json().value("items", json::array());
          for (const auto& item : items) {
            EXPECT_NE(item.value("id", json()), coll->second) << where;
            if (item.contains("tenant_id") && item["tenant_id"].is_number_integer()) {
              EXPECT_EQ(item["tenant_id"].get<std::int64_t>(), tb) << where;
            }
            if (coll->first == "audit") {
              EXPECT_EQ(audit_a_ids.count(item.value("id", std::int64_t{0})), 0u) << where;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(kRoutes.size() * callers.size()));

  // Nothing of tenant A was changed by the other tenant or by refused callers.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM users WHERE email = 'viewer@a.example' AND role = 'viewer'"), 1);
  const auto dev_after = call("GET", "/api/v1/devices/" + dev, root);
  ASSERT_EQ(dev_after.status, 200) << dev_after.body;
  EXPECT_EQ(dev_after.json().value("name", ""), "tenant-a-secret-name");
  const auto rule_after = call("GET", "/api/v1/rules/" + std::to_string(rule_id), root);
  ASSERT_EQ(rule_after.status, 200) << rule_after.body;
  EXPECT_EQ(rule_after.json().value("name", ""), "tenant-a-secret-rule");
  const auto alert_after = call("GET", "/api/v1/alerts/" + std::to_string(alert_id), root);
  ASSERT_EQ(alert_after.status, 200) << alert_after.body;
  EXPECT_EQ(alert_after.json().value("state", ""), "active") << alert_after.body;
  const auto tenant_a_after = call("GET", "/api/v1/tenants/" + std::to_string(tenant_a), root);
  ASSERT_EQ(tenant_a_after.status, 200) << tenant_a_after.body;
  EXPECT_EQ(tenant_a_after.json().value("name", ""), tenant_a_name);
  // The device's token was not rotated, and the only readings it has are its own.
  const auto again = call("POST", telemetry_path, "", telemetry(now_ms() - 1000, 2, {{"co", 81}}).dump(),
                          {{"X-Device-Token", dev_token}});
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_TRUE(wait_rows(2, dev));
}

}  // namespace
}  // namespace peregrine::test
