// The authorization matrix, generated from the server's own route table
// (GET /api/v1/routes): every route × {no token, expired, tampered,
// alg:none, viewer, operator, admin, admin of another tenant, superadmin}.
#include "auth_fixture.hpp"

#include <set>

namespace peregrine::test {
namespace {

using nlohmann::json;

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
  return access == "public" ? 0 : -1;  // -1: device
}

bool success(int status) { return status >= 200 && status < 300; }

class AuthMatrixTest : public AuthTest {};

TEST_F(AuthMatrixTest, EveryRouteEnforcesItsAccessAndTenant) {
  ASSERT_TRUE(start());
  const std::string root = root_token();
  ASSERT_FALSE(root.empty());
  const auto tb = call("POST", "/api/v1/tenants", root, R"({"name":"matrix-b"})").json().value("id", 0);
  ASSERT_GT(tb, 0);
  const auto viewer_id = create_user(root, "viewer@a.example", "viewer");
  ASSERT_GT(viewer_id, 0);
  ASSERT_GT(create_user(root, "operator@a.example", "operator"), 0);
  ASSERT_GT(create_user(root, "admin@a.example", "admin"), 0);
  ASSERT_GT(create_user(root, "admin@b.example", "admin", tb), 0);
  // Tenant A's data the other tenant must never see.
  const std::string dev = device("secret");
  ASSERT_EQ(call("POST", "/api/v1/devices", root,
                 json{{"id", dev}, {"name", "tenant-a-secret-name"}}.dump()).status, 201);

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
      {"other-tenant admin", access_token("admin@b.example", "password-123"), 3, true},
      {"superadmin", root, 4, false},
  };
  for (const auto& c : callers) ASSERT_TRUE(c.role == 0 || !c.token.empty()) << c.name;

  const auto table = call("GET", "/api/v1/routes", root);
  ASSERT_EQ(table.status, 200) << table.body;
  const json routes = table.json()["items"];
  ASSERT_GE(routes.size(), 15u);

  int checked = 0;
  for (const auto& route : routes) {
    const std::string method = route["method"], pattern = route["pattern"], access = route["access"];
    const int need = level(access);
    for (const auto& c : callers) {
      // Objects named in the path: tenant A's real ones for reads and for the
      // other tenant; ids that do not exist for allowed writes, so the matrix
      // does not delete what later rows need.
      const bool destructive = method == "DELETE" && !c.other_tenant;
      std::string target;
      std::size_t i = 0;
      while (i < pattern.size()) {
        const auto open = pattern.find('{', i);
        if (open == std::string::npos) { target += pattern.substr(i); break; }
        const auto close = pattern.find('}', open);
        target += pattern.substr(i, open - i);
        const std::string before = pattern.substr(0, open);
        if (before.ends_with("/devices/")) target += destructive ? "no-such-device" : dev;
        else if (before.ends_with("/users/")) target += destructive ? "999999" : std::to_string(viewer_id);
        else if (before.ends_with("/tenants/")) target += destructive ? "999999" : "1";
        else target += "999999";
        i = close + 1;
      }
      const std::string body = method == "GET" || method == "DELETE" ? "" : "{}";
      const auto r = call(method, target, c.token, body);
      const std::string where = method + " " + pattern + " as " + c.name + " → " +
                                std::to_string(r.status) + " " + r.body.substr(0, 160);
      ASSERT_NE(r.status, 0) << where << r.error;
      EXPECT_LT(r.status, 500) << where;
      ++checked;
      if (need == 0) {
        EXPECT_NE(r.status, 403) << where;
        if (c.role != 0) {
          EXPECT_NE(r.status, 401) << where;
        }
        continue;
      }
      if (need < 0) {  // device routes take X-Device-Token, never a bearer token
        EXPECT_EQ(r.status, 401) << where;
        continue;
      }
      if (c.role == 0) {
        EXPECT_EQ(r.status, 401) << where;
        EXPECT_NE(r.header("www-authenticate").find("Bearer"), std::string::npos) << where;
      } else if (c.role < need) {
        EXPECT_EQ(r.status, 403) << where;
      } else {
        EXPECT_NE(r.status, 401) << where;
        EXPECT_NE(r.status, 403) << where;
      }
      if (c.other_tenant) {
        EXPECT_EQ(r.body.find("tenant-a-secret-name"), std::string::npos) << where;
        EXPECT_EQ(r.body.find("viewer@a.example"), std::string::npos) << where;
        if (pattern.find("/devices/{") != std::string::npos ||
            pattern.find("/users/{") != std::string::npos) {
          EXPECT_FALSE(success(r.status)) << where;
        }
      }
    }
  }
  EXPECT_GE(checked, static_cast<int>(routes.size() * callers.size()));
  // Nothing of tenant A was changed by the other tenant or by denied callers.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM users WHERE email = 'viewer@a.example' AND role = 'viewer'"), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM devices WHERE id = '" + dev + "'"), 1);
}

}  // namespace
}  // namespace peregrine::test
