#include <peregrine/alerts/service.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "alerts/escalate_action.hpp"

namespace peregrine::alerts {

using nlohmann::json;

Service::Service(boost::asio::io_context& ioc, const core::Clock& clock, AlertLog& log,
                 AlertFrames& frames, metrics::Registry& metrics, ServiceOptions opts)
    : clock_(clock),
      log_(log),
      frames_(frames),
      metrics_(metrics),
      latency_(metrics.histogram("peregrine_alert_latency_seconds",
                                 "Reading arrival to alert frame handed to WebSocket sessions",
                                 metrics::exponential_buckets(50e-6, 2, 16))),
      opts_(opts),
      manager_(clock, *this, metrics),
      engine_(clock, manager_, metrics),
      ioc_(ioc),
      deadline_(ioc, [this] { on_deadline(); }),
      poster_(ioc),
      escalate_(std::make_unique<EscalateAction>()) {
  add_executor("escalate", *escalate_);
}

// deadline_, poster_ and the periodics are destroyed before the members
// their callbacks use, and none of them calls back once destroyed.
Service::~Service() = default;

void Service::add_executor(std::string type, ActionExecutor& executor) {
  executors_[std::move(type)] = &executor;
}

void Service::add_listener(AlertListener& listener) { listeners_.push_back(&listener); }

void Service::start(StartState st) {
  for (auto& r : st.rules) engine_.upsert_rule(std::move(r));
  for (auto& a : st.open_alerts) {
    const rules::Rule* rule = engine_.find_rule(a.rule_id);
    manager_.load(std::move(a), rule);
  }
  // The alerts table is the truth about open alerts (the snapshot went
  // through the same ordered log, so it is never newer); from the snapshot
  // only the id counter, operator-suppressed episodes and the engine's
  // per-series state are taken.
  json mgr = {{"next_id", st.next_id}};
  std::size_t states = 0;
  if (st.snapshot.is_object()) {
    if (auto it = st.snapshot.find("manager"); it != st.snapshot.end() && it->is_object()) {
      if (it->contains("suppressed")) mgr["suppressed"] = (*it)["suppressed"];
      if (auto n = it->find("next_id"); n != it->end() && n->is_number_integer())
        mgr["next_id"] = std::max(st.next_id, n->get<AlertId>());
    }
    if (auto it = st.snapshot.find("engine"); it != st.snapshot.end()) states = engine_.restore(*it);
  }
  manager_.restore(mgr);
  spdlog::info("rules: {} loaded, {} open alerts, {} rule states restored, next alert id {}",
               engine_.rule_count(), manager_.open_count(), states, manager_.next_id());

  running_ = true;
  flush_ = std::make_unique<core::Periodic>(ioc_, opts_.flush_every, [this] {
    flush_dirty();
    engine_.flush_metrics();
  });
  snapshots_ = std::make_unique<core::Periodic>(ioc_, opts_.snapshot_every, [this] { snapshot(); });
  // Deadlines restored from the snapshot may be due already.
  poster_.post([this] { rearm(); });
}

void Service::stop() {
  if (!running_) return;
  running_ = false;
  flush_.reset();
  snapshots_.reset();
  deadline_.cancel();
  flush_dirty();
  snapshot();
}

void Service::changed() { rearm(); }

void Service::on_sample(const rules::Sample& s) {
  engine_.on_sample(s);
  // An opening may have scheduled an escalation, a reading a hold or absence.
  if (running_ && std::min(engine_.next_deadline(), manager_.next_deadline()) < armed_at_) rearm();
}

void Service::on_series_removed(core::SeriesKey series) { engine_.on_series_removed(series); }

void Service::on_alert(const Alert& alert_in, const AlertEvent& event, const rules::Rule* rule) {
  if (event.kind == EventKind::updated) {
    // Repeats are coalesced: neither a frame nor a row per repeating reading.
    dirty_.insert(alert_in.id);
    return;
  }
  // The event, and what its listeners and actions log, land together.
  struct Group {
    AlertLog& log;
    explicit Group(AlertLog& l) : log(l) { log.begin_group(); }
    ~Group() { log.end_group(); }
  } group(log_);
  const Alert* alert = &alert_in;
  std::optional<std::int64_t> silence;
  if (event.kind == EventKind::opened && silences_) {
    silence = silences_->silenced(alert_in, clock_.now_us());
    if (silence) {
      if (const Alert* marked = manager_.mark_silenced(alert_in.id)) alert = marked;
    }
  }
  frames_.publish(*alert);
  if (event.kind == EventKind::opened && event.arrival_ns != 0)
    latency_.observe(static_cast<double>(core::steady_ns() - event.arrival_ns) * 1e-9);
  dirty_.erase(alert->id);
  log_.save(*alert);
  log_.save(event);
  for (AlertListener* l : listeners_) l->on_transition(*alert, event);
  if (event.kind != EventKind::opened || !rule) return;
  if (silence) {
    json kept = json::array();
    bool skipped = false;
    for (const json& a : rule->actions) {
      const std::string type = a.value("type", "");
      if (type == "notify" || type == "command")
        skipped = true;
      else
        kept.push_back(a);
    }
    if (skipped)
      record_action(alert->id, alert->tenant,
                    "notify and command actions not run: silenced (silence " +
                        std::to_string(*silence) + ")");
    run_actions(*alert, kept);
    return;
  }
  run_actions(*alert, rule->actions);
}

void Service::run_actions(const Alert& alert, const json& actions) {
  for (const json& action : actions) {
    const std::string type = action.value("type", "");
    const auto it = executors_.find(type);
    const bool known = it != executors_.end();
    metrics_
        .counter("peregrine_alert_actions_total",
                 "Rule actions of opened alerts, by type; result=unhandled when no executor "
                 "for the type is built in this server",
                 {{"type", type}, {"result", known ? "run" : "unhandled"}})
        .inc();
    if (known) it->second->run(alert, action, *this);
  }
}

void Service::escalate_later(AlertId id, rules::Severity to, std::string actor, std::string detail) {
  // Called from inside the manager's observer: the manager must not be
  // re-entered, so the change runs next on the loop.
  poster_.post([this, id, to, actor = std::move(actor), detail = std::move(detail)] {
    if (manager_.escalate(id, to, actor, detail) == OpStatus::ok) rearm();
  });
}

void Service::record_action(AlertId id, core::TenantId tenant, std::string detail) {
  const AlertEvent event{id, EventKind::action, "system", clock_.now_us(), std::move(detail), 0};
  log_.save(event);
  frames_.publish_event(tenant, event);
}

void Service::run_actions_later(Alert alert, json actions, std::string why) {
  poster_.post([this, alert = std::move(alert), actions = std::move(actions), why = std::move(why)] {
    const Alert* open = manager_.find(alert.id);
    record_action(alert.id, alert.tenant, "fallback: " + why);
    run_actions(open ? *open : alert, actions);
  });
}

void Service::rearm() {
  if (!running_) return;
  const core::Micros next = std::min(engine_.next_deadline(), manager_.next_deadline());
  if (next == rules::kNever || next >= armed_at_) return;
  armed_at_ = next;
  deadline_.arm_after(std::chrono::microseconds(std::max<core::Micros>(0, next - clock_.now_us())));
}

void Service::on_deadline() {
  if (!running_) return;
  armed_at_ = rules::kNever;
  const core::Micros now = clock_.now_us();
  engine_.tick(now);
  manager_.tick(now);
  rearm();
}

void Service::flush_dirty() {
  for (AlertId id : dirty_) {
    if (const Alert* a = manager_.find(id)) log_.save(*a);
  }
  dirty_.clear();
}

void Service::snapshot() {
  // Open alerts live in the alerts table: the snapshot leaves them out.
  log_.save(Snapshot{clock_.now_us(), engine_.capture(), manager_.snapshot(false)});
}

}  // namespace peregrine::alerts
