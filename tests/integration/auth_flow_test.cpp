// Login, refresh rotation, reuse-revokes-family, logout, rehash, users and
// tenants scoping, device credentials and HTTP ingest, body limit.
#include "auth_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class AuthFlowTest : public AuthTest {};

TEST_F(AuthFlowTest, RefreshRotatesAndReuseRevokesTheFamily) {
  ASSERT_TRUE(start());
  EXPECT_EQ(call("POST", "/api/v1/auth/login", "", R"({"email":"root@example.org","password":"nope"})").status, 401);
  const json first = login(kRootEmail, kRootPassword);
  ASSERT_TRUE(first.is_object());
  EXPECT_EQ(first["expires_in"], 900);
  const std::string r1 = first["refresh_token"];
  EXPECT_EQ(call("GET", "/api/v1/auth/me", first["access_token"]).json()["role"], "superadmin");

  const auto second = call("POST", "/api/v1/auth/refresh", "", json{{"refresh_token", r1}}.dump());
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string r2 = second.json()["refresh_token"];
  EXPECT_NE(r1, r2);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", second.json()["access_token"]).status, 200);

  // r1 again: reuse. The whole family, r2 included, is revoked.
  const auto reuse = call("POST", "/api/v1/auth/refresh", "", json{{"refresh_token", r1}}.dump());
  EXPECT_EQ(reuse.status, 401);
  EXPECT_NE(reuse.header("www-authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(call("POST", "/api/v1/auth/refresh", "", json{{"refresh_token", r2}}.dump()).status, 401);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND family = "
                        "(SELECT family FROM refresh_tokens WHERE token_hash IS NOT NULL ORDER BY id DESC LIMIT 1)"),
            0);

  // A fresh login is a new family; logout ends it.
  const std::string r3 = login(kRootEmail, kRootPassword)["refresh_token"];
  EXPECT_EQ(call("POST", "/api/v1/auth/logout", "", json{{"refresh_token", r3}}.dump()).status, 204);
  EXPECT_EQ(call("POST", "/api/v1/auth/refresh", "", json{{"refresh_token", r3}}.dump()).status, 401);
  EXPECT_EQ(call("POST", "/api/v1/auth/refresh", "", R"({"refresh_token":"prt_unknown"})").status, 401);

  EXPECT_EQ(db_->scalar("SELECT count(*) FROM audit_log WHERE action = 'login.failure'"), 1);
  EXPECT_GE(db_->scalar("SELECT count(*) FROM audit_log WHERE action = 'login.success'"), 2);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM audit_log WHERE action = 'refresh.reuse'"), 1);
}

TEST_F(AuthFlowTest, AccessTokenLifetimeIsConfigurable) {
  ASSERT_TRUE(start({{"PEREGRINE_ACCESS_TOKEN_TTL_S", "120"}}));
  const json j = login(kRootEmail, kRootPassword);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["expires_in"], 120);
  const json r = call("POST", "/api/v1/auth/refresh", "",
                      json{{"refresh_token", j["refresh_token"]}}.dump())
                     .json();
  EXPECT_EQ(r["expires_in"], 120) << r.dump();
}

TEST_F(AuthFlowTest, WeakHashIsReplacedAtLogin) {
  ASSERT_TRUE(start());
  const std::string root = root_token();
  const auto id = create_user(root, "old@example.org", "viewer");
  ASSERT_GT(id, 0);
  // argon2id with libsodium's minimum parameters, password "oldpassword1".
  db_->exec("UPDATE users SET password_hash = '$argon2id$v=19$m=8,t=1,p=1$1gg027I1FpTner31wa6CWw$"
            "8OPSAAuomWRjU/6siV9M5A84wWYphcFi9NpA6dxoQ0s' WHERE id = " + std::to_string(id));
  EXPECT_FALSE(access_token("old@example.org", "oldpassword1").empty());
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM users WHERE id = " + std::to_string(id) +
                        " AND password_hash LIKE '$argon2id$v=19$m=65536,t=2,%'"),
            1);
  EXPECT_FALSE(access_token("old@example.org", "oldpassword1").empty());
  EXPECT_TRUE(access_token("old@example.org", "password-123").empty());
}

TEST_F(AuthFlowTest, UsersAndTenantsAreScoped) {
  ASSERT_TRUE(start());
  const std::string root = root_token();
  const auto t = call("POST", "/api/v1/tenants", root, R"({"name":"city-b"})");
  ASSERT_EQ(t.status, 201) << t.body;
  const std::int64_t tb = t.json()["id"];
  EXPECT_EQ(call("POST", "/api/v1/tenants", root, R"({"name":"city-b"})").status, 409);

  ASSERT_GT(create_user(root, "admin-a@example.org", "admin"), 0);
  ASSERT_GT(create_user(root, "admin-b@example.org", "admin", tb), 0);
  const std::string admin_a = access_token("admin-a@example.org", "password-123");
  const std::string admin_b = access_token("admin-b@example.org", "password-123");
  ASSERT_FALSE(admin_a.empty());
  ASSERT_FALSE(admin_b.empty());

  const auto viewer_a = create_user(admin_a, "viewer-a@example.org", "viewer");
  ASSERT_GT(viewer_a, 0);
  EXPECT_EQ(create_user(admin_a, "viewer-a@example.org", "viewer"), 0);  // 409
  EXPECT_EQ(call("POST", "/api/v1/users", admin_a,
                 R"({"email":"x@example.org","password":"password-123","role":"superadmin"})").status,
            403);
  EXPECT_EQ(call("POST", "/api/v1/users", admin_a,
                 json{{"email", "y@example.org"}, {"password", "password-123"}, {"tenant_id", tb}}.dump())
                .status,
            403);
  EXPECT_EQ(call("POST", "/api/v1/users", admin_a, R"({"email":"z@example.org","password":"short"})").status, 422);

  const std::string uid = std::to_string(viewer_a);
  EXPECT_EQ(call("GET", "/api/v1/users/" + uid, admin_a).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/users/" + uid, admin_b).status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/users/" + uid, admin_b, R"({"role":"admin"})").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/users/" + uid, admin_b).status, 404);
  const auto list_b = call("GET", "/api/v1/users", admin_b);
  ASSERT_EQ(list_b.status, 200);
  EXPECT_EQ(list_b.body.find("example.org\",\"id\":" + uid), std::string::npos);
  EXPECT_EQ(list_b.body.find("viewer-a"), std::string::npos);
  EXPECT_EQ(list_b.json()["items"].size(), 1u);

  EXPECT_EQ(call("PATCH", "/api/v1/users/" + uid, admin_a, R"({"role":"operator"})").json()["role"], "operator");
  EXPECT_EQ(call("DELETE", "/api/v1/users/" + uid, admin_a).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/users/" + uid, admin_a).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/tenants/" + std::to_string(tb), root).status, 409);  // has users

  const auto audit_b = call("GET", "/api/v1/audit", admin_b);
  ASSERT_EQ(audit_b.status, 200);
  const json audit_b_body = audit_b.json();  // not a temporary's member as the range
  for (const auto& e : audit_b_body["items"]) EXPECT_EQ(e["tenant_id"], tb) << e.dump();
  const auto audit_a = call("GET", "/api/v1/audit?action=user.delete", admin_a);
  ASSERT_EQ(audit_a.json()["items"].size(), 1u) << audit_a.body;
  EXPECT_EQ(audit_a.json()["items"][0]["actor_email"], "admin-a@example.org");
}

TEST_F(AuthFlowTest, DeviceTokensGateHttpIngest) {
  ASSERT_TRUE(start({{"PEREGRINE_HTTP_BODY_LIMIT", "4096"}}));
  const std::string root = root_token();
  const std::string d1 = device("h1"), d2 = device("h2");
  const auto c1 = call("POST", "/api/v1/devices", root, json{{"id", d1}, {"name", "pump"}}.dump());
  ASSERT_EQ(c1.status, 201) << c1.body;
  const auto c2 = call("POST", "/api/v1/devices", root, json{{"id", d2}}.dump());
  ASSERT_EQ(c2.status, 201);
  EXPECT_EQ(call("POST", "/api/v1/devices", root, json{{"id", d1}}.dump()).status, 409);
  const std::string tok1 = c1.json()["token"], tok2 = c2.json()["token"];
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM devices WHERE token_hash IS NOT NULL AND token_hash <> '" +
                        tok1 + "'"), 2);  // stored hashed, never in clear
  EXPECT_EQ(call("GET", "/api/v1/devices/" + d1, root).json().count("token"), 0u);

  const std::string body = telemetry(now_ms() - 1000, 1, {{"co", 2.5}}).dump();
  const std::string path = "/api/v1/devices/" + d1 + "/telemetry";
  auto r = call("POST", path, "", body, {{"X-Device-Token", tok1}});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["stored"], 1);
  ASSERT_TRUE(wait_rows(1, d1));
  EXPECT_EQ(call("POST", path, "", body, {{"X-Device-Token", tok2}}).status, 401);
  EXPECT_EQ(call("POST", path, "", body).status, 401);
  EXPECT_EQ(call("POST", path, root, body).status, 401);  // a user token is not a device token
  EXPECT_EQ(call("POST", path, "", "not json", {{"X-Device-Token", tok1}}).status, 400);
  EXPECT_EQ(call("POST", path, "", std::string(8192, ' '), {{"X-Device-Token", tok1}}).status, 413);

  const auto rot = call("POST", "/api/v1/devices/" + d1 + "/token", root);
  ASSERT_EQ(rot.status, 200);
  const std::string tok1b = rot.json()["token"];
  EXPECT_EQ(call("POST", path, "", telemetry(now_ms(), 2, {{"co", 3}}).dump(), {{"X-Device-Token", tok1}}).status, 401);
  EXPECT_EQ(call("POST", path, "", telemetry(now_ms(), 2, {{"co", 3}}).dump(), {{"X-Device-Token", tok1b}}).status, 202);
  ASSERT_TRUE(wait_rows(2, d1));
  EXPECT_EQ(db_->count_readings(d2), 0);
}

}  // namespace
}  // namespace peregrine::test
