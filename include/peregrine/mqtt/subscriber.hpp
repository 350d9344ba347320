#pragma once
/// The MQTT intake (Eclipse Paho C++): a fixed client id with a persistent
/// session (clean session off) and QoS 1 subscriptions to
/// `sensors/+/telemetry`, `sensors/+/status`, `devices/+/commands/ack` and
/// `devices/+/config/applied`,
/// so the broker keeps what
/// arrives while Peregrine is away; reconnects with back-off. Paho's callback
/// thread only copies (topic, padded payload) and hands it to `on_message`,
/// which must post to the event loop and return; payloads above the limit are
/// handed over empty with `too_large` set, never copied.
///
/// Back-pressure: while `paused()` returns true, the callback waits before
/// handing over, so the broker holds QoS 1 messages instead of Peregrine
/// buffering without bound.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <peregrine/core/types.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::mqtt {

struct SubscriberOptions {
  std::string url = "tcp://127.0.0.1:1883";
  std::string client_id;
  std::string username;
  std::string password;
  std::string ca_file;  ///< PEM CAs verifying an ssl:// broker (empty: system CAs)
  std::size_t max_payload = 64 * 1024;
};

struct Inbound {
  std::string topic;
  std::string payload;  ///< capacity leaves ingest::kPayloadPadding spare
  bool too_large = false;
  core::Micros arrival_us = 0;
  std::int64_t arrival_ns = 0;  ///< core::steady_ns()
};

class Subscriber {
 public:
  using OnMessage = std::function<void(Inbound&&)>;
  using Paused = std::function<bool()>;

  Subscriber(SubscriberOptions opts, OnMessage on_message, Paused paused,
             metrics::Registry& metrics);
  ~Subscriber();

  /// Connects in the background; returns at once.
  void start();
  /// Disconnects cleanly (the session stays on the broker). Blocks briefly.
  void stop();
  bool connected() const noexcept;

  /// Publishes (server → device topics). Thread-safe, non-blocking: queued
  /// for a thread of the subscriber (dropped with a warning past 10 000).
  /// False when dropped because the queue is full; every drop (also a
  /// publish Paho refuses or fails later) counts in
  /// peregrine_mqtt_publish_dropped_total. `on_published` runs on the
  /// publishing thread once Paho took the message.
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained,
               std::function<void()> on_published = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine::mqtt
