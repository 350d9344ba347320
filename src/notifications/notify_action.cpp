#include <peregrine/notifications/notify.hpp>

#include <algorithm>
#include <cmath>

namespace peregrine::notifications {

using nlohmann::json;

json event_payload(const alerts::Alert& alert, std::string_view event, const std::string& device_name,
                   const std::string& public_url) {
  json a = alerts::to_json(alert);
  a["device_name"] = device_name.empty() ? alert.device : device_name;
  a["url"] = public_url + "/#/alerts/" + std::to_string(alert.id);
  return {{"event", event}, {"alert", std::move(a)}};
}

NotifyAction::NotifyAction(Outbox& outbox, const devices::Registry& registry, const core::Clock& clock,
                           NotifyOptions opts)
    : outbox_(outbox), registry_(registry), clock_(clock), opts_(std::move(opts)) {
  while (!opts_.public_url.empty() && opts_.public_url.back() == '/') opts_.public_url.pop_back();
}

std::string NotifyAction::payload(const alerts::Alert& alert, std::string_view event) const {
  const devices::Device* d = registry_.find(alert.device);
  const std::string name = d != nullptr && d->rec.tenant == alert.tenant ? d->rec.name : "";
  return event_payload(alert, event, name, opts_.public_url).dump();
}

void NotifyAction::run(const alerts::Alert& alert, const json& action, alerts::AlertControl& control) {
  NotifyRequest r;
  r.alert_id = alert.id;
  r.tenant = alert.tenant;
  r.device = alert.device;
  r.event = "alert.opened";
  r.channel_id = action.value("channel", std::int64_t{0});
  const auto contacts = action.find("contacts");
  if (contacts != action.end() && contacts->is_array()) {
    r.mode = ContactMode::ids;
    for (const auto& id : *contacts) r.contact_ids.push_back(id.get<std::int64_t>());
  } else if (contacts != action.end() && *contacts == "all") {
    r.mode = ContactMode::all;
  }
  r.kind = action.value("kind", "");
  const double after_s = std::max(0.0, action.value("after_s", 0.0));
  r.repeat_s = static_cast<std::int32_t>(std::lround(std::max(0.0, action.value("repeat_s", 0.0))));
  r.conditional = after_s > 0;
  r.opened_at = alert.opened_at;
  r.due_at = clock_.now_us() + static_cast<core::Micros>(std::llround(after_s * 1e6));
  r.payload = payload(alert, r.event);
  std::string step = "notify: channel " + std::to_string(r.channel_id);
  if (after_s > 0) step += ", if still unacknowledged after " + std::to_string(std::lround(after_s)) + " s";
  if (r.repeat_s > 0) step += ", reminders every " + std::to_string(r.repeat_s) + " s";
  control.record_action(alert.id, alert.tenant, std::move(step));
  outbox_.notify(r);
}

void NotifyAction::on_transition(const alerts::Alert& alert, const alerts::AlertEvent& event) {
  NotifyRequest r;
  switch (event.kind) {
    case alerts::EventKind::acknowledged:
      r.event = "alert.acknowledged";
      r.cancel_reason = "acknowledged";
      break;
    case alerts::EventKind::resolved:
      r.event = "alert.resolved";
      r.cancel_reason = "resolved";
      break;
    case alerts::EventKind::escalated:
      r.event = "alert.escalated";
      break;
    default:
      return;
  }
  r.alert_id = alert.id;
  r.tenant = alert.tenant;
  r.device = alert.device;
  r.opened_at = alert.opened_at;
  r.due_at = clock_.now_us();
  r.payload = payload(alert, r.event);
  outbox_.notify(r);
}

void Silences::load(std::vector<Silence> all) {
  by_tenant_.clear();
  for (auto& s : all) by_tenant_[s.tenant].push_back(std::move(s));
}

void Silences::upsert(Silence s) {
  auto& list = by_tenant_[s.tenant];
  const auto it = std::find_if(list.begin(), list.end(), [&](const Silence& x) { return x.id == s.id; });
  if (it != list.end())
    *it = std::move(s);
  else
    list.push_back(std::move(s));
}

void Silences::remove(core::TenantId tenant, std::int64_t id) {
  const auto t = by_tenant_.find(tenant);
  if (t == by_tenant_.end()) return;
  std::erase_if(t->second, [id](const Silence& s) { return s.id == id; });
}

std::optional<std::int64_t> Silences::silenced(const alerts::Alert& alert, core::Micros now) const {
  const auto t = by_tenant_.find(alert.tenant);
  if (t == by_tenant_.end()) return std::nullopt;
  std::erase_if(t->second, [now](const Silence& s) { return s.to <= now; });
  const devices::Device* d = registry_.find(alert.device);
  for (const Silence& s : t->second) {
    if (now < s.from) continue;
    if (!s.device.empty() && s.device == alert.device) return s.id;
    if (s.rule != 0 && s.rule == alert.rule_id) return s.id;
    if (s.group != 0 && d != nullptr && d->rec.tenant == alert.tenant &&
        std::find(d->rec.group_ids.begin(), d->rec.group_ids.end(), s.group) != d->rec.group_ids.end())
      return s.id;
  }
  return std::nullopt;
}

}  // namespace peregrine::notifications
