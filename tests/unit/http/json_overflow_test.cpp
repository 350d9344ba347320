// The JSON number overflow found by fuzz/http_request_fuzz.cpp (the input in
// fuzz/regressions/http_request_fuzz/json_number_overflow): a body whose
// number is too large for a double made nlohmann throw out_of_range (406),
// which Request::json() did not catch, so it escaped the handler as a 500.
// It must be a Problem 400 naming the bad JSON, like any other malformed body.
#include <exception>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <peregrine/http/router.hpp>

namespace peregrine::http {
namespace {

using boost::asio::awaitable;

awaitable<Response> unused(Request& req) { co_return text_response(req.raw, 200, "", "text/plain"); }

// The regression file's 144 bytes, unchanged: a login request with a mangled
// Content-Type and a 38-byte body starting with `222e222222221832358056`
// (the last byte, after the body, is left over as in the fuzzer's run).
const std::string kCrashInput =
    "POST /api/v1/auth/login HTTP/1.1\r\n"
    "Host: x\r\n"
    "Content-Type: a}1pplicatio\xff\xff\xff\xff\xff\xff"
    "n/json\r\n"
    "Content-Length: 38\r\n"
    "\r\n"
    "222e222222221832358056{wPOST /orau\":\"s"
    "e";

/// Calls req.json() and reports how it ended: the Problem it threw, or a
/// failure when it returned or let another exception escape.
::testing::AssertionResult json_is_problem_400(const Request& req) {
  try {
    const auto j = req.json();
    return ::testing::AssertionFailure() << "json() returned " << j.dump();
  } catch (const Problem& p) {
    if (p.status != 400) return ::testing::AssertionFailure() << "Problem " << p.status << ": " << p.what();
    if (p.title != "Bad Request") return ::testing::AssertionFailure() << "title '" << p.title << "'";
    if (std::string_view(p.what()).find("invalid JSON") == std::string_view::npos)
      return ::testing::AssertionFailure() << "detail does not name the bad JSON: " << p.what();
    // What the client gets for it: application/problem+json with that status.
    const Response res = problem_response(req.raw, p.status, p.title, p.what());
    if (res.result_int() != 400 || res[bhttp::field::content_type] != "application/problem+json")
      return ::testing::AssertionFailure() << "response " << res.result_int();
    return ::testing::AssertionSuccess() << p.what();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "an exception other than Problem escaped (a 500): " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "a non-std exception escaped";
  }
}

// The fuzzer's path: Beast's request_parser with the server's limits, the
// Router, then the JSON body.
TEST(JsonOverflow, FuzzRegressionInputIsAProblem400) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(kCrashInput.data(), kCrashInput.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  const RawRequest& raw = parser.get();
  ASSERT_EQ(raw.body(), "222e222222221832358056{wPOST /orau\":\"s");

  Router router;
  router.add(bhttp::verb::post, "/api/v1/auth/login", Access::public_, unused);
  Request req{raw, raw.target(), {}, {}, {}, {}, std::nullopt, {}};
  bool mismatch = false;
  const Route* route = router.match(raw.method(), req.path, req.params, mismatch);
  ASSERT_NE(route, nullptr);
  req.route = route->pattern;

  EXPECT_TRUE(json_is_problem_400(req));
}

// The same overflow in the shapes a client would send it.
TEST(JsonOverflow, NumbersBeyondADoubleAreAProblem400) {
  for (const char* body : {"222e222222221832358056", "1e999", "-1e999", R"({"email":1e400})",
                           R"({"co":[1, 2, 1e309]})", "1e309 trailing"}) {
    RawRequest raw{bhttp::verb::post, "/api/v1/auth/login", 11};
    raw.body() = body;
    const Request req{raw, "/api/v1/auth/login", {}, {}, {}, "/api/v1/auth/login", std::nullopt, {}};
    EXPECT_TRUE(json_is_problem_400(req)) << body;
  }
  // The largest finite doubles still parse.
  RawRequest raw{bhttp::verb::post, "/x", 11};
  raw.body() = R"({"v":1.7976931348623157e308,"w":-1e308})";
  const Request req{raw, "/x", {}, {}, {}, "/x", std::nullopt, {}};
  EXPECT_DOUBLE_EQ(req.json().at("v").get<double>(), 1.7976931348623157e308);
}

}  // namespace
}  // namespace peregrine::http
