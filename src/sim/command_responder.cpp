#include "sim/command_responder.hpp"

#include <array>

#include <nlohmann/json.hpp>

namespace peregrine::sim {
namespace {

constexpr std::string_view kTopicHead = "devices/";

// The `{id}` of `devices/{id}<tail>`, one path segment.
std::optional<std::string_view> device_of(std::string_view topic, std::string_view tail) {
  if (!topic.starts_with(kTopicHead) || !topic.ends_with(tail)) return std::nullopt;
  if (topic.size() <= kTopicHead.size() + tail.size()) return std::nullopt;
  auto id = topic.substr(kTopicHead.size(), topic.size() - kTopicHead.size() - tail.size());
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return id;
}

// What a field device typically reports when a command does not go through.
constexpr std::array<std::string_view, 4> kFaults = {
    "actuator did not respond",
    "device busy",
    "parameter out of range",
    "interlock active",
};

}  // namespace

std::optional<std::string_view> command_topic_device(std::string_view topic) {
  return device_of(topic, "/commands");
}

std::optional<std::string_view> config_topic_device(std::string_view topic) {
  return device_of(topic, "/config");
}

std::optional<std::string> config_reply(std::string_view payload) {
  if (payload.size() > kMaxCommandPayload) return std::nullopt;
  auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  const auto version = j.find("version");
  const auto config = j.find("config");
  if (version == j.end() || !version->is_number_integer() || config == j.end() || !config->is_object())
    return std::nullopt;
  nlohmann::json reply = {{"version", *version}};
  if (config->contains("fail")) reply["error"] = "the board refused it: 'fail' is set";
  return reply.dump();
}

std::optional<Command> parse_command(std::string_view payload) {
  if (payload.size() > kMaxCommandPayload) return std::nullopt;
  auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;  // also a parse error (discarded)
  auto id = j.find("id");
  auto name = j.find("name");
  auto params = j.find("params");
  if (id == j.end() || !id->is_string() || name == j.end() || !name->is_string()) {
    return std::nullopt;
  }
  if (params != j.end() && !params->is_object()) return std::nullopt;
  Command cmd{id->get<std::string>(), name->get<std::string>()};
  if (cmd.id.empty() || cmd.name.empty()) return std::nullopt;
  return cmd;
}

CommandResponder::CommandResponder(double fail, double silent, std::uint64_t seed)
    : fail_(fail), silent_(silent), rng_(seed) {}

Reply CommandResponder::respond(const Command& cmd) {
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if (u < silent_) return {Outcome::silent, std::chrono::milliseconds{0}, {}};
  bool ok = u >= silent_ + fail_;
  std::chrono::milliseconds delay{std::uniform_int_distribution<std::int64_t>(
      kMinDelay.count(), kMaxDelay.count())(rng_)};
  std::string detail;
  if (ok) {
    detail = cmd.name + " done in " + std::to_string(delay.count()) + " ms";
  } else {
    auto fault = kFaults[std::uniform_int_distribution<std::size_t>(0, kFaults.size() - 1)(rng_)];
    detail = cmd.name + " failed: ";
    detail += fault;
    detail += " (simulated)";
  }
  nlohmann::json ack = {{"id", cmd.id}, {"status", ok ? "ok" : "error"}, {"detail", detail}};
  // Parsed strings are valid UTF-8; replace keeps dump() from throwing regardless.
  return {ok ? Outcome::ok : Outcome::error, delay,
          ack.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace peregrine::sim
