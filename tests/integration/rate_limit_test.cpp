// Rate limits in Redis (429 + Retry-After, then recovery) for login per IP,
// the API per user and HTTP ingest per device; the CORS allow-list.
#include <thread>

#include "auth_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class RateLimitTest : public AuthTest {
 protected:
  // 60/min with a 2 s burst: 2 at once, then one more each second.
  ::testing::AssertionResult start_limited() {
    return start({{"PEREGRINE_RATE_LOGIN_PER_MIN", "60"},
                  {"PEREGRINE_RATE_API_PER_MIN", "60"},
                  {"PEREGRINE_RATE_INGEST_PER_MIN", "60"},
                  {"PEREGRINE_RATE_BURST_SECONDS", "2"},
                  {"PEREGRINE_CORS_ORIGINS", "https://ops.example.org, http://localhost:5173"}});
  }
  HttpResponse bad_login() const {
    return call("POST", "/api/v1/auth/login", "", R"({"email":"x@example.org","password":"nope"})");
  }
};

TEST_F(RateLimitTest, LoginPerIpThen429ThenRecovers) {
  ASSERT_TRUE(start_limited());
  // The fixture's own login used one; wait it out so the burst is whole.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(bad_login().status, 401);
  EXPECT_EQ(bad_login().status, 401);
  const auto limited = bad_login();
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.header("retry-after"), "1");
  EXPECT_EQ(limited.header("content-type"), "application/problem+json");
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(bad_login().status, 401);
  EXPECT_GE(metric("peregrine_rate_limited_total", {{"scope", "login"}}), 1);
}

TEST_F(RateLimitTest, ApiPerUserAndIngestPerDevice) {
  ASSERT_TRUE(start_limited());
  std::this_thread::sleep_for(1100ms);
  const std::string root = root_token();
  ASSERT_FALSE(root.empty());
  std::this_thread::sleep_for(2100ms);  // the login above is per IP; the API budget is per user
  EXPECT_EQ(call("GET", "/api/v1/auth/me", root).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", root).status, 200);
  const auto limited = call("GET", "/api/v1/auth/me", root);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.header("retry-after"), "1");
  std::this_thread::sleep_for(1100ms);
  const std::string d1 = device("r1"), d2 = device("r2");
  const auto c1 = call("POST", "/api/v1/devices", root, json{{"id", d1}}.dump());
  ASSERT_EQ(c1.status, 201) << c1.body;
  std::this_thread::sleep_for(1100ms);
  const auto c2 = call("POST", "/api/v1/devices", root, json{{"id", d2}}.dump());
  ASSERT_EQ(c2.status, 201) << c2.body;

  auto post = [&](const std::string& id, const std::string& token) {
    return call("POST", "/api/v1/devices/" + id + "/telemetry", "",
                telemetry(now_ms(), -1, {{"co", 1}}).dump(), {{"X-Device-Token", token}});
  };
  const std::string t1 = c1.json()["token"], t2 = c2.json()["token"];
  EXPECT_EQ(post(d1, t1).status, 202);
  EXPECT_EQ(post(d1, t1).status, 202);
  EXPECT_EQ(post(d1, t1).status, 429);
  EXPECT_EQ(post(d2, t2).status, 202);  // another device has its own budget
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post(d1, t1).status, 202);
  EXPECT_GE(metric("peregrine_rate_limited_total", {{"scope", "ingest"}}), 1);
  EXPECT_GE(metric("peregrine_rate_limited_total", {{"scope", "api"}}), 1);
}

TEST_F(RateLimitTest, CorsAllowListAnswersPreflightForAllowedOriginsOnly) {
  ASSERT_TRUE(start_limited());
  const auto ok = call("OPTIONS", "/api/v1/devices", "", "",
                       {{"Origin", "https://ops.example.org"},
                        {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(ok.status, 204);
  EXPECT_EQ(ok.header("access-control-allow-origin"), "https://ops.example.org");
  EXPECT_NE(ok.header("access-control-allow-headers").find("Authorization"), std::string::npos);

  const auto evil = call("OPTIONS", "/api/v1/devices", "", "",
                         {{"Origin", "https://evil.example.com"},
                          {"Access-Control-Request-Method", "POST"}});
  EXPECT_NE(evil.status, 204);
  EXPECT_EQ(evil.header("access-control-allow-origin"), "");

  const auto get = call("GET", "/livez", "", "", {{"Origin", "http://localhost:5173"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.header("access-control-allow-origin"), "http://localhost:5173");
  EXPECT_EQ(call("GET", "/livez", "", "", {{"Origin", "https://evil.example.com"}})
                .header("access-control-allow-origin"),
            "");
}

}  // namespace
}  // namespace peregrine::test
