#include <peregrine/http/server.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <peregrine/core/errors.hpp>

namespace peregrine::http {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::awaitable;
using asio::ip::tcp;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("peregrine-http-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "web" / "js");
    write_file(dir_ / "web" / "index.html", "<h1>dash</h1>");
    write_file(dir_ / "web" / "js" / "app.js", "console.log(1)");
    write_file(dir_ / "secret.txt", "top secret");
    fs::create_symlink(dir_ / "secret.txt", dir_ / "web" / "link.txt");

    router_.add(bhttp::verb::get, "/api/v1/echo/{id}", Access::public_,
                [](Request& req) -> awaitable<Response> {
                  co_return json_response(req.raw, 200,
                                          {{"id", req.params.at("id")},
                                           {"limit", std::string(req.q("limit").value_or(""))}});
                });
    router_.add(bhttp::verb::post, "/api/v1/echo", Access::public_,
                [](Request& req) -> awaitable<Response> {
                  co_return json_response(req.raw, 201, req.json());
                });
    router_.add(bhttp::verb::get, "/api/v1/busy", Access::public_,
                [](Request&) -> awaitable<Response> {
                  throw core::Overloaded("the query pool is full", 2);
                  co_return Response{};
                });
    router_.add(bhttp::verb::get, "/api/v1/boom", Access::public_,
                [](Request&) -> awaitable<Response> {
                  throw std::runtime_error("secret internals");
                  co_return Response{};
                });

    ServerOptions opts;
    opts.addr = "127.0.0.1:0";
    opts.web_root = (dir_ / "web").string();
    opts.body_limit = 1024;
    opts.max_connections = max_connections_;
    server_ = std::make_unique<Server>(ioc_, opts, router_, metrics_);
    server_->start();
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    asio::post(ioc_, [this] {
      server_->stop();
      ioc_.stop();
    });
    thread_.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  tcp::socket connect() {
    tcp::socket s(client_ioc_);
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return s;
  }

  Response roundtrip(tcp::socket& s, RawRequest req) {
    req.set(bhttp::field::host, "localhost");
    req.prepare_payload();
    bhttp::write(s, req);
    boost::beast::flat_buffer buf;
    Response res;
    bhttp::read(s, buf, res);
    return res;
  }

  Response roundtrip(RawRequest req) {
    auto s = connect();
    return roundtrip(s, std::move(req));
  }

  // Sends raw bytes and returns everything the server wrote until it closed.
  std::string raw_exchange(const std::string& bytes) {
    auto s = connect();
    asio::write(s, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(out), ec);
    return out;
  }

  std::size_t max_connections_ = 4096;
  fs::path dir_;
  asio::io_context ioc_;
  asio::io_context client_ioc_;
  Router router_;
  metrics::Registry metrics_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerTest, JsonRouteWithKeepAlive) {
  auto s = connect();
  for (int i = 0; i < 2; ++i) {
    const auto res = roundtrip(s, RawRequest{bhttp::verb::get, "/api/v1/echo/d%201?limit=5", 11});
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(nlohmann::json::parse(res.body()),
              (nlohmann::json{{"id", "d 1"}, {"limit", "5"}}));
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
    EXPECT_EQ(res["X-Frame-Options"], "DENY");
    EXPECT_TRUE(res.keep_alive());
  }
  auto& counter = metrics_.counter("peregrine_http_requests_total", "HTTP requests",
                                   {{"method", "GET"},
                                    {"route", "/api/v1/echo/{id}"},
                                    {"status", "200"}});
  EXPECT_EQ(counter.value(), 2u);
}

TEST_F(ServerTest, PostJsonAndInvalidJson) {
  RawRequest req{bhttp::verb::post, "/api/v1/echo", 11};
  req.body() = R"({"x":[1,2]})";
  auto res = roundtrip(req);
  EXPECT_EQ(res.result_int(), 201u);
  EXPECT_EQ(nlohmann::json::parse(res.body()).at("x").size(), 2u);

  req.body() = "{oops";
  res = roundtrip(req);
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  EXPECT_NE(res.body().find("invalid JSON"), std::string::npos);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  auto res = roundtrip(RawRequest{bhttp::verb::get, "/api/v1/nothing", 11});
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body.at("status"), 404);
  EXPECT_EQ(body.at("type"), "about:blank");

  res = roundtrip(RawRequest{bhttp::verb::delete_, "/api/v1/echo/x", 11});
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[bhttp::field::allow], "GET");
}

TEST_F(ServerTest, HandlerExceptionIsGeneric500) {
  const auto res = roundtrip(RawRequest{bhttp::verb::get, "/api/v1/boom", 11});
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(res.body().find("secret"), std::string::npos);
}

TEST_F(ServerTest, AFullQueueIs503WithRetryAfter) {
  const auto res = roundtrip(RawRequest{bhttp::verb::get, "/api/v1/busy", 11});
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(res["Retry-After"], "2");
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
}

class CappedServerTest : public ServerTest {
 protected:
  void SetUp() override {
    max_connections_ = 1;
    ServerTest::SetUp();
  }
};

// One connection over the cap is answered 503 and closed at once, counted;
// once the first one leaves, a new one is served again.
TEST_F(CappedServerTest, AConnectionOverTheCapIsRefusedAndCounted) {
  auto first = connect();
  EXPECT_EQ(roundtrip(first, RawRequest{bhttp::verb::get, "/api/v1/echo/a", 11}).result_int(), 200u);
  const std::string refused = raw_exchange("GET /api/v1/echo/b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(metrics_.counter("peregrine_http_connections_refused_total", "").value(), 1u);
  first.close();
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {  // the server notices the close on its loop
    const std::string again = raw_exchange("GET /api/v1/echo/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    served = again.rfind("HTTP/1.1 200", 0) == 0;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(served);
}

TEST_F(ServerTest, TooLargeBodyIs413) {
  RawRequest req{bhttp::verb::post, "/api/v1/echo", 11};
  req.body() = std::string(4096, 'x');
  const auto res = roundtrip(req);
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
}

TEST_F(ServerTest, MalformedRequestIs400ThenClosed) {
  const auto out = raw_exchange("hello there\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("application/problem+json"), std::string::npos);
}

TEST_F(ServerTest, TransferEncodingWithContentLengthIs400) {
  const auto out = raw_exchange(
      "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 5\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST_F(ServerTest, ServesStaticFiles) {
  auto res = roundtrip(RawRequest{bhttp::verb::get, "/", 11});
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "<h1>dash</h1>");
  EXPECT_EQ(res[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[bhttp::field::cache_control], "no-cache");

  res = roundtrip(RawRequest{bhttp::verb::get, "/js/app.js", 11});
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[bhttp::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(res.body(), "console.log(1)");

  res = roundtrip(RawRequest{bhttp::verb::get, "/missing.css", 11});
  EXPECT_EQ(res.result_int(), 404u);
  // Under /api/ nothing is served from disk.
  res = roundtrip(RawRequest{bhttp::verb::get, "/api/index.html", 11});
  EXPECT_EQ(res.result_int(), 404u);
}

TEST_F(ServerTest, RefusesTraversal) {
  for (const char* target : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                             "/link.txt"}) {
    const auto res = roundtrip(RawRequest{bhttp::verb::get, target, 11});
    EXPECT_EQ(res.result_int(), 403u) << target;
    EXPECT_EQ(res.body().find("top secret"), std::string::npos) << target;
  }
}

TEST_F(ServerTest, GuardRunsBeforeHandlersAndItsProblemHeadersAreSent) {
  Router router;
  router.add(bhttp::verb::get, "/api/v1/private", Access::viewer,
             [](Request& req) -> awaitable<Response> {
               co_return json_response(req.raw, 200, {{"user", req.principal->email}});
             });
  ServerOptions opts;
  opts.addr = "127.0.0.1:0";
  Server unguarded(ioc_, opts, router, metrics_);
  EXPECT_THROW(unguarded.start(), std::logic_error);

  Server server(client_ioc_, opts, router, metrics_);
  server.set_guard([](Request& req, Access access) -> awaitable<void> {
    if (access != Access::viewer || req.raw[bhttp::field::authorization] != "Bearer ok") {
      Problem p(401, "Unauthorized", "token required");
      p.headers.emplace_back("WWW-Authenticate", "Bearer");
      throw p;
    }
    req.principal = Principal{1, 1, 1, "a@b.c"};
    co_return;
  });
  server.start();
  std::thread loop([this] { client_ioc_.run(); });
  auto call = [&](const char* auth) {
    tcp::socket s(ioc_);
    s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
    RawRequest req{bhttp::verb::get, "/api/v1/private", 11};
    if (auth != nullptr) req.set(bhttp::field::authorization, auth);
    return roundtrip(s, std::move(req));
  };
  const auto denied = call(nullptr);
  EXPECT_EQ(denied.result_int(), 401u);
  EXPECT_EQ(denied[bhttp::field::www_authenticate], "Bearer");
  const auto allowed = call("Bearer ok");
  EXPECT_EQ(allowed.result_int(), 200u);
  EXPECT_EQ(nlohmann::json::parse(allowed.body()).at("user"), "a@b.c");
  asio::post(client_ioc_, [&] {
    server.stop();
    client_ioc_.stop();
  });
  loop.join();
}

}  // namespace
}  // namespace peregrine::http
