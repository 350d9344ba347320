#pragma once
// peregrine-sim: one MQTT client that plays a fleet of devices, publishing
// `sensors/{id}/telemetry` at a paced total rate (token bucket on the steady
// clock) and `online`/`offline` retained on `sensors/{id}/status`. At QoS 1
// only acknowledged publishes count as sent, and at most `inflight` are
// outstanding, so the reported rate is what the broker took.
// The devices also answer commands: it subscribes (QoS 1) to
// `devices/+/commands` (the one device's topic when there is one), ignores
// other devices' commands, and acks each on `devices/{id}/commands/ack` after
// 50-300 ms, `ok`, `error` (`cmd_fail` of them) or not at all (`cmd_silent`).
// Runs on the calling thread: it publishes telemetry and the acks that are
// due; Paho's threads only update atomic counters and queue the acks.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::sim {

struct SimOptions {
  int devices = 10;
  double rate = 100;       ///< messages per second, all devices together
  double duration_s = 10;  ///< 0: until --count or a signal
  int qos = 1;
  std::string url = "tcp://127.0.0.1:1883";
  std::string prefix = "sim-";
  std::uint64_t seed = 1;
  std::vector<std::string> metrics{"co", "temperature", "humidity", "pressure"};
  std::uint64_t count = 0;  ///< 0: unlimited
  std::string client_id;
  std::string username;  ///< empty: anonymous
  std::string password;
  int inflight = 1000;  ///< outstanding publishes at most
  double cmd_fail = 0;    ///< fraction of commands acked with "status":"error"
  double cmd_silent = 0;  ///< fraction of commands never acked
  double backdate_s = 0;  ///< readings stamped this long before they are sent (a backlog)
};

/// `sim-0001` style ids: the prefix and the 1-based index, zero-padded to at
/// least four digits.
std::string device_id(const std::string& prefix, int index);

/// Set from a signal handler: the run stops and reports as if it had ended.
extern std::atomic<bool> g_interrupted;

/// Runs the simulation. Returns the process exit code: 0 done, 2 the broker
/// could not be reached, 3 the connection was lost during the run.
int run_simulation(const SimOptions& opts);

}  // namespace peregrine::sim
