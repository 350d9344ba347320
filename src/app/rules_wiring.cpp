#include "app/rules_wiring.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace peregrine::app {

namespace asio = boost::asio;
using nlohmann::json;

namespace {
constexpr auto kSnapshotEvery = std::chrono::seconds(10);
// Repeats of an open alert reach the store at most this often, coalesced.
constexpr auto kFlushEvery = std::chrono::milliseconds(100);
}  // namespace

RulesWiring::RulesWiring(asio::io_context& ioc, const core::Clock& clock, devices::Registry& registry,
                         realtime::Hub& hub, metrics::Registry& metrics, storage::PgTarget pg)
    : ioc_(ioc),
      clock_(clock),
      registry_(registry),
      hub_(hub),
      latency_(metrics.histogram("peregrine_alert_latency_seconds",
                                 "Reading arrival to alert frame handed to WebSocket sessions",
                                 metrics::exponential_buckets(50e-6, 2, 16))),
      pg_(std::move(pg)),
      store_(pg_, metrics),
      manager_(clock, *this, metrics),
      engine_(clock, manager_, metrics),
      timer_(ioc) {}

RulesWiring::~RulesWiring() = default;

void RulesWiring::add_routes(http::Router& router, storage::QueryPool& pool) {
  api_.emplace(api::AlertingContext{pool, registry_, engine_, manager_, clock_, [this] { rearm(); }});
  api::add_rule_routes(router, *api_);
  api::add_alert_routes(router, *api_);
}

bool RulesWiring::start() {
  storage::AlertingState st;
  try {
    st = storage::load_alerting_state(pg_);
  } catch (const std::exception& e) {
    spdlog::error("cannot load rules and alerts from PostgreSQL: {}", e.what());
    return false;
  }
  for (auto& r : st.rules) engine_.upsert_rule(std::move(r));
  for (auto& a : st.open_alerts) {
    const rules::Rule* rule = engine_.find_rule(a.rule_id);
    manager_.load(std::move(a), rule);
  }
  // The alerts table is the truth about open alerts (the snapshot went
  // through the same ordered store, so it is never newer); from the
  // snapshot only the id counter, operator-suppressed episodes and the
  // engine's per-series state are taken.
  json mgr = {{"next_id", st.next_id}};
  std::size_t states = 0;
  if (st.snapshot.is_object()) {
    if (auto it = st.snapshot.find("manager"); it != st.snapshot.end() && it->is_object()) {
      if (it->contains("suppressed")) mgr["suppressed"] = (*it)["suppressed"];
      if (auto n = it->find("next_id"); n != it->end() && n->is_number_integer())
        mgr["next_id"] = std::max(st.next_id, n->get<alerts::AlertId>());
    }
    if (auto it = st.snapshot.find("engine"); it != st.snapshot.end()) states = engine_.restore(*it);
  }
  manager_.restore(mgr);
  spdlog::info("rules: {} loaded, {} open alerts, {} rule states restored, next alert id {}",
               engine_.rule_count(), manager_.open_count(), states, manager_.next_id());

  store_.start();
  running_ = true;
  flush_ = std::make_unique<Periodic>(ioc_, kFlushEvery, [this] {
    flush_dirty();
    engine_.flush_metrics();
  });
  snapshots_ = std::make_unique<Periodic>(ioc_, kSnapshotEvery, [this] { snapshot(); });
  // Deadlines restored from the snapshot may be due already: the first tick
  // runs as soon as the loop does.
  asio::post(ioc_, [this] { rearm(); });
  return true;
}

void RulesWiring::stop() {
  if (!running_) return;
  running_ = false;
  flush_.reset();
  snapshots_.reset();
  timer_.cancel();
  flush_dirty();
  snapshot();
  // Blocks the loop briefly, at shutdown only: intake has stopped already.
  store_.stop();
}

void RulesWiring::on_sample(const rules::Sample& s) {
  engine_.on_sample(s);
  // An opening may have scheduled an escalation, a reading a hold or absence.
  if (running_ && std::min(engine_.next_deadline(), manager_.next_deadline()) < armed_at_) rearm();
}

void RulesWiring::on_alert(const alerts::Alert& alert, const alerts::AlertEvent& event,
                           const rules::Rule* rule) {
  if (event.kind == alerts::EventKind::updated) {
    // Repeats are coalesced: neither a frame nor a row per repeating reading.
    dirty_.insert(alert.id);
    return;
  }
  hub_.publish_alert(alert.tenant, alerts::to_json(alert));
  if (event.kind == alerts::EventKind::opened && event.arrival_ns != 0)
    latency_.observe(static_cast<double>(core::steady_ns() - event.arrival_ns) * 1e-9);
  dirty_.erase(alert.id);
  store_.enqueue(alert);
  store_.enqueue(event);
  if (event.kind == alerts::EventKind::opened && rule) run_actions(alert, *rule);
}

void RulesWiring::run_actions(const alerts::Alert& alert, const rules::Rule& rule) {
  for (const auto& action : rule.actions) {
    if (action.value("type", "") != "escalate") continue;  // command, notify: later issues
    const auto to = rules::parse_severity(action.value("to", ""));
    if (!to) continue;
    // The observer must not call back into the manager: post.
    asio::post(ioc_, [this, id = alert.id, to = *to] {
      if (manager_.escalate(id, to, "system", "escalate action") == alerts::OpStatus::ok) rearm();
    });
  }
}

void RulesWiring::rearm() {
  if (!running_) return;
  const core::Micros next = std::min(engine_.next_deadline(), manager_.next_deadline());
  if (next == rules::kNever || next >= armed_at_) return;
  armed_at_ = next;
  const core::Micros wait = std::max<core::Micros>(0, next - clock_.now_us());
  timer_.expires_after(std::chrono::microseconds(wait));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;  // re-armed earlier, or stopping
    on_timer();
  });
}

void RulesWiring::on_timer() {
  armed_at_ = rules::kNever;
  const core::Micros now = clock_.now_us();
  engine_.tick(now);
  manager_.tick(now);
  rearm();
}

void RulesWiring::flush_dirty() {
  for (alerts::AlertId id : dirty_) {
    if (const alerts::Alert* a = manager_.find(id)) store_.enqueue(*a);
  }
  dirty_.clear();
}

void RulesWiring::snapshot() {
  const core::Micros now = clock_.now_us();
  json body = {{"engine", engine_.snapshot()}, {"manager", manager_.snapshot()}};
  // Open alerts live in the alerts table; keep the snapshot small.
  body["manager"].erase("alerts");
  store_.enqueue(storage::SnapshotOp{now, body.dump()});
}

}  // namespace peregrine::app
