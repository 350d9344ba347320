#pragma once
/// What the rule and alert REST handlers reach (CONTRACT.md "rules",
/// "alerts"). Handlers are coroutines on the event loop: they write rules to
/// PostgreSQL first (on the query pool), then change the running engine; they
/// act on alerts through the manager on the loop, whose observer persists the
/// change. Reads come from PostgreSQL, overlaid with the manager's newer
/// in-memory state of open alerts.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <functional>

#include <peregrine/alerts/manager.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/rules/engine.hpp>
#include <peregrine/storage/repositories.hpp>

namespace peregrine::api {

struct AlertingContext {
  storage::Repositories& repos;
  devices::Registry& registry;  ///< loop thread only
  rules::Engine& engine;        ///< loop thread only
  alerts::Manager& manager;     ///< loop thread only
  const core::Clock& clock;     ///< the manager's
  /// Called on the loop after the engine's rules or the manager's alerts
  /// changed, so the deadline timer is re-armed.
  std::function<void()> changed;
  std::size_t backtest_max_rows = 1'000'000;
  std::chrono::milliseconds backtest_timeout{30'000};
  /// Where charts are drawn (SVG, and PNG through librsvg): off the loop. Null: on the loop (tests).
  boost::asio::thread_pool* render = nullptr;
};

/// `/api/v1/rules…`: list and read (viewer), create, patch, delete and
/// backtest (admin).
void add_rule_routes(http::Router& router, AlertingContext& ctx);
/// `/api/v1/alerts…`: list and read with events (viewer), ack and resolve
/// (operator; the actor is the caller's email).
void add_alert_routes(http::Router& router, AlertingContext& ctx);
/// `GET /api/v1/devices/{id}/chart.svg` and `chart.png` (viewer): aggregates drawn as SVG,
/// with the threshold lines of the device's rules (`rules=true`).
void add_chart_routes(http::Router& router, AlertingContext& ctx);

}  // namespace peregrine::api
