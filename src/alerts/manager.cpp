#include <peregrine/alerts/manager.hpp>

#include <charconv>
#include <cstdio>

namespace peregrine::alerts {
namespace {

std::string value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string_view cause_text(rules::Cause c) {
  switch (c) {
    case rules::Cause::reading: return "condition cleared";
    case rules::Cause::timer: return "timer";
    case rules::Cause::rule_changed: return "rule changed or removed";
  }
  return "";
}

}  // namespace

Manager::Manager(const core::Clock& clock, AlertObserver& observer, metrics::Registry& metrics,
                 AlertId next_id)
    : clock_(clock), observer_(observer), next_id_(next_id) {
  for (auto s : {rules::Severity::info, rules::Severity::warning, rules::Severity::critical}) {
    opened_[static_cast<std::size_t>(s)] = &metrics.counter(
        "peregrine_alerts_opened_total", "Alerts opened", {{"severity", std::string(rules::to_string(s))}});
  }
  key_buf_.reserve(160);
}

const std::string& Manager::key(rules::RuleId rule, std::string_view device, std::string_view metric) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, rule);
  key_buf_.assign(buf, r.ptr);
  key_buf_ += '\x1f';
  key_buf_ += device;
  key_buf_ += '\x1f';
  key_buf_ += metric;
  return key_buf_;
}

void Manager::on_transition(const rules::Transition& t) {
  const std::string& k = key(t.rule->id, t.device, t.metric);
  auto it = by_key_.find(k);
  Alert* a = it == by_key_.end() ? nullptr : &alerts_.at(it->second);
  switch (t.kind) {
    case rules::TransitionKind::open:
      suppressed_.erase(k);
      if (a) repeat(*a, t);
      else open(t);
      return;
    case rules::TransitionKind::update:
      if (a) repeat(*a, t);
      else if (!suppressed_.contains(k)) open(t);
      return;
    case rules::TransitionKind::resolve:
      suppressed_.erase(k);
      if (a) {
        a->value = t.value;
        close(*a, "system", std::string(cause_text(t.cause)), t.rule);
      }
      return;
  }
}

void Manager::open(const rules::Transition& t) {
  core::Micros now = clock_.now_us();
  Alert a;
  a.id = next_id_++;
  a.rule_id = t.rule->id;
  a.tenant = t.rule->tenant;
  a.device = t.device;
  a.metric = t.metric;
  a.severity = t.severity;
  a.value = t.value;
  a.message = t.rule->name + ": " + rules::describe(*t.rule) + " (value " + value_text(t.value) + ")";
  a.opened_at = a.updated_at = now;
  if (t.rule->escalate && t.rule->escalate->to > a.severity) {
    a.escalate_at = now + t.rule->escalate->after_us;
    a.escalate_to = t.rule->escalate->to;
  }
  by_key_.emplace(key_buf_, a.id);
  auto [it, inserted] = alerts_.emplace(a.id, std::move(a));
  Alert& stored = it->second;
  arm_escalation(stored);
  opened_[static_cast<std::size_t>(stored.severity)]->inc();
  notify(stored, EventKind::opened, "system", stored.message, t.rule, t.arrival_ns);
}

void Manager::repeat(Alert& a, const rules::Transition& t) {
  a.value = t.value;
  a.updated_at = clock_.now_us();
  ++a.count;
  notify(a, EventKind::updated, "system", {}, t.rule);
}

void Manager::close(Alert& a, std::string_view actor, std::string detail, const rules::Rule* rule) {
  a.state = AlertState::resolved;
  a.resolved_at = clock_.now_us();
  a.resolved_by = actor;
  a.escalate_at.reset();
  notify(a, EventKind::resolved, actor, std::move(detail), rule);
  by_key_.erase(key(a.rule_id, a.device, a.metric));
  AlertId id = a.id;  // `a` dies inside erase
  alerts_.erase(id);
}

void Manager::notify(const Alert& a, EventKind kind, std::string_view actor, std::string detail,
                     const rules::Rule* rule, std::int64_t arrival_ns) {
  AlertEvent e{a.id, kind, std::string(actor), clock_.now_us(), std::move(detail), arrival_ns};
  observer_.on_alert(a, e, rule);
}

void Manager::arm_escalation(Alert& a) {
  if (a.escalate_at && !a.escalated && a.state == AlertState::active) escalations_.push(Due{*a.escalate_at, a.id});
}

OpStatus Manager::acknowledge(AlertId id, std::string_view actor) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return OpStatus::not_found;
  Alert& a = it->second;
  if (a.state != AlertState::active) return OpStatus::conflict;
  a.state = AlertState::acknowledged;
  a.acknowledged_at = clock_.now_us();
  a.acknowledged_by = actor;
  a.escalate_at.reset();
  notify(a, EventKind::acknowledged, actor, {}, nullptr);
  return OpStatus::ok;
}

OpStatus Manager::resolve(AlertId id, std::string_view actor) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return OpStatus::not_found;
  Alert& a = it->second;
  suppressed_.insert(key(a.rule_id, a.device, a.metric));
  close(a, actor, "resolved by operator", nullptr);
  return OpStatus::ok;
}

OpStatus Manager::escalate(AlertId id, rules::Severity to, std::string_view actor, std::string_view detail) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return OpStatus::not_found;
  Alert& a = it->second;
  if (to <= a.severity) return OpStatus::conflict;
  a.severity = to;
  a.escalated = true;
  a.escalate_at.reset();
  notify(a, EventKind::escalated, actor, std::string(detail), nullptr);
  return OpStatus::ok;
}

std::size_t Manager::tick(core::Micros now) {
  std::size_t fired = 0;
  while (!escalations_.empty() && escalations_.top().at <= now) {
    Due d = escalations_.top();
    escalations_.pop();
    auto it = alerts_.find(d.id);
    if (it == alerts_.end()) continue;
    Alert& a = it->second;
    // Stale entries: acknowledged, already escalated, or rescheduled.
    if (a.state != AlertState::active || a.escalated || a.escalate_at != d.at) continue;
    a.escalate_at.reset();
    if (a.escalate_to <= a.severity) continue;
    a.severity = a.escalate_to;
    a.escalated = true;
    notify(a, EventKind::escalated, "system", "not acknowledged in time", nullptr);
    ++fired;
  }
  return fired;
}

core::Micros Manager::next_deadline() const noexcept {
  return escalations_.empty() ? rules::kNever : escalations_.top().at;
}

const Alert* Manager::find(AlertId id) const noexcept {
  auto it = alerts_.find(id);
  return it == alerts_.end() ? nullptr : &it->second;
}

const Alert* Manager::mark_silenced(AlertId id) noexcept {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return nullptr;
  it->second.silenced = true;
  return &it->second;
}

void Manager::for_each_open(const std::function<void(const Alert&)>& fn) const {
  for (const auto& [id, a] : alerts_) fn(a);
}

void Manager::load(Alert a, const rules::Rule* rule) {
  if (a.state == AlertState::resolved || alerts_.contains(a.id)) return;
  const std::string& k = key(a.rule_id, a.device, a.metric);
  if (by_key_.contains(k)) return;  // never two open alerts for one key
  if (rule && rule->escalate && !a.escalated && a.state == AlertState::active && rule->escalate->to > a.severity) {
    if (!a.escalate_at) a.escalate_at = a.opened_at + rule->escalate->after_us;
    a.escalate_to = rule->escalate->to;
  }
  by_key_.emplace(k, a.id);
  if (a.id >= next_id_) next_id_ = a.id + 1;
  auto [it, inserted] = alerts_.emplace(a.id, std::move(a));
  arm_escalation(it->second);
}

nlohmann::json Manager::snapshot(bool with_alerts) const {
  nlohmann::json suppressed = nlohmann::json::array();
  for (const auto& k : suppressed_) suppressed.push_back(k);
  nlohmann::json out = {{"version", 1}, {"next_id", next_id_}, {"suppressed", std::move(suppressed)}};
  if (with_alerts) {
    nlohmann::json alerts = nlohmann::json::array();
    for (const auto& [id, a] : alerts_) alerts.push_back(to_snapshot_json(a));
    out["alerts"] = std::move(alerts);
  }
  return out;
}

std::size_t Manager::restore(const nlohmann::json& snap) {
  if (!snap.is_object()) return 0;
  if (auto it = snap.find("next_id"); it != snap.end() && it->is_number_integer()) {
    next_id_ = std::max(next_id_, it->get<AlertId>());
  }
  std::size_t n = 0;
  if (auto it = snap.find("alerts"); it != snap.end() && it->is_array()) {
    for (const auto& j : *it) {
      auto a = alert_from_json(j);
      if (!a) continue;
      std::size_t before = alerts_.size();
      load(std::move(*a));
      n += alerts_.size() - before;
    }
  }
  if (auto it = snap.find("suppressed"); it != snap.end() && it->is_array()) {
    for (const auto& k : *it) {
      if (k.is_string()) suppressed_.insert(k.get<std::string>());
    }
  }
  return n;
}

}  // namespace peregrine::alerts
