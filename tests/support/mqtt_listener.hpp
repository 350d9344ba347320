#pragma once
/// An MQTT client for tests that plays the devices' receiving side: it
/// subscribes (QoS 1) to a topic filter and keeps every message that
/// arrives, so a test can wait for a command and count how often one was
/// published. Messages arrive on Paho's thread; the methods are safe from
/// the test thread.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/mqtt_publisher.hpp"

namespace peregrine::test {

class MqttListener {
 public:
  /// Connects with a clean session and subscribes to `filter` (waits for
  /// the SUBACK). Throws std::runtime_error.
  MqttListener(const std::string& url, const std::string& filter);
  ~MqttListener();
  MqttListener(const MqttListener&) = delete;
  MqttListener& operator=(const MqttListener&) = delete;

  /// Every message so far, in arrival order.
  std::vector<MqttMessage> messages() const;
  /// The first message (at index `from` or later) for which `pred` holds,
  /// waiting up to `timeout`.
  std::optional<MqttMessage> wait_for(const std::function<bool(const MqttMessage&)>& pred,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                      std::size_t from = 0) const;
  /// How many messages so far satisfy `pred`.
  std::size_t count(const std::function<bool(const MqttMessage&)>& pred) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine::test
