#pragma once
// Small adapters between modules that do not know each other: the MQTT
// client as the command service's publisher, the WebSocket hub as the job
// service's frames, and the ingest path's device events to the command
// service. Loop thread, except where a callee says otherwise.

#include <peregrine/commands/service.hpp>
#include <peregrine/fleet/config_service.hpp>
#include <peregrine/ingest/sinks.hpp>
#include <peregrine/jobs/service.hpp>
#include <peregrine/mqtt/subscriber.hpp>
#include <peregrine/realtime/hub.hpp>

namespace peregrine::app {

class MqttCommandPublisher final : public commands::CommandPublisher {
 public:
  explicit MqttCommandPublisher(mqtt::Subscriber& mqtt) : mqtt_(mqtt) {}
  bool publish(const std::string& topic, const std::string& payload,
               std::function<void()> on_published) override {
    return mqtt_.publish(topic, payload, 1, false, std::move(on_published));
  }

 private:
  mqtt::Subscriber& mqtt_;
};

class HubJobFrames final : public jobs::JobFrames {
 public:
  explicit HubJobFrames(realtime::Hub& hub) : hub_(hub) {}
  void publish(const jobs::Job& job) override { hub_.publish_job(job.tenant, jobs::to_json(job)); }

 private:
  realtime::Hub& hub_;
};

class CommandDeviceEvents final : public ingest::DeviceEvents {
 public:
  CommandDeviceEvents(commands::Service& commands, fleet::ConfigService& configs)
      : commands_(commands), configs_(configs) {}
  void on_presence(const devices::Device& device, bool online) override {
    commands_.on_presence(device, online);
  }
  void on_command_ack(const devices::Device& device, std::string_view payload) override {
    commands_.on_ack(device, payload);
  }
  void on_config_applied(const devices::Device& device, std::string_view payload) override {
    configs_.on_applied(device.rec.id, device.rec.tenant, payload);
  }

 private:
  commands::Service& commands_;
  fleet::ConfigService& configs_;
};

}  // namespace peregrine::app
