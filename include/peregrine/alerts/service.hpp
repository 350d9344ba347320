#pragma once
/// The alerts service: what happens between a rule's transition and the
/// world. It owns the rules engine and the alert manager, takes every
/// reading from the ingest path (as its rules::ReadingHook), and for each
/// alert change sends the frame first, observes the latency, then hands the
/// row and event to the AlertLog; repeats of an open alert are coalesced
/// (at most one write per alert per flush tick, no frame). It drives the
/// deadline timer (holds, absence, escalation), takes periodic snapshots
/// (captured on the loop, serialised by the log), and runs rule actions
/// through one dispatch point: an ActionExecutor per action type
/// (`escalate` is built in; `command`, `notify` are added by their modules).
///
/// Threading: loop thread only. Every timer and post holds a shared state,
/// never `this` (core/loop_timers.hpp).

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <peregrine/alerts/manager.hpp>
#include <peregrine/alerts/ports.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/core/loop_timers.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/engine.hpp>

namespace peregrine::alerts {

struct ServiceOptions {
  std::chrono::milliseconds flush_every{100};  ///< coalesced repeats reach the log this often
  std::chrono::milliseconds snapshot_every{10'000};
};

class Service final : private AlertObserver, private AlertControl, public rules::ReadingHook {
 public:
  /// Registers peregrine_alert_latency_seconds and peregrine_alert_actions_total{type,result}.
  Service(boost::asio::io_context& ioc, const core::Clock& clock, AlertLog& log, AlertFrames& frames,
          metrics::Registry& metrics, ServiceOptions opts = {});
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Runs the actions of `type` from now on (before start()).
  void add_executor(std::string type, ActionExecutor& executor);
  /// Tells `listener` of every transition from now on (before start()).
  void add_listener(AlertListener& listener);
  /// Alerts that open while `check` says silenced are marked so, and their
  /// notify and command actions do not run (an `action` event says why).
  void set_silences(const SilenceCheck& check) { silences_ = &check; }

  /// Loads rules, open alerts, the id counter and the snapshot's engine
  /// state; starts the flush and snapshot timers and arms the deadline.
  void start(StartState state);
  /// Writes coalesced repeats and a last snapshot, and stops every timer.
  void stop();

  /// Call after rules or alerts changed outside a reading (REST): re-arms
  /// the deadline timer.
  void changed();

  rules::Engine& engine() noexcept { return engine_; }
  Manager& manager() noexcept { return manager_; }
  const core::Clock& clock() const noexcept { return clock_; }
  /// What rule actions may do to alerts (for executors that act later, such
  /// as a command's fallback).
  AlertControl& control() noexcept { return *this; }

  // rules::ReadingHook (the ingest path)
  void on_sample(const rules::Sample& s) override;
  void on_series_removed(core::SeriesKey series) override;

 private:
  void on_alert(const Alert& alert, const AlertEvent& event, const rules::Rule* rule) override;
  void escalate_later(AlertId id, rules::Severity to, std::string actor, std::string detail) override;
  void record_action(AlertId id, core::TenantId tenant, std::string detail) override;
  void run_actions_later(Alert alert, nlohmann::json actions, std::string why) override;
  void run_actions(const Alert& alert, const nlohmann::json& actions);
  void rearm();
  void on_deadline();
  void flush_dirty();
  void snapshot();

  const core::Clock& clock_;
  AlertLog& log_;
  AlertFrames& frames_;
  metrics::Registry& metrics_;
  metrics::Histogram& latency_;
  ServiceOptions opts_;
  Manager manager_;
  rules::Engine engine_;
  boost::asio::io_context& ioc_;
  core::Deadline deadline_;
  core::LoopPoster poster_;
  core::Micros armed_at_ = rules::kNever;
  std::unordered_set<AlertId> dirty_;  // repeated alerts not yet handed to the log
  std::unordered_map<std::string, ActionExecutor*> executors_;
  std::vector<AlertListener*> listeners_;
  const SilenceCheck* silences_ = nullptr;
  std::unique_ptr<ActionExecutor> escalate_;
  std::unique_ptr<core::Periodic> flush_;
  std::unique_ptr<core::Periodic> snapshots_;
  bool running_ = false;
};

}  // namespace peregrine::alerts
