#include <peregrine/realtime/hub.hpp>

#include <functional>
#include <map>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <peregrine/http/server.hpp>

#include "hub_fixture.hpp"

namespace peregrine::realtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;

// A blocking Beast client driven from the test thread.
class Client {
 public:
  Client(unsigned short port, const std::string& target = "/ws") {
    auto& sock = ws_.next_layer();
    sock.open(tcp::v4());
    // A small receive window so that a client that stops reading backs the
    // server up quickly.
    sock.set_option(asio::socket_base::receive_buffer_size(8192));
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1", target);
  }

  void send(const json& j) { ws_.write(asio::buffer(j.dump())); }

  json read() {
    buffer_.consume(buffer_.size());
    ws_.read(buffer_);
    return json::parse(beast::buffers_to_string(buffer_.data()));
  }

  // Everything sent before a pong, which proves the server handled what we
  // sent before it.
  std::vector<json> sync() {
    send({{"op", "ping"}});
    std::vector<json> before;
    for (;;) {
      auto j = read();
      if (j.at("type") == "pong") return before;
      before.push_back(std::move(j));
    }
  }

  websocket::stream<tcp::socket>& ws() { return ws_; }

 private:
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
  beast::flat_buffer buffer_;
};

class HubTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubOptions hub_opts;
    hub_opts.session_queue = 64;
    hub_opts.alert_replay = 3;
    start_hub(hub_opts);
  }

  void publish(const std::string& device, double value, core::Micros ts = 1'700'000'000'000'000) {
    on_loop([&] {
      const std::vector<core::MetricValue> values{{"co", value}};
      core::Reading r;
      r.ts_us = ts;
      r.values = values;
      if (hub_->wants_readings(core::kDefaultTenant, device)) {
        hub_->publish_reading(core::kDefaultTenant, device, r);
      }
    });
  }

  bool wants(const std::string& device) {
    return on_loop([&] { return hub_->wants_readings(core::kDefaultTenant, device); });
  }
};

TEST_F(HubTest, DeviceSubscriptionGetsOnlyThatDevice) {
  EXPECT_FALSE(wants("d1"));
  Client c(server_->port());
  c.send({{"op", "subscribe"}, {"topics", {"readings:d1"}}});
  EXPECT_TRUE(c.sync().empty());
  EXPECT_TRUE(wants("d1"));
  EXPECT_FALSE(wants("d2"));

  publish("d1", 1);
  publish("d2", 2);
  publish("d1", 3);
  const auto a = c.read();
  const auto b = c.read();
  EXPECT_EQ(a.at("type"), "reading");
  EXPECT_EQ(a.at("device"), "d1");
  EXPECT_EQ(a.at("ts"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(a.at("values"), (json{{"co", 1.0}}));
  EXPECT_EQ(b.at("values"), (json{{"co", 3.0}}));
  EXPECT_GT(b.at("seq").get<std::uint64_t>(), a.at("seq").get<std::uint64_t>());
  EXPECT_TRUE(c.sync().empty());  // no d2 reading in between
  EXPECT_EQ(metrics_.gauge("peregrine_ws_connections", "").value(), 1.0);
}

TEST_F(HubTest, WildcardGetsAllOnceAndUnsubscribeStops) {
  Client c(server_->port());
  c.send({{"op", "subscribe"}, {"topics", {"readings:*", "readings:d1", "devices"}}});
  c.sync();
  EXPECT_TRUE(wants("anything"));
  publish("d1", 1);
  publish("d2", 2);
  on_loop([&] { hub_->publish_presence(core::kDefaultTenant, "d2", false); });
  const auto frames = c.sync();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].at("device"), "d1");
  EXPECT_EQ(frames[1].at("device"), "d2");
  EXPECT_EQ(frames[2], (json{{"seq", frames[2].at("seq")},
                             {"type", "device"},
                             {"device", "d2"},
                             {"online", false}}));

  c.send({{"op", "unsubscribe"}, {"topics", {"readings:*", "readings:d1"}}});
  c.sync();
  EXPECT_FALSE(wants("d1"));
  publish("d1", 5);
  EXPECT_TRUE(c.sync().empty());
}

TEST_F(HubTest, PingBadJsonAndUnknownOps) {
  Client c(server_->port());
  c.send({{"op", "ping"}});
  const auto pong = c.read();
  EXPECT_EQ(pong.at("type"), "pong");
  EXPECT_TRUE(pong.at("seq").is_number_unsigned());

  c.ws().write(asio::buffer(std::string("{not json")));
  EXPECT_EQ(c.read().at("type"), "error");
  c.send({{"op", "dance"}});
  EXPECT_EQ(c.read().at("detail"), "unknown op: dance");
  c.send({{"op", "subscribe"}, {"topics", {"weather"}}});
  EXPECT_EQ(c.read().at("detail"), "unknown topic: weather");
  c.send({{"op", "auth"}, {"token", "whatever"}});
  EXPECT_TRUE(c.sync().empty());  // still open, auth accepted silently
}

TEST_F(HubTest, AlertsReplaySinceAndResync) {
  Client live(server_->port());
  live.send({{"op", "subscribe"}, {"topics", {"alerts"}}});
  live.sync();
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 5; ++i) {
    on_loop([&] { hub_->publish_alert(core::kDefaultTenant, {{"id", i}, {"state", "active"}}); });
    const auto a = live.read();
    EXPECT_EQ(a.at("alert").at("id"), i);
    seqs.push_back(a.at("seq").get<std::uint64_t>());
  }

  // The ring keeps 3 alerts (ids 2..4): since the seq of id 1, all are there.
  Client back(server_->port(), "/ws?since=" + std::to_string(seqs[1]));
  auto replayed = back.sync();
  ASSERT_EQ(replayed.size(), 3u);
  EXPECT_EQ(replayed[0].at("alert").at("id"), 2);
  EXPECT_EQ(replayed[2].at("seq").get<std::uint64_t>(), seqs[4]);

  back.send({{"op", "resume"}, {"since", seqs[3]}});
  replayed = back.sync();
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].at("alert").at("id"), 4);

  // id 1 has left the ring: a client that last saw id 0 must resync.
  Client old(server_->port(), "/ws?since=" + std::to_string(seqs[0]));
  replayed = old.sync();
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].at("type"), "resync");
  // A seq from before this process started.
  old.send({{"op", "resume"}, {"since", 5}});
  EXPECT_EQ(old.read().at("type"), "resync");
}

TEST_F(HubTest, SlowReaderIsCoalescedNotBuffered) {
  Client c(server_->port());
  c.send({{"op", "subscribe"}, {"topics", {"readings:*"}}});
  c.sync();
  constexpr int kDevices = 10;
  constexpr int kTotal = 100000;
  for (int batch = 0; batch < 100; ++batch) {
    const auto queued = on_loop([&] {
      for (int i = batch * 1000; i < (batch + 1) * 1000; ++i) {
        const std::vector<core::MetricValue> v{{"co", static_cast<double>(i)}};
        core::Reading r;
        r.ts_us = 1'700'000'000'000'000 + i;
        r.values = v;
        hub_->publish_reading(core::kDefaultTenant, "d" + std::to_string(i % kDevices), r);
      }
      return hub_->queued_frames();
    });
    ASSERT_LE(queued, 64u);
  }
  EXPECT_GT(metrics_.counter("peregrine_ws_dropped_total", "").value(), 0u);

  // Reading again: seq keeps increasing and the newest value of every device
  // arrives.
  std::uint64_t last_seq = 0;
  int seen_final = 0;
  int frames = 0;
  while (seen_final < kDevices) {
    const auto f = c.read();
    ++frames;
    const auto seq = f.at("seq").get<std::uint64_t>();
    ASSERT_GT(seq, last_seq);
    last_seq = seq;
    if (f.at("values").at("co").get<double>() >= kTotal - kDevices) ++seen_final;
  }
  EXPECT_LT(frames, kTotal);
  EXPECT_TRUE(c.sync().empty());  // still open
}

TEST_F(HubTest, SlowReaderKeepsTheLatestValueOfEveryMetric) {
  Client c(server_->port());
  c.send({{"op", "subscribe"}, {"topics", {"readings:*"}}});
  c.sync();
  // Each device alternates frames of `co` and of `temp`; the very last frame
  // of every device is a `co` one, so coalescing by device alone would lose
  // the last `temp` of each.
  constexpr int kDevices = 10;
  constexpr int kTotal = 40000;
  for (int batch = 0; batch < kTotal / 1000; ++batch) {
    on_loop([&] {
      for (int i = batch * 1000; i < (batch + 1) * 1000; ++i) {
        const char* metric = (i / kDevices) % 2 == 0 ? "temp" : "co";
        const std::vector<core::MetricValue> v{{metric, static_cast<double>(i)}};
        core::Reading r;
        r.ts_us = 1'700'000'000'000'000 + i;
        r.values = v;
        hub_->publish_reading(core::kDefaultTenant, "d" + std::to_string(i % kDevices), r);
      }
      return 0;
    });
  }
  EXPECT_GT(metrics_.counter("peregrine_ws_dropped_total", "").value(), 0u);

  std::map<std::string, double> latest;  // "device/metric" → newest value seen
  for (const json& f : c.sync()) {
    for (const auto& [metric, value] : f.at("values").items())
      latest[f.at("device").get<std::string>() + "/" + metric] = value.get<double>();
  }
  ASSERT_EQ(latest.size(), 2u * kDevices);
  for (const auto& [k, v] : latest) EXPECT_GE(v, kTotal - 2 * kDevices) << k;
}

TEST_F(HubTest, AlertFloodClosesSlowClientWith1008) {
  Client c(server_->port());
  c.send({{"op", "subscribe"}, {"topics", {"alerts"}}});
  c.sync();
  auto& slow_closes = metrics_.counter("peregrine_ws_slow_closes_total", "");
  const json alert = {{"id", 1}, {"detail", std::string(2000, 'x')}};
  for (int batch = 0; batch < 1000 && slow_closes.value() == 0; ++batch) {
    on_loop([&] {
      for (int i = 0; i < 100; ++i) hub_->publish_alert(core::kDefaultTenant, alert);
    });
  }
  ASSERT_EQ(slow_closes.value(), 1u);

  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!ec) {
    buffer.consume(buffer.size());
    c.ws().read(buffer, ec);
  }
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws().reason().code, 1008);
}

TEST_F(HubTest, CloseAllSaysGoingAway) {
  Client c(server_->port());
  c.sync();
  EXPECT_EQ(on_loop([&] { return hub_->session_count(); }), 1u);
  on_loop([&] { hub_->close_all(); });
  beast::flat_buffer buffer;
  beast::error_code ec;
  c.ws().read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws().reason().code, 1001);
}

}  // namespace
}  // namespace peregrine::realtime
