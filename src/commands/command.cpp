#include <peregrine/commands/command.hpp>

#include <array>

#include <peregrine/core/time_format.hpp>

namespace peregrine::commands {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 7> kNames = {"queued",    "sent",    "ok",       "error",
                                                    "timed_out", "expired", "cancelled"};

json time_or_null(const std::optional<core::Micros>& t) {
  return t ? json(core::format_rfc3339(*t)) : json();
}

json micros_or_null(const std::optional<core::Micros>& t) { return t ? json(*t) : json(); }
std::optional<core::Micros> opt_micros(const json& j) {
  return j.is_number_integer() ? std::optional<core::Micros>(j.get<core::Micros>()) : std::nullopt;
}
std::optional<std::int64_t> opt_int(const json& j) {
  return j.is_number_integer() ? std::optional<std::int64_t>(j.get<std::int64_t>()) : std::nullopt;
}

}  // namespace

std::string_view to_string(Status s) noexcept { return kNames[static_cast<std::size_t>(s)]; }

std::optional<Status> parse_status(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<Status>(i);
  return std::nullopt;
}

json to_json(const Command& c) {
  return {{"id", c.id},
          {"device", c.device},
          {"name", c.name},
          {"params", c.params},
          {"status", to_string(c.status)},
          {"detail", c.detail},
          {"created_by", c.created_by},
          {"created_at", core::format_rfc3339(c.created_at)},
          {"sent_at", time_or_null(c.sent_at)},
          {"finished_at", time_or_null(c.finished_at)},
          {"ack_timeout_s", c.ack_timeout_s},
          {"expires_at", core::format_rfc3339(c.expires_at)},
          {"alert_id", c.alert_id ? json(*c.alert_id) : json()},
          {"job_id", c.job_id ? json(*c.job_id) : json()}};
}

std::string device_payload(const Command& c) {
  return json{{"id", c.id}, {"name", c.name}, {"params", c.params}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::string command_topic(std::string_view device) {
  return "devices/" + std::string(device) + "/commands";
}

json to_record_json(const Command& c) {
  return {{"id", c.id},
          {"tenant", c.tenant},
          {"device", c.device},
          {"name", c.name},
          {"params", c.params},
          {"status", to_string(c.status)},
          {"detail", c.detail},
          {"created_by", c.created_by},
          {"created_at", c.created_at},
          {"sent_at", micros_or_null(c.sent_at)},
          {"finished_at", micros_or_null(c.finished_at)},
          {"ack_timeout_s", c.ack_timeout_s},
          {"expires_at", c.expires_at},
          {"alert_id", c.alert_id ? json(*c.alert_id) : json()},
          {"run_id", c.run_id},
          {"alert_device", c.alert_device},
          {"on_timeout", c.on_timeout},
          {"job_id", c.job_id ? json(*c.job_id) : json()}};
}

std::optional<Command> command_from_record(const json& j) {
  try {
    Command c;
    c.id = j.at("id").get<std::string>();
    c.tenant = j.at("tenant").get<core::TenantId>();
    c.device = j.at("device").get<std::string>();
    c.name = j.at("name").get<std::string>();
    c.params = j.at("params");
    const auto st = parse_status(j.at("status").get<std::string>());
    if (!st) return std::nullopt;
    c.status = *st;
    c.detail = j.at("detail").get<std::string>();
    c.created_by = j.at("created_by").get<std::string>();
    c.created_at = j.at("created_at").get<core::Micros>();
    c.sent_at = opt_micros(j.at("sent_at"));
    c.finished_at = opt_micros(j.at("finished_at"));
    c.ack_timeout_s = j.at("ack_timeout_s").get<std::int32_t>();
    c.expires_at = j.at("expires_at").get<core::Micros>();
    c.alert_id = opt_int(j.at("alert_id"));
    c.run_id = j.at("run_id").get<std::string>();
    c.alert_device = j.at("alert_device").get<std::string>();
    c.on_timeout = j.at("on_timeout");
    c.job_id = opt_int(j.at("job_id"));
    return c;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace peregrine::commands
