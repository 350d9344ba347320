#pragma once
// How a simulated device answers `devices/{id}/commands` (CONTRACT.md): the
// pure part of peregrine-sim's command handling, without MQTT. Parses the
// command, decides from a seeded RNG whether it is acked `ok`, acked `error`
// or left unanswered, after how long, and builds the ack payload.
// Not thread-safe: one instance per thread (the simulator guards its own).

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace peregrine::sim {

/// A command as sent by the server: `{"id", "name", "params"}`.
struct Command {
  std::string id;
  std::string name;
};

/// Larger command payloads are malformed (the server's are a few hundred bytes).
inline constexpr std::size_t kMaxCommandPayload = 64 * 1024;

/// The device id of a `devices/{id}/commands` topic; nullopt for any other topic.
std::optional<std::string_view> command_topic_device(std::string_view topic);

/// Parses a command payload: a JSON object with a non-empty string `id`, a
/// non-empty string `name` and, when present, an object `params`. nullopt when
/// it is not one (the caller counts it as malformed). Never throws.
std::optional<Command> parse_command(std::string_view payload);

/// The device id of a `devices/{id}/config` topic; nullopt for any other topic.
std::optional<std::string_view> config_topic_device(std::string_view topic);

/// What a simulated device answers to a retained `{"version", "config"}`
/// (docs/configuration.md) on `devices/{id}/config/applied`: `{"version"}`,
/// or `{"version", "error"}` when the configuration has a `fail` key (a
/// board that cannot take it). nullopt when the payload is not a config.
std::optional<std::string> config_reply(std::string_view payload);

enum class Outcome { ok, error, silent };

struct Reply {
  Outcome outcome;
  std::chrono::milliseconds delay;  ///< how long the "device" takes; 0 when silent
  std::string payload;              ///< the ack JSON; empty when silent
};

class CommandResponder {
 public:
  static constexpr std::chrono::milliseconds kMinDelay{50};
  static constexpr std::chrono::milliseconds kMaxDelay{300};

  /// `fail` and `silent` are fractions in [0, 1] with `fail + silent <= 1`
  /// (checked by the caller): that share of commands is acked with
  /// `"status":"error"`, or never acked.
  CommandResponder(double fail, double silent, std::uint64_t seed);

  /// Decides this command's fate and builds its ack:
  /// `{"id": <command id>, "status": "ok"|"error", "detail": "..."}`.
  Reply respond(const Command& cmd);

 private:
  double fail_;
  double silent_;
  std::mt19937_64 rng_;
};

}  // namespace peregrine::sim
