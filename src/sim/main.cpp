// peregrine-sim: load generator and demo fleet (CONTRACT.md).
#include <csignal>
#include <cstdlib>
#include <string>

#include <unistd.h>
#include <CLI/CLI.hpp>

#include "sim/simulator.hpp"

int main(int argc, char** argv) {
  peregrine::sim::SimOptions o;
  if (const char* env = std::getenv("PEREGRINE_MQTT_URL"); env && *env) o.url = env;
  o.client_id = "peregrine-sim-" + std::to_string(::getpid());

  CLI::App app{"peregrine-sim: publishes realistic sensor readings over MQTT"};
  app.add_option("--devices", o.devices, "Number of simulated devices")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--rate", o.rate, "Messages per second, all devices together")
      ->check(CLI::PositiveNumber);
  app.add_option("--duration", o.duration_s, "Seconds to run (0: until --count or Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--qos", o.qos, "MQTT QoS of telemetry")->check(CLI::IsMember({0, 1}));
  app.add_option("--mqtt", o.url,
                 "Broker URI (default $PEREGRINE_MQTT_URL or tcp://127.0.0.1:1883)");
  app.add_option("--prefix", o.prefix, "Device id prefix (ids are <prefix>0001, ...)");
  app.add_option("--seed", o.seed, "Random seed");
  app.add_option("--metrics", o.metrics, "Metrics per reading")->delimiter(',');
  app.add_option("--count", o.count, "Stop after this many messages");
  app.add_option("--client-id", o.client_id, "MQTT client id");
  app.add_option("--username", o.username, "MQTT user name (default: anonymous)");
  app.add_option("--password", o.password, "MQTT password")->needs("--username");
  app.add_option("--inflight", o.inflight, "Maximum unacknowledged publishes")
      ->check(CLI::Range(1, 65535));
  CLI11_PARSE(app, argc, argv);
  if (o.metrics.empty()) o.metrics = {"co"};

  std::signal(SIGINT, [](int) { peregrine::sim::g_interrupted = true; });
  std::signal(SIGTERM, [](int) { peregrine::sim::g_interrupted = true; });
  return peregrine::sim::run_simulation(o);
}
