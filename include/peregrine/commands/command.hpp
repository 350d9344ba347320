#pragma once
/// A command to a device (CONTRACT.md "commands") and each change of its
/// status, as values with their JSON. Pure; any thread.
///
/// Status: queued (device offline) → sent → ok | error | timed_out, or
/// queued → expired; queued or sent → cancelled (its job was cancelled).
/// A final status never changes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>

namespace peregrine::commands {

enum class Status : std::uint8_t { queued, sent, ok, error, timed_out, expired, cancelled };

constexpr bool is_final(Status s) noexcept { return s != Status::queued && s != Status::sent; }
std::string_view to_string(Status s) noexcept;
std::optional<Status> parse_status(std::string_view s) noexcept;

struct Command {
  std::string id;  ///< a UUID
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  Status status = Status::queued;
  std::string detail;      ///< the device's ack detail, or why it ended
  std::string created_by;  ///< the operator's email, or `rule:<id>`
  core::Micros created_at = 0;
  std::optional<core::Micros> sent_at;
  std::optional<core::Micros> finished_at;
  std::int32_t ack_timeout_s = 10;
  core::Micros expires_at = 0;  ///< a queued command not sent by then expires
  // A rule action's command: the alert, the action run it belongs to (all
  // its targets), the alert's device, and the action's fallback.
  std::optional<std::int64_t> alert_id;
  std::string run_id;
  std::string alert_device;
  nlohmann::json on_timeout;  ///< null, or the `on_timeout` actions
  std::optional<std::int64_t> job_id;
};

/// One status change (or an ack that changed nothing: status "ack"), for
/// `command_events`.
struct CommandEvent {
  std::string command_id;
  std::string status;
  core::Micros at = 0;
  std::string detail;
};

/// The API shape: id, device, name, params, status, detail, created_by,
/// created_at, sent_at, finished_at, ack_timeout_s, expires_at, alert_id,
/// job_id (RFC 3339 times, nulls when unset).
nlohmann::json to_json(const Command& c);
/// What the device receives on `devices/{id}/commands`: `{"id","name","params"}`.
std::string device_payload(const Command& c);
/// `devices/{id}/commands`.
std::string command_topic(std::string_view device);

/// to_json plus the fields a restart needs (run, fallback), and back; for
/// the alert store's spill. nullopt when malformed.
nlohmann::json to_record_json(const Command& c);
std::optional<Command> command_from_record(const nlohmann::json& j);

}  // namespace peregrine::commands
