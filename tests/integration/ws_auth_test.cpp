// WebSocket authentication and tenant isolation: a client is refused without
// a valid token, authenticates with ?token= or a first auth message, receives
// only its own tenant's reading and alert frames, and is closed (1008) when
// its token expires unless it renewed it with another auth message.
#include <sys/time.h>

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "auth_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class WsAuthTest : public AuthTest {
 protected:
  /// Every frame that arrives within `quiet` of the previous one.
  static std::vector<json> drain(WsClient& ws, std::chrono::milliseconds quiet = 1500ms) {
    std::vector<json> frames;
    while (auto f = ws.read_json(quiet)) frames.push_back(std::move(*f));
    return frames;
  }

  /// Sends a ping and returns the frames before the pong (nullopt when the
  /// connection closed or nothing answered).
  static std::optional<std::vector<json>> sync(WsClient& ws) {
    ws.send(json{{"op", "ping"}});
    std::vector<json> before;
    while (auto f = ws.read_json(5s)) {
      if (f->value("type", "") == "pong") return before;
      before.push_back(std::move(*f));
    }
    return std::nullopt;
  }

  HttpResponse post_telemetry(const std::string& id, const std::string& token, double co) const {
    return call("POST", "/api/v1/devices/" + id + "/telemetry", "",
                telemetry(now_ms(), -1, {{"co", co}}).dump(), {{"X-Device-Token", token}});
  }
};

// The response head to a raw WebSocket upgrade request for `target`.
std::string upgrade_request(int port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string head;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    while (head.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 5000) == 1) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return head;
}

// A blocking client that sees the server's close frame (WsClient does not
// show its code). Every read gives up after 10 s.
class ClosingClient {
 public:
  void connect(int port, const std::string& target) {
    auto& sock = ws_.next_layer();
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const timeval tv{10, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.handshake("127.0.0.1", target);
  }
  void send(const json& msg) { ws_.write(boost::asio::buffer(msg.dump())); }
  /// True when a pong answers a ping.
  bool alive() {
    boost::beast::error_code ec;
    ws_.write(boost::asio::buffer(std::string(R"({"op":"ping"})")), ec);
    while (!ec) {
      boost::beast::flat_buffer buffer;
      ws_.read(buffer, ec);
      if (!ec && json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false)
                         .value("type", "") == "pong") {
        return true;
      }
    }
    return false;
  }
  /// Reads until the connection ends; the close frame the server sent
  /// (code 0 when it ended without one).
  boost::beast::websocket::close_reason wait_close() {
    boost::beast::error_code ec;
    while (!ec) {
      boost::beast::flat_buffer buffer;
      ws_.read(buffer, ec);
    }
    if (ec != boost::beast::websocket::error::closed) return {};
    return ws_.reason();
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{ioc_};
};

bool mentions(const std::vector<json>& frames, const std::string& device) {
  for (const auto& f : frames) {
    if (f.dump().find(device) != std::string::npos) return true;
  }
  return false;
}

TEST_F(WsAuthTest, RefusedWithoutAValidToken) {
  ASSERT_TRUE(start());
  const int port = server_->http_port();
  const auto expired = authit::make_jwt({{"alg", "HS256"}, {"typ", "JWT"}},
                                        {{"sub", "1"}, {"tenant", 1}, {"role", "superadmin"},
                                         {"email", kRootEmail}, {"iat", 1}, {"exp", 2}},
                                        kSecret);
  for (const std::string& token : {std::string("not-a-jwt"), expired}) {
    const std::string head = upgrade_request(port, "/ws?token=" + token);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 401")) << head;
    EXPECT_NE(head.find("WWW-Authenticate: Bearer"), std::string::npos) << head;
  }
  EXPECT_TRUE(upgrade_request(port, "/ws?token=" + root_token()).starts_with("HTTP/1.1 101"));

  WsClient bad;
  EXPECT_THROW(bad.connect("127.0.0.1", port, "/ws?token=forged"), std::runtime_error);

  // No token: the first message must authenticate.
  WsClient first_ping;
  first_ping.connect("127.0.0.1", port, "/ws");
  first_ping.send(json{{"op", "ping"}});
  EXPECT_FALSE(first_ping.read_json(5s).has_value());
  EXPECT_TRUE(first_ping.closed());

  WsClient wrong;
  wrong.connect("127.0.0.1", port, "/ws");
  wrong.send(json{{"op", "auth"}, {"token", expired}});
  EXPECT_FALSE(wrong.read_json(5s).has_value());
  EXPECT_TRUE(wrong.closed());

  WsClient silent;  // says nothing: closed after the auth timeout (5 s)
  silent.connect("127.0.0.1", port, "/ws");
  EXPECT_FALSE(silent.read_json(9s).has_value());
  EXPECT_TRUE(silent.closed());

  WsClient good;
  good.connect("127.0.0.1", port, "/ws");
  good.send(json{{"op", "auth"}, {"token", root_token()}});
  EXPECT_TRUE(sync(good).has_value());
}

TEST_F(WsAuthTest, FramesStayInTheirTenant) {
  ASSERT_TRUE(start());
  const std::string root = root_token();
  const auto t = call("POST", "/api/v1/tenants", root, R"({"name":"city-b"})");
  ASSERT_EQ(t.status, 201) << t.body;
  const std::int64_t tb = t.json()["id"];
  ASSERT_GT(create_user(root, "admin-b@example.org", "admin", tb), 0);
  ASSERT_GT(create_user(root, "viewer-a@example.org", "viewer"), 0);
  const std::string admin_b = access_token("admin-b@example.org", "password-123");
  const std::string viewer_a = access_token("viewer-a@example.org", "password-123");
  ASSERT_FALSE(admin_b.empty());

  const std::string da = device("wa"), db = device("wb");
  const auto ca = call("POST", "/api/v1/devices", root, json{{"id", da}}.dump());
  ASSERT_EQ(ca.status, 201) << ca.body;
  const auto cb = call("POST", "/api/v1/devices", admin_b, json{{"id", db}}.dump());
  ASSERT_EQ(cb.status, 201) << cb.body;
  const std::string tok_a = ca.json()["token"], tok_b = cb.json()["token"];
  const auto rule = call("POST", "/api/v1/rules", root,
                         json{{"name", "co high"}, {"metric", "co"}, {"scope", {{"device", da}}},
                              {"kind", "threshold"}, {"params", {{"op", ">"}, {"value", 50}}},
                              {"severity", "critical"}}
                             .dump());
  ASSERT_EQ(rule.status, 201) << rule.body;

  // A viewer of tenant A may not ask for tenant B; a superadmin may.
  WsClient nosy;
  EXPECT_THROW(nosy.connect("127.0.0.1", server_->http_port(),
                            "/ws?token=" + viewer_a + "&tenant=" + std::to_string(tb)),
               std::runtime_error);

  const json topics = {"readings:*", "readings:" + da, "alerts", "devices"};
  WsClient a, b, b_first_msg, root_in_b;
  a.connect("127.0.0.1", server_->http_port(), "/ws?token=" + root);
  b.connect("127.0.0.1", server_->http_port(), "/ws?token=" + admin_b);
  b_first_msg.connect("127.0.0.1", server_->http_port(), "/ws");
  b_first_msg.send(json{{"op", "auth"}, {"token", admin_b}});
  root_in_b.connect("127.0.0.1", server_->http_port(),
                    "/ws?token=" + root + "&tenant=" + std::to_string(tb));
  for (WsClient* c : {&a, &b, &b_first_msg, &root_in_b}) {
    c->send(json{{"op", "subscribe"}, {"topics", topics}});
    ASSERT_TRUE(sync(*c).has_value());
  }

  ASSERT_EQ(post_telemetry(da, tok_a, 10).status, 202);
  ASSERT_EQ(post_telemetry(da, tok_a, 99).status, 202);  // opens the alert
  ASSERT_EQ(post_telemetry(db, tok_b, 7).status, 202);

  const auto fa = drain(a);
  bool a_reading = false, a_alert = false;
  for (const auto& f : fa) {
    a_reading |= f.value("type", "") == "reading" && f.value("device", "") == da;
    a_alert |= f.value("type", "") == "alert" && f["alert"].value("device", "") == da;
  }
  EXPECT_TRUE(a_reading) << "tenant A saw no reading of its device";
  EXPECT_TRUE(a_alert) << "tenant A saw no alert of its device";
  EXPECT_FALSE(mentions(fa, db)) << "tenant A saw tenant B's device";

  for (WsClient* c : {&b, &b_first_msg, &root_in_b}) {
    const auto fb = drain(*c);
    bool b_reading = false;
    for (const auto& f : fb) {
      EXPECT_NE(f.value("type", ""), "alert") << f.dump();
      b_reading |= f.value("type", "") == "reading" && f.value("device", "") == db;
    }
    EXPECT_TRUE(b_reading) << "tenant B saw no reading of its own device";
    EXPECT_FALSE(mentions(fb, da)) << "tenant B saw tenant A's device";
  }
}

TEST_F(WsAuthTest, ExpiredTokenClosesTheSessionUnlessRenewed) {
  ASSERT_TRUE(start());
  const int port = server_->http_port();
  // The login (an Argon2 check, slow on a loaded machine) comes first, so it
  // cannot eat into the short tokens' lifetimes below.
  const std::string renewal = root_token();  // as the server issues them (15 min)
  ASSERT_FALSE(renewal.empty());
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  // Signed with the server's key; `exp` whole seconds from now.
  const auto token_until = [&](std::int64_t exp_s) {
    return authit::make_jwt({{"alg", "HS256"}, {"typ", "JWT"}},
                            {{"sub", "1"}, {"tenant", 1}, {"role", "superadmin"},
                             {"email", kRootEmail}, {"iat", now_s}, {"exp", exp_s}},
                            kSecret);
  };

  ClosingClient expiring, renewed, renewed_short, forged;
  expiring.connect(port, "/ws?token=" + token_until(now_s + 3));
  renewed.connect(port, "/ws");
  renewed.send(json{{"op", "auth"}, {"token", token_until(now_s + 3)}});
  renewed_short.connect(port, "/ws?token=" + token_until(now_s + 3));
  forged.connect(port, "/ws?token=" + token_until(now_s + 60));
  for (ClosingClient* c : {&expiring, &renewed, &renewed_short, &forged}) {
    ASSERT_TRUE(c->alive());
  }
  renewed.send(json{{"op", "auth"}, {"token", renewal}});
  renewed_short.send(json{{"op", "auth"}, {"token", token_until(now_s + 7)}});
  forged.send(json{{"op", "auth"}, {"token", token_until(now_s + 60) + "x"}});

  auto reason = forged.wait_close();
  EXPECT_EQ(reason.code, 1008) << "a refused renewal must close the session";
  EXPECT_EQ(std::string(reason.reason), "token signature invalid");

  // Order and outcome, not wall time: the unrenewed session ends first, at
  // its token's expiry; the short renewal outlives it and ends at its own;
  // the full renewal outlives both.
  reason = expiring.wait_close();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "token expired");
  EXPECT_TRUE(renewed_short.alive()) << "renewed past the first expiry";
  EXPECT_TRUE(renewed.alive());
  reason = renewed_short.wait_close();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "token expired");
  EXPECT_TRUE(renewed.alive());
}

}  // namespace
}  // namespace peregrine::test
