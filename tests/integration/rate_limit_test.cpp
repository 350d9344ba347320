// Rate limits in Redis (429 + Retry-After, then recovery) for login per IP,
// the API per user and HTTP ingest per device; the CORS allow-list.
#include <functional>
#include <string>
#include <thread>

#include "auth_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class RateLimitTest : public AuthTest {
 protected:
  // 6/min with a 30 s burst: 3 at once, then one more every 10 s. A refill
  // takes far longer than any request here (an Argon2 check of a bad login
  // included, on a loaded machine), so what is asserted is the order of
  // outcomes, not how fast the machine is.
  ::testing::AssertionResult start_limited() {
    return start({{"PEREGRINE_RATE_LOGIN_PER_MIN", "6"},
                  {"PEREGRINE_RATE_API_PER_MIN", "6"},
                  {"PEREGRINE_RATE_INGEST_PER_MIN", "6"},
                  {"PEREGRINE_RATE_BURST_SECONDS", "30"},
                  {"PEREGRINE_CORS_ORIGINS", "https://ops.example.org, http://localhost:5173"}});
  }
  HttpResponse bad_login() const {
    return call("POST", "/api/v1/auth/login", "", R"({"email":"x@example.org","password":"nope"})");
  }
  /// Calls `fn` until it answers 429 (at most 4 times: the burst is 3).
  /// Returns the 429, and in `passed` how many answered `ok` before it.
  static HttpResponse until_limited(const std::function<HttpResponse()>& fn, int ok, int& passed) {
    passed = 0;
    for (int i = 0; i < 4; ++i) {
      HttpResponse r = fn();
      if (r.status == 429) return r;
      EXPECT_EQ(r.status, ok) << r.body;
      ++passed;
    }
    ADD_FAILURE() << "no 429 within 4 calls (burst 3)";
    return {};
  }
  /// Sleeps for the Retry-After the 429 named, plus a margin.
  static void wait_retry_after(const HttpResponse& limited) {
    const std::string ra = limited.header("retry-after");
    ASSERT_FALSE(ra.empty());
    const int s = std::stoi(ra);
    ASSERT_GE(s, 1);
    ASSERT_LE(s, 10);  // one token every 10 s
    std::this_thread::sleep_for(std::chrono::seconds(s) + 300ms);
  }
};

TEST_F(RateLimitTest, LoginPerIpThen429ThenRecovers) {
  ASSERT_TRUE(start_limited());
  int passed = 0;
  // The fixture's own login may have used one of the burst.
  const auto limited = until_limited([&] { return bad_login(); }, 401, passed);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_GE(passed, 2);
  EXPECT_EQ(limited.header("content-type"), "application/problem+json");
  EXPECT_EQ(bad_login().status, 429) << "still limited right after";
  wait_retry_after(limited);
  EXPECT_EQ(bad_login().status, 401) << "one token back after Retry-After";
  EXPECT_EQ(bad_login().status, 429) << "and only one";
  EXPECT_GE(metric("peregrine_rate_limited_total", {{"scope", "login"}}), 3);
}

TEST_F(RateLimitTest, ApiPerUserAndIngestPerDevice) {
  ASSERT_TRUE(start_limited());
  const std::string root = root_token();
  ASSERT_FALSE(root.empty());
  const std::string d1 = device("r1"), d2 = device("r2");
  const auto c1 = call("POST", "/api/v1/devices", root, json{{"id", d1}}.dump());
  ASSERT_EQ(c1.status, 201) << c1.body;
  const auto c2 = call("POST", "/api/v1/devices", root, json{{"id", d2}}.dump());
  ASSERT_EQ(c2.status, 201) << c2.body;
  int passed = 0;
  const auto limited = until_limited([&] { return call("GET", "/api/v1/auth/me", root); }, 200, passed);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_LE(passed, 1) << "the two creations used the API budget";

  auto post = [&](const std::string& id, const std::string& token) {
    return call("POST", "/api/v1/devices/" + id + "/telemetry", "",
                telemetry(now_ms(), -1, {{"co", 1}}).dump(), {{"X-Device-Token", token}});
  };
  const std::string t1 = c1.json()["token"], t2 = c2.json()["token"];
  const auto ingest_limited = until_limited([&] { return post(d1, t1); }, 202, passed);
  ASSERT_EQ(ingest_limited.status, 429) << ingest_limited.body;
  EXPECT_EQ(passed, 3) << "a device's own budget, untouched before";
  EXPECT_EQ(post(d2, t2).status, 202) << "another device has its own budget";
  wait_retry_after(ingest_limited);
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
