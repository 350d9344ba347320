#include "support/mqtt_publisher.hpp"

#include <chrono>
#include <deque>
#include <stdexcept>

#include <mqtt/async_client.h>

#include "support/test_env.hpp"

namespace peregrine::test {

namespace {
constexpr auto kTimeout = std::chrono::seconds(20);
constexpr std::size_t kMaxInFlight = 1000;

mqtt::connect_options clean_options() {
  mqtt::connect_options opts;
  opts.set_clean_session(true);
  opts.set_keep_alive_interval(30);
  opts.set_max_inflight(static_cast<int>(kMaxInFlight));
  return opts;
}

void wait_or_throw(const mqtt::token_ptr& tok, const std::string& what) {
  if (!tok->wait_for(kTimeout)) throw std::runtime_error(what + ": timed out");
}
}  // namespace

struct MqttPublisher::Impl {
  explicit Impl(const std::string& url, const std::string& id)
      : client(url, id, static_cast<int>(kMaxInFlight)) {}
  mqtt::async_client client;
};

MqttPublisher::MqttPublisher(const std::string& url, const std::string& client_id)
    : impl_(std::make_unique<Impl>(url, client_id.empty() ? "it-pub-" + random_hex(8) : client_id)) {
  try {
    wait_or_throw(impl_->client.connect(clean_options()), "mqtt connect to " + url);
  } catch (const mqtt::exception& e) {
    throw std::runtime_error("mqtt connect to " + url + ": " + e.what());
  }
}

MqttPublisher::~MqttPublisher() {
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    // The broker may be gone at the end of a test; nothing to clean up then.
  }
}

void MqttPublisher::publish(const std::string& topic, const std::string& payload, int qos) {
  publish_all({{topic, payload}}, qos);
}

void MqttPublisher::publish_all(const std::vector<MqttMessage>& messages, int qos) {
  try {
    std::deque<mqtt::delivery_token_ptr> in_flight;
    for (const auto& m : messages) {
      if (in_flight.size() >= kMaxInFlight / 2) {
        wait_or_throw(in_flight.front(), "mqtt publish");
        in_flight.pop_front();
      }
      in_flight.push_back(impl_->client.publish(m.topic, m.payload.data(), m.payload.size(), qos,
                                                /*retained=*/false));
    }
    for (auto& t : in_flight) wait_or_throw(t, "mqtt publish");
  } catch (const mqtt::exception& e) {
    throw std::runtime_error(std::string("mqtt publish: ") + e.what());
  }
}

void MqttPublisher::clear_session(const std::string& url, const std::string& client_id) {
  try {
    mqtt::async_client c(url, client_id);
    if (c.connect(clean_options())->wait_for(std::chrono::seconds(5)))
      c.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    // Best effort: a leftover session only costs the broker some memory.
  }
}

std::string telemetry_topic(const std::string& device) { return "sensors/" + device + "/telemetry"; }

}  // namespace peregrine::test
