// Token lifetime of hub sessions: a session is closed (1008 "token expired")
// at its token's expiry unless the client renews with another
// {"op":"auth"}; a refused renewal closes it at once. The authenticator is a
// stand-in whose tokens read "<tenant>:<exp µs>" (or "bad").
#include <peregrine/realtime/hub.hpp>

#include <charconv>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <peregrine/http/server.hpp>

#include "hub_fixture.hpp"

#include "realtime/session.hpp"

namespace peregrine::realtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

core::Micros now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A token of `tenant` valid for `ttl` from now.
std::string token(core::TenantId tenant, std::chrono::milliseconds ttl) {
  return std::to_string(tenant) + ":" +
         std::to_string(now_us() +
                        std::chrono::duration_cast<std::chrono::microseconds>(ttl).count());
}

WsAuth fake_authenticate(std::string_view tok, std::optional<core::TenantId> requested) {
  const auto colon = tok.find(':');
  core::TenantId tenant = 0;
  core::Micros exp = 0;
  if (colon == std::string_view::npos) return {std::nullopt, 401, "token signature invalid"};
  std::from_chars(tok.data(), tok.data() + colon, tenant);
  std::from_chars(tok.data() + colon + 1, tok.data() + tok.size(), exp);
  if (exp <= now_us()) return {std::nullopt, 401, "token expired"};
  if (requested && *requested != tenant) return {std::nullopt, 403, "another tenant"};
  return {tenant, 200, {}, exp};
}

class Client {
 public:
  Client(unsigned short port, const std::string& target) {
    ws_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1", target);
  }
  void send(const json& j) { ws_.write(asio::buffer(j.dump())); }
  // True when a pong answers a ping (the session is open and authenticated).
  bool alive() {
    send({{"op", "ping"}});
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    return !ec && json::parse(beast::buffers_to_string(buffer.data())).at("type") == "pong";
  }
  // Reads until the server closes; its close frame.
  websocket::close_reason wait_close() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    while (!ec) {
      buffer.consume(buffer.size());
      ws_.read(buffer, ec);
    }
    EXPECT_EQ(ec, websocket::error::closed) << ec.message();
    return ws_.reason();
  }

 private:
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
};

class HubAuthTest : public testing::HubFixture {
 protected:
  void SetUp() override { start_hub(HubOptions{}, fake_authenticate); }
};

TEST_F(HubAuthTest, SessionIsClosedWhenItsTokenExpires) {
  Client query(port(), "/ws?token=" + token(1, 400ms));
  Client first_msg(port(), "/ws");
  first_msg.send({{"op", "auth"}, {"token", token(1, 400ms)}});
  EXPECT_TRUE(query.alive());
  EXPECT_TRUE(first_msg.alive());
  for (Client* c : {&query, &first_msg}) {
    const auto reason = c->wait_close();
    EXPECT_EQ(reason.code, 1008);
    EXPECT_EQ(std::string(reason.reason), "token expired");
  }
}

TEST_F(HubAuthTest, RenewalMovesTheDeadline) {
  Client c(port(), "/ws?token=" + token(1, 500ms));
  const auto started = std::chrono::steady_clock::now();
  c.send({{"op", "auth"}, {"token", token(1, 2000ms)}});
  EXPECT_TRUE(c.alive());  // a renewal gets no reply of its own
  std::this_thread::sleep_for(800ms);
  EXPECT_TRUE(c.alive()) << "closed at the first token's expiry";
  EXPECT_EQ(c.wait_close().code, 1008);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(HubAuthTest, RefusedRenewalClosesAtOnce) {
  Client bad(port(), "/ws?token=" + token(1, 60s));
  bad.send({{"op", "auth"}, {"token", "forged"}});
  auto reason = bad.wait_close();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "token signature invalid");

  Client other(port(), "/ws?token=" + token(1, 60s));
  other.send({{"op", "auth"}, {"token", token(2, 60s)}});
  EXPECT_EQ(other.wait_close().code, 1008);

  Client named(port(), "/ws?token=" + token(1, 60s));
  named.send({{"op", "auth"}, {"token", token(2, 60s)}, {"tenant", 2}});
  reason = named.wait_close();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "token is for another tenant");
}

TEST(RenewalRefusal, SameTenantOnly) {
  EXPECT_FALSE(renewal_refusal({7, 200, {}, 1}, 7).has_value());
  EXPECT_EQ(renewal_refusal({8, 200, {}, 1}, 7), "token is for another tenant");
  EXPECT_EQ(renewal_refusal({std::nullopt, 401, "token expired", 0}, 7), "token expired");
  EXPECT_EQ(renewal_refusal({std::nullopt, 401, {}, 0}, 7), "token refused");
}

TEST(CloseReasonText, FitsACloseFrame) {
  EXPECT_EQ(close_reason_text("token expired"), "token expired");
  const std::string ascii(200, 'x');
  EXPECT_EQ(close_reason_text(ascii).size(), 123u);
  // "é" is two bytes: after "a" the cut at byte 123 falls between two of
  // them; after "ab" it would fall inside one, so one byte less is kept.
  const std::string utf8 = "a" + [] {
    std::string s;
    for (int i = 0; i < 70; ++i) s += "\xC3\xA9";
    return s;
  }();
  EXPECT_EQ(close_reason_text(utf8).size(), 123u);
  const std::string shifted = "ab" + utf8.substr(1);
  EXPECT_EQ(close_reason_text(shifted).size(), 122u);
}

}  // namespace
}  // namespace peregrine::realtime
