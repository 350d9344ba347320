#include "storage/alert_spill.hpp"

namespace peregrine::storage {

using nlohmann::json;

namespace {

json opt(const std::optional<core::Micros>& t) { return t ? json(*t) : json(); }
std::optional<core::Micros> opt_micros(const json& j) {
  return j.is_number_integer() ? std::optional<core::Micros>(j.get<core::Micros>()) : std::nullopt;
}

json alert_json(const alerts::Alert& a) {
  return {{"op", "alert"},
          {"id", a.id},
          {"rule_id", a.rule_id},
          {"tenant", a.tenant},
          {"device", a.device},
          {"metric", a.metric},
          {"severity", rules::to_string(a.severity)},
          {"state", alerts::to_string(a.state)},
          {"value", a.value},
          {"message", a.message},
          {"opened_at", a.opened_at},
          {"updated_at", a.updated_at},
          {"count", a.count},
          {"acknowledged_at", opt(a.acknowledged_at)},
          {"acknowledged_by", a.acknowledged_by},
          {"resolved_at", opt(a.resolved_at)},
          {"resolved_by", a.resolved_by},
          {"escalated", a.escalated},
          {"silenced", a.silenced}};
}

alerts::Alert alert_from(const json& j) {
  alerts::Alert a;
  a.id = j.at("id").get<alerts::AlertId>();
  a.rule_id = j.at("rule_id").get<rules::RuleId>();
  a.tenant = j.at("tenant").get<core::TenantId>();
  a.device = j.at("device").get<std::string>();
  a.metric = j.at("metric").get<std::string>();
  a.severity = rules::parse_severity(j.at("severity").get<std::string>()).value_or(rules::Severity::warning);
  a.state = alerts::parse_alert_state(j.at("state").get<std::string>()).value_or(alerts::AlertState::active);
  a.value = j.at("value").get<double>();
  a.message = j.at("message").get<std::string>();
  a.opened_at = j.at("opened_at").get<core::Micros>();
  a.updated_at = j.at("updated_at").get<core::Micros>();
  a.count = j.at("count").get<std::uint64_t>();
  a.acknowledged_at = opt_micros(j.at("acknowledged_at"));
  a.acknowledged_by = j.at("acknowledged_by").get<std::string>();
  a.resolved_at = opt_micros(j.at("resolved_at"));
  a.resolved_by = j.at("resolved_by").get<std::string>();
  a.escalated = j.at("escalated").get<bool>();
  a.silenced = j.value("silenced", false);
  return a;
}

}  // namespace

std::string encode_alert_ops(const std::vector<AlertOp>& ops) {
  json out = json::array();
  for (const AlertOp& op : ops) {
    if (const auto* a = std::get_if<alerts::Alert>(&op)) {
      out.push_back(alert_json(*a));
    } else if (const auto* e = std::get_if<alerts::AlertEvent>(&op)) {
      out.push_back({{"op", "event"},
                     {"alert_id", e->alert_id},
                     {"kind", alerts::to_string(e->kind)},
                     {"actor", e->actor},
                     {"at", e->at},
                     {"detail", e->detail}});
    } else if (const auto* s = std::get_if<SnapshotOp>(&op)) {
      out.push_back({{"op", "snapshot"}, {"taken_at", snapshot_taken_at(*s)}, {"body", snapshot_body(*s)}});
    } else if (const auto* c = std::get_if<commands::Command>(&op)) {
      json j = commands::to_record_json(*c);
      j["op"] = "command";
      out.push_back(std::move(j));
    } else if (const auto* ce = std::get_if<commands::CommandEvent>(&op)) {
      out.push_back({{"op", "command_event"},
                     {"command_id", ce->command_id},
                     {"status", ce->status},
                     {"at", ce->at},
                     {"detail", ce->detail}});
    } else if (const auto* jb = std::get_if<jobs::Job>(&op)) {
      json j = jobs::to_record_json(*jb);
      j["op"] = "job";
      out.push_back(std::move(j));
    } else if (const auto* it = std::get_if<jobs::JobItem>(&op)) {
      json j = jobs::to_record_json(*it);
      j["op"] = "job_item";
      out.push_back(std::move(j));
    }
    else if (const auto* n = std::get_if<notifications::NotifyRequest>(&op)) {
      out.push_back({{"op", "notify"},
                     {"alert_id", n->alert_id},
                     {"tenant", n->tenant},
                     {"device", n->device},
                     {"event", n->event},
                     {"channel_id", n->channel_id},
                     {"mode", static_cast<int>(n->mode)},
                     {"contact_ids", n->contact_ids},
                     {"kind", n->kind},
                     {"repeat_s", n->repeat_s},
                     {"conditional", n->conditional},
                     {"due_at", n->due_at},
                     {"opened_at", n->opened_at},
                     {"payload", n->payload},
                     {"cancel_reason", n->cancel_reason}});
    }
    // A PublishOp is not kept: AlertStore::spill counts it as skipped.
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool decode_alert_ops(std::string_view payload, std::vector<AlertOp>& out) {
  const json batch = json::parse(payload, nullptr, false);
  if (!batch.is_array()) return false;
  try {
    for (const json& j : batch) {
      const std::string op = j.at("op").get<std::string>();
      if (op == "alert") {
        out.emplace_back(alert_from(j));
      } else if (op == "event") {
        alerts::AlertEvent e;
        e.alert_id = j.at("alert_id").get<alerts::AlertId>();
        const auto kind = alerts::parse_event_kind(j.at("kind").get<std::string>());
        if (!kind) return false;
        e.kind = *kind;
        e.actor = j.at("actor").get<std::string>();
        e.at = j.at("at").get<core::Micros>();
        e.detail = j.at("detail").get<std::string>();
        out.emplace_back(std::move(e));
      } else if (op == "command") {
        auto c = commands::command_from_record(j);
        if (!c) return false;
        out.emplace_back(std::move(*c));
      } else if (op == "command_event") {
        out.emplace_back(commands::CommandEvent{j.at("command_id").get<std::string>(),
                                                j.at("status").get<std::string>(),
                                                j.at("at").get<core::Micros>(),
                                                j.at("detail").get<std::string>()});
      } else if (op == "notify") {
        notifications::NotifyRequest n;
        n.alert_id = j.at("alert_id").get<alerts::AlertId>();
        n.tenant = j.at("tenant").get<core::TenantId>();
        n.device = j.at("device").get<std::string>();
        n.event = j.at("event").get<std::string>();
        n.channel_id = j.at("channel_id").get<std::int64_t>();
        const int mode = j.at("mode").get<int>();
        if (mode < 0 || mode > static_cast<int>(notifications::ContactMode::ids)) return false;
        n.mode = static_cast<notifications::ContactMode>(mode);
        n.contact_ids = j.at("contact_ids").get<std::vector<std::int64_t>>();
        n.kind = j.at("kind").get<std::string>();
        n.repeat_s = j.at("repeat_s").get<std::int32_t>();
        n.conditional = j.at("conditional").get<bool>();
        n.due_at = j.at("due_at").get<core::Micros>();
        n.opened_at = j.at("opened_at").get<core::Micros>();
        n.payload = j.at("payload").get<std::string>();
        n.cancel_reason = j.at("cancel_reason").get<std::string>();
        out.emplace_back(std::move(n));
      } else if (op == "job") {
        auto jb = jobs::job_from_record(j);
        if (!jb) return false;
        out.emplace_back(std::move(*jb));
      } else if (op == "job_item") {
        auto it = jobs::item_from_record(j);
        if (!it) return false;
        out.emplace_back(std::move(*it));
      } else if (op == "snapshot") {
        out.emplace_back(SnapshotOp{nullptr, j.at("taken_at").get<core::Micros>(),
                                    j.at("body").get<std::string>()});
      } else {
        return false;
      }
    }
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

}  // namespace peregrine::storage
