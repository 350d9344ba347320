#include <peregrine/http/router.hpp>

#include <gtest/gtest.h>

namespace peregrine::http {
namespace {

using boost::asio::awaitable;

awaitable<Response> noop(Request& req) { co_return text_response(req.raw, 200, "", "text/plain"); }

Router make_router() {
  Router r;
  r.add(bhttp::verb::get, "/api/v1/devices", Access::viewer, noop);
  r.add(bhttp::verb::post, "/api/v1/devices", Access::operator_, noop);
  r.add(bhttp::verb::get, "/api/v1/devices/{id}", Access::viewer, noop);
  r.add(bhttp::verb::delete_, "/api/v1/devices/{id}", Access::admin, noop);
  r.add(bhttp::verb::get, "/api/v1/devices/{id}/state", Access::viewer, noop);
  return r;
}

TEST(Router, MatchesLiteralAndParams) {
  const auto r = make_router();
  std::unordered_map<std::string, std::string> params;
  bool mismatch = true;
  const Route* route = r.match(bhttp::verb::get, "/api/v1/devices", params, mismatch);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->pattern, "/api/v1/devices");
  EXPECT_FALSE(mismatch);

  route = r.match(bhttp::verb::get, "/api/v1/devices/d%2D1/state", params, mismatch);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->pattern, "/api/v1/devices/{id}/state");
  EXPECT_EQ(params.at("id"), "d-1");
}

TEST(Router, NoMatchForOtherShapes) {
  const auto r = make_router();
  std::unordered_map<std::string, std::string> params;
  bool mismatch = true;
  EXPECT_EQ(r.match(bhttp::verb::get, "/api/v1/devices/", params, mismatch), nullptr);
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(r.match(bhttp::verb::get, "/api/v1/devices/a/b", params, mismatch), nullptr);
  EXPECT_EQ(r.match(bhttp::verb::get, "/api/v1/device", params, mismatch), nullptr);
  EXPECT_EQ(r.match(bhttp::verb::get, "/api/v1/devices/%zz", params, mismatch), nullptr);
}

TEST(Router, MethodMismatchAndAllow) {
  const auto r = make_router();
  std::unordered_map<std::string, std::string> params;
  bool mismatch = false;
  EXPECT_EQ(r.match(bhttp::verb::put, "/api/v1/devices/x", params, mismatch), nullptr);
  EXPECT_TRUE(mismatch);
  EXPECT_EQ(r.allowed_methods("/api/v1/devices/x"), "GET, DELETE");
  EXPECT_EQ(r.allowed_methods("/nope"), "");
}

TEST(Query, PercentDecoding) {
  const auto q = parse_query("a=1&b=x%20y+z&&c&=bad&d=%41%42&e=%4");
  EXPECT_EQ(q.at("a"), "1");
  EXPECT_EQ(q.at("b"), "x y z");
  EXPECT_EQ(q.at("c"), "");
  EXPECT_EQ(q.at("d"), "AB");
  EXPECT_FALSE(q.contains("e"));
  EXPECT_FALSE(q.contains(""));
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
}

TEST(Request, QueryAndJson) {
  RawRequest raw{bhttp::verb::post, "/x?limit=5", 11};
  raw.body() = R"({"a":1})";
  Request req{raw, "/x", {}, parse_query("limit=5"), {}, "/x", std::nullopt, {}};
  EXPECT_EQ(req.q("limit"), "5");
  EXPECT_EQ(req.q("cursor"), std::nullopt);
  EXPECT_EQ(req.json().at("a"), 1);

  raw.body() = "{nope";
  try {
    req.json();
    FAIL() << "expected Problem";
  } catch (const Problem& p) {
    EXPECT_EQ(p.status, 400u);
    EXPECT_NE(std::string(p.what()).find("invalid JSON: "), std::string::npos);
  }
}

TEST(Responses, ProblemJsonShape) {
  RawRequest raw{bhttp::verb::get, "/", 11};
  const auto res = problem_response(raw, 404, "Not Found", "no such device");
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body, (nlohmann::json{{"type", "about:blank"},
                                  {"title", "Not Found"},
                                  {"status", 404},
                                  {"detail", "no such device"}}));
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
}

}  // namespace
}  // namespace peregrine::http
