#pragma once
/// Wires the rules engine and the alert manager into the server: the ingest
/// hook, the deadline timer (holds, absence, escalation), the WebSocket alert
/// frames, persistence through storage::AlertStore, periodic snapshots, and
/// the `/api/v1/rules` and `/api/v1/alerts` routes.
///
/// Threading: constructed, started and stopped by app::serve; start() blocks
/// on PostgreSQL before the loop runs; everything else runs on the loop.
/// Alert observer order (CONTRACT.md): the WebSocket frame first, the
/// latency observed at that moment, then the store ops (enqueued, never
/// awaited). Command and notify actions are validated but not run (commands
/// and notification channels are later issues); escalate actions are posted.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <peregrine/alerts/manager.hpp>
#include <peregrine/api/alerting.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/realtime/hub.hpp>
#include <peregrine/rules/engine.hpp>
#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "app/periodic.hpp"

namespace peregrine::app {

class RulesWiring final : private alerts::AlertObserver, private rules::ReadingHook {
 public:
  RulesWiring(boost::asio::io_context& ioc, const core::Clock& clock, devices::Registry& registry,
              realtime::Hub& hub, metrics::Registry& metrics, storage::PgTarget pg);
  ~RulesWiring() override;
  RulesWiring(const RulesWiring&) = delete;
  RulesWiring& operator=(const RulesWiring&) = delete;

  /// The ingest pipeline's rules hook (loop thread).
  rules::ReadingHook& hook() { return *this; }
  void add_routes(http::Router& router, storage::QueryPool& pool);
  /// Loads enabled rules, open alerts, the next alert id and the latest
  /// snapshot from PostgreSQL, starts the store and the timers. Blocking,
  /// before the loop runs. False (logged) when PostgreSQL cannot be read.
  bool start();
  /// On the loop at shutdown: stops the timers, writes a last snapshot and
  /// waits for the store to write everything queued (bounded).
  void stop();

 private:
  void on_sample(const rules::Sample& s) override;
  void on_alert(const alerts::Alert& alert, const alerts::AlertEvent& event,
                const rules::Rule* rule) override;
  void run_actions(const alerts::Alert& alert, const rules::Rule& rule);
  /// Arms the deadline timer if the next deadline is earlier than the armed one.
  void rearm();
  void on_timer();
  void flush_dirty();
  void snapshot();

  boost::asio::io_context& ioc_;
  const core::Clock& clock_;
  devices::Registry& registry_;
  realtime::Hub& hub_;
  metrics::Histogram& latency_;
  storage::PgTarget pg_;
  storage::AlertStore store_;
  alerts::Manager manager_;
  rules::Engine engine_;
  boost::asio::steady_timer timer_;
  core::Micros armed_at_ = rules::kNever;
  std::unordered_set<alerts::AlertId> dirty_;  // repeated alerts not yet handed to the store
  std::optional<api::AlertingContext> api_;
  std::unique_ptr<Periodic> flush_;
  std::unique_ptr<Periodic> snapshots_;
  bool running_ = false;
};

}  // namespace peregrine::app
