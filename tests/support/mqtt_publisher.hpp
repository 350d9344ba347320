#pragma once
/// An MQTT client for tests that plays the devices: publishes and waits for the
/// broker's acknowledgement (QoS 1: PUBACK). Test thread only.

#include <memory>
#include <string>
#include <vector>

namespace peregrine::test {

struct MqttMessage {
  std::string topic;
  std::string payload;
};

class MqttPublisher {
 public:
  /// Connects with a clean session. Throws std::runtime_error.
  explicit MqttPublisher(const std::string& url, const std::string& client_id = "");
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  /// Publishes one message and waits until the broker acknowledged it.
  void publish(const std::string& topic, const std::string& payload, int qos = 1);
  /// Publishes all, in order, with many in flight; returns once every one was
  /// acknowledged. Throws std::runtime_error on any failure.
  void publish_all(const std::vector<MqttMessage>& messages, int qos = 1);

  /// Connects as `client_id` with a clean session and disconnects, so the
  /// broker forgets that client's persistent session and queued messages.
  static void clear_session(const std::string& url, const std::string& client_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `sensors/{device}/telemetry`.
std::string telemetry_topic(const std::string& device);

}  // namespace peregrine::test
