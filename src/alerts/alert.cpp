#include <peregrine/alerts/alert.hpp>

#include <peregrine/core/time_format.hpp>

namespace peregrine::alerts {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<core::Micros>& t) {
  return t ? json(core::format_rfc3339(*t)) : json(nullptr);
}

std::optional<core::Micros> time_from(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return core::parse_rfc3339(it->get_ref<const std::string&>());
}

}  // namespace

std::string_view to_string(AlertState s) noexcept {
  switch (s) {
    case AlertState::active: return "active";
    case AlertState::acknowledged: return "acknowledged";
    case AlertState::resolved: return "resolved";
  }
  return "active";
}

std::string_view to_string(EventKind k) noexcept {
  switch (k) {
    case EventKind::opened: return "opened";
    case EventKind::updated: return "updated";
    case EventKind::acknowledged: return "acknowledged";
    case EventKind::resolved: return "resolved";
    case EventKind::escalated: return "escalated";
    case EventKind::action: return "action";
  }
  return "opened";
}

std::optional<EventKind> parse_event_kind(std::string_view s) noexcept {
  for (auto k : {EventKind::opened, EventKind::updated, EventKind::acknowledged, EventKind::resolved,
                 EventKind::escalated, EventKind::action}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

std::optional<AlertState> parse_alert_state(std::string_view s) noexcept {
  if (s == "active") return AlertState::active;
  if (s == "acknowledged") return AlertState::acknowledged;
  if (s == "resolved") return AlertState::resolved;
  return std::nullopt;
}

json to_json(const Alert& a) {
  return json{{"id", a.id},
              {"rule_id", a.rule_id},
              {"tenant_id", a.tenant},
              {"device", a.device},
              {"metric", a.metric},
              {"severity", rules::to_string(a.severity)},
              {"state", to_string(a.state)},
              {"value", a.value},
              {"message", a.message},
              {"count", a.count},
              {"opened_at", core::format_rfc3339(a.opened_at)},
              {"updated_at", core::format_rfc3339(a.updated_at)},
              {"acknowledged_at", time_or_null(a.acknowledged_at)},
              {"acknowledged_by", a.acknowledged_at ? json(a.acknowledged_by) : json(nullptr)},
              {"resolved_at", time_or_null(a.resolved_at)},
              {"resolved_by", a.resolved_at ? json(a.resolved_by) : json(nullptr)},
              {"silenced", a.silenced}};
}

json to_json(const AlertEvent& e) {
  return json{{"alert_id", e.alert_id},
              {"kind", to_string(e.kind)},
              {"actor", e.actor},
              {"at", core::format_rfc3339(e.at)},
              {"detail", e.detail}};
}

json to_snapshot_json(const Alert& a) {
  json j = to_json(a);
  // Exact µs (RFC 3339 above is exact too, but integers restore without parsing).
  j["opened_us"] = a.opened_at;
  j["updated_us"] = a.updated_at;
  j["escalate_at"] = a.escalate_at ? json(*a.escalate_at) : json(nullptr);
  j["escalate_to"] = rules::to_string(a.escalate_to);
  j["escalated"] = a.escalated;
  return j;
}

std::optional<Alert> alert_from_json(const json& j) {
  try {
    Alert a;
    a.id = j.at("id").get<AlertId>();
    a.rule_id = j.at("rule_id").get<rules::RuleId>();
    a.tenant = j.value("tenant_id", core::kDefaultTenant);
    a.device = j.at("device").get<std::string>();
    a.metric = j.at("metric").get<std::string>();
    auto sev = rules::parse_severity(j.at("severity").get<std::string>());
    auto st = parse_alert_state(j.at("state").get<std::string>());
    if (!sev || !st) return std::nullopt;
    a.severity = *sev;
    a.state = *st;
    a.value = j.at("value").get<double>();
    a.message = j.value("message", "");
    a.count = j.value("count", std::uint64_t{1});
    if (j.contains("opened_us")) {
      a.opened_at = j["opened_us"].get<core::Micros>();
      a.updated_at = j.value("updated_us", a.opened_at);
    } else {
      auto o = time_from(j, "opened_at");
      if (!o) return std::nullopt;
      a.opened_at = *o;
      a.updated_at = time_from(j, "updated_at").value_or(*o);
    }
    a.acknowledged_at = time_from(j, "acknowledged_at");
    if (a.acknowledged_at) a.acknowledged_by = j.value("acknowledged_by", "");
    a.resolved_at = time_from(j, "resolved_at");
    if (a.resolved_at) a.resolved_by = j.value("resolved_by", "");
    if (auto it = j.find("escalate_at"); it != j.end() && it->is_number_integer()) {
      a.escalate_at = it->get<core::Micros>();
    }
    if (auto it = j.find("escalate_to"); it != j.end() && it->is_string()) {
      a.escalate_to = rules::parse_severity(it->get_ref<const std::string&>()).value_or(rules::Severity::critical);
    }
    a.escalated = j.value("escalated", false);
    a.silenced = j.value("silenced", false);
    return a;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace peregrine::alerts
