// peregrine-sim: load generator and demo fleet (CONTRACT.md).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

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
  app.add_option("--cmd-fail", o.cmd_fail,
                 "Fraction (0..1) of commands acked with \"status\":\"error\" (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--cmd-silent", o.cmd_silent,
                 "Fraction (0..1) of commands never acked, to exercise ack timeouts (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--backdate", o.backdate_s,
                 "Seconds before the send time to stamp readings with, like a device sending "
                 "its buffered backlog (default 0)")
      ->check(CLI::NonNegativeNumber);
  app.footer(
      "Commands: the devices answer devices/{id}/commands (QoS 1 subscription to\n"
      "devices/+/commands) with {\"id\",\"status\":\"ok\"|\"error\",\"detail\"} on\n"
      "devices/{id}/commands/ack after 50-300 ms; --cmd-fail + --cmd-silent must not\n"
      "exceed 1. Commands for other device ids are ignored, malformed ones counted.\n"
      "Configuration: the devices apply each retained devices/{id}/config\n"
      "{\"version\",\"config\"} and answer devices/{id}/config/applied {\"version\"}, or\n"
      "{\"version\",\"error\"} when the config has a \"fail\" key.\n"
      "Summary line: sent=N rate=R/s commands=N acked=N failed=N silent=N malformed=N configs=N\n"
      "(acked: answered ok, failed: answered error, silent: left unanswered; configs: applied or refused).\n");
  try {
    app.parse(argc, argv);
    // Range lets NaN through (every comparison is false).
    for (auto [name, v] :
         {std::pair{"--cmd-fail", o.cmd_fail}, std::pair{"--cmd-silent", o.cmd_silent}}) {
      if (!(v >= 0.0 && v <= 1.0)) throw CLI::ValidationError(name, "must be a fraction in 0..1");
    }
    if (o.cmd_fail + o.cmd_silent > 1.0 + 1e-9) {  // rounding of decimal inputs
      char sum[32];
      std::snprintf(sum, sizeof sum, "%g", o.cmd_fail + o.cmd_silent);
      throw CLI::ValidationError("--cmd-fail, --cmd-silent",
                                 std::string("their sum must not exceed 1 (got ") + sum + ")");
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.metrics.empty()) o.metrics = {"co"};

  std::signal(SIGINT, [](int) { peregrine::sim::g_interrupted = true; });
  std::signal(SIGTERM, [](int) { peregrine::sim::g_interrupted = true; });
  return peregrine::sim::run_simulation(o);
}
