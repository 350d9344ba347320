#include <peregrine/mqtt/subscriber.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <peregrine/core/clock.hpp>
#include <peregrine/ingest/telemetry_decoder.hpp>
#include <peregrine/mqtt/tcp_nodelay.hpp>

// Latency note: Paho C 1.3 (Socket_new in Socket.c) does not set TCP_NODELAY
// on its sockets. Nagle would delay our small outbound packets (PUBACKs,
// commands) while an earlier segment is unacknowledged, so on_connected sets
// it on the broker connection (mqtt/tcp_nodelay.hpp).

namespace peregrine::mqtt {
namespace {

using namespace std::chrono_literals;

constexpr int kQos = 1;
constexpr auto kConnectRetryMin = 1s;
constexpr auto kConnectRetryMax = 30s;
constexpr std::size_t kMaxOutgoing = 10000;  // queued publishes before dropping
constexpr const char* kTopicsText =
    "sensors/+/telemetry, sensors/+/status, devices/+/commands/ack, devices/+/config/applied";

struct Outgoing {
  std::string topic;
  std::string payload;
  int qos;
  bool retained;
  std::function<void()> on_published;
};

core::Micros now_us() { return core::wall_us(); }

// Logs the outcome of fire-and-forget operations (subscribe, publish); Paho
// calls it on its own threads.
class LogListener final : public ::mqtt::iaction_listener {
 public:
  explicit LogListener(const char* what, std::function<void()> on_ok = {},
                       metrics::Counter* failures = nullptr)
      : what_(what), on_ok_(std::move(on_ok)), failures_(failures) {}
  void on_failure(const ::mqtt::token& tok) override {
    if (failures_ != nullptr) failures_->inc();
    spdlog::warn("mqtt: {} failed (rc {})", what_, tok.get_return_code());
  }
  void on_success(const ::mqtt::token&) override {
    if (on_ok_) on_ok_();
  }

 private:
  const char* what_;
  std::function<void()> on_ok_;
  metrics::Counter* failures_;
};

}  // namespace

struct Subscriber::Impl {
  SubscriberOptions opts;
  OnMessage on_message;
  Paused paused;
  metrics::Gauge& connected_gauge;
  metrics::Counter& reconnects;
  metrics::Counter& publish_dropped;

  // Declared before the client so that they outlive it: destroying a client
  // fails its pending tokens through these listeners.
  // Ready (for /readyz) only once the broker confirmed the subscriptions:
  // "connected" alone would let a client publish into the gap.
  LogListener subscribe_log{"subscribe", [this] {
                              set_connected(true);
                              spdlog::info("mqtt: subscribed to {}", kTopicsText);
                            }};
  LogListener publish_log{"publish", {}, &publish_dropped};
  ::mqtt::async_client client;
  ::mqtt::connect_options conn_opts;

  std::atomic<bool> connected{false};
  std::atomic<bool> stopping{false};
  bool ever_connected = false;  // Paho callback thread only

  // The first connection: Paho's automatic reconnect only covers a
  // connection that was once up, so initial failures are retried here.
  std::thread connector;
  std::mutex mu;
  std::condition_variable cv;

  // Publishes go through a thread of their own: Paho C holds its global
  // mutex while a message callback runs, so while intake is paused any
  // MQTTAsync call blocks — it must never be the event loop that waits.
  std::thread publisher;
  std::deque<Outgoing> outgoing;  // guarded by mu

  Impl(SubscriberOptions o, OnMessage m, Paused p, metrics::Registry& reg)
      : opts(std::move(o)),
        on_message(std::move(m)),
        paused(std::move(p)),
        connected_gauge(
            reg.gauge("peregrine_mqtt_connected", "1 while the MQTT broker is connected")),
        reconnects(reg.counter("peregrine_mqtt_reconnects_total",
                               "MQTT connections re-established after a loss")),
        publish_dropped(reg.counter("peregrine_mqtt_publish_dropped_total",
                                    "Server-to-device publishes not delivered to the broker: "
                                    "queue full, or refused or failed by Paho")),
        // Paho C caps queued publishes at maxBufferedMessages even while
        // connected (MQTTAsync_send): leave room for command bursts.
        client(opts.url, opts.client_id, ::mqtt::create_options(MQTTVERSION_3_1_1, 10000)) {
    auto b = ::mqtt::connect_options_builder()
                 .mqtt_version(MQTTVERSION_3_1_1)
                 .clean_session(false)
                 .keep_alive_interval(20s)
                 .connect_timeout(5s)
                 .automatic_reconnect(kConnectRetryMin, kConnectRetryMax)
                 .max_inflight(1000);
    if (!opts.username.empty()) b.user_name(opts.username);
    if (!opts.password.empty()) b.password(opts.password);
    if (opts.url.starts_with("ssl://") || opts.url.starts_with("mqtts://")) {
      // The broker's certificate is always verified: against ca_file when
      // given, else the system's CAs (OpenSSL's default paths).
      ::mqtt::ssl_options ssl;
      ssl.set_enable_server_cert_auth(true);
      if (!opts.ca_file.empty()) ssl.set_trust_store(opts.ca_file);
      ssl.set_error_handler([](const std::string& msg) { spdlog::warn("mqtt tls: {}", msg); });
      b.ssl(std::move(ssl));
    }
    conn_opts = b.finalize();

    client.set_connected_handler([this](const std::string&) { on_connected(); });
    client.set_connection_lost_handler([this](const std::string& cause) {
      set_connected(false);
      spdlog::warn("mqtt: connection lost{}{}", cause.empty() ? "" : ": ", cause);
    });
    client.set_message_callback([this](::mqtt::const_message_ptr msg) { on_arrival(*msg); });
  }

  void set_connected(bool up) {
    connected.store(up, std::memory_order_relaxed);
    connected_gauge.set(up ? 1 : 0);
  }

  void on_connected() {
    if (ever_connected) reconnects.inc();
    ever_connected = true;
    const int nodelay = set_nodelay_to_port(broker_port(opts.url));
    spdlog::info("mqtt: connected to {} as {} (TCP_NODELAY on {} socket{})", opts.url, opts.client_id,
                 nodelay, nodelay == 1 ? "" : "s");
    // The broker keeps subscriptions of a persistent session, but a new
    // session (first start, broker lost its state) has none: always renew.
    try {
      auto topics = ::mqtt::string_collection::create(
          {"sensors/+/telemetry", "sensors/+/status", "devices/+/commands/ack", "devices/+/config/applied"});
      client.subscribe(topics, ::mqtt::iasync_client::qos_collection{kQos, kQos, kQos, kQos}, nullptr,
                       subscribe_log);
    } catch (const ::mqtt::exception& e) {
      spdlog::error("mqtt: subscribe failed: {}", e.what());
    }
  }

  void on_arrival(const ::mqtt::message& msg) {
    Inbound in;
    in.arrival_ns = core::steady_ns();
    in.arrival_us = now_us();
    in.topic = msg.get_topic();
    const std::string& payload = msg.get_payload_ref().str();
    if (payload.size() > opts.max_payload) {
      in.too_large = true;
    } else {
      in.payload.reserve(payload.size() + ingest::kPayloadPadding);
      in.payload.assign(payload);
    }
    // Blocking Paho's delivery thread stops it reading the socket: the broker
    // then holds further QoS 1 messages for us (back-pressure). That thread
    // serves every Paho client of the process, so no other Paho client in
    // Peregrine may wait on a token while intake is paused.
    while (paused && paused() && !stopping.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(1ms);
    }
    on_message(std::move(in));
  }

  void publish_queued() {
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return stopping.load() || !outgoing.empty(); });
      if (outgoing.empty()) return;  // stopping, and everything handed to Paho
      Outgoing o = std::move(outgoing.front());
      outgoing.pop_front();
      lk.unlock();
      try {
        client.publish(o.topic, o.payload.data(), o.payload.size(), o.qos, o.retained, nullptr,
                       publish_log);
        if (o.on_published) o.on_published();
      } catch (const std::exception& e) {
        publish_dropped.inc();
        spdlog::warn("mqtt: publish to {} failed: {}", o.topic, e.what());
      }
      lk.lock();
    }
  }

  void connect_until_up() {
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(kConnectRetryMin);
    while (!stopping.load()) {
      try {
        auto tok = client.connect(conn_opts);
        if (tok->wait_for(10s)) return;
        spdlog::warn("mqtt: connect to {} timed out", opts.url);
      } catch (const ::mqtt::exception& e) {
        spdlog::warn("mqtt: connect to {} failed: {}", opts.url, e.what());
      }
      std::unique_lock lk(mu);
      cv.wait_for(lk, delay, [&] { return stopping.load(); });
      delay = std::min(delay * 2,
                       std::chrono::duration_cast<std::chrono::milliseconds>(kConnectRetryMax));
    }
  }
};

Subscriber::Subscriber(SubscriberOptions opts, OnMessage on_message, Paused paused,
                       metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(on_message), std::move(paused),
                                   metrics)) {}

Subscriber::~Subscriber() {
  stop();
  impl_->client.disable_callbacks();  // they capture Impl, which dies with the client
}

void Subscriber::start() {
  Impl& s = *impl_;
  if (s.connector.joinable()) return;
  s.stopping.store(false);
  s.connector = std::thread([&s] { s.connect_until_up(); });
  s.publisher = std::thread([&s] { s.publish_queued(); });
}

void Subscriber::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    s.stopping.store(true);
  }
  s.cv.notify_all();
  if (s.connector.joinable()) s.connector.join();
  if (s.publisher.joinable()) s.publisher.join();
  try {
    if (s.client.is_connected()) s.client.disconnect(2s)->wait_for(3s);
  } catch (const ::mqtt::exception& e) {
    spdlog::warn("mqtt: disconnect: {}", e.what());
  }
  s.set_connected(false);
}

bool Subscriber::connected() const noexcept { return impl_->connected.load(); }

bool Subscriber::publish(const std::string& topic, const std::string& payload, int qos,
                         bool retained, std::function<void()> on_published) {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (s.outgoing.size() < kMaxOutgoing) {
      s.outgoing.push_back({topic, payload, qos, retained, std::move(on_published)});
      s.cv.notify_all();
      return true;
    }
  }
  s.publish_dropped.inc();
  spdlog::warn("mqtt: publish to {} dropped: {} publishes already queued", topic, kMaxOutgoing);
  return false;
}

}  // namespace peregrine::mqtt
