#pragma once
/// The rules engine: holds the rules, offers every sample to exactly the
/// rules whose scope and metric match (a per-series cache of bindings, rebuilt
/// from hash indexes when rules change), keeps per-(rule, series) state, and
/// drives time-based conditions (threshold holds, absence) from a min-heap of
/// deadlines. Emits Transitions to an AlertSink synchronously.
///
/// Threading: loop thread only (on_sample, tick, upsert/remove, snapshot).
/// The common path (a series seen before, rules unchanged) does no I/O and
/// no allocation. The AlertSink must not change rules from inside
/// on_transition (post the change instead).

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include <peregrine/core/clock.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/evaluators.hpp>
#include <peregrine/rules/reading_hook.hpp>
#include <peregrine/rules/rule.hpp>

namespace peregrine::rules {

enum class TransitionKind : std::uint8_t { open, update, resolve };
/// What caused it: a reading, a timer (hold met, absence), or the rule
/// itself being removed, disabled or re-scoped (resolve only).
enum class Cause : std::uint8_t { reading, timer, rule_changed };

/// One change of a (rule, series) condition. Views are valid only during
/// the AlertSink call.
struct Transition {
  TransitionKind kind;
  Cause cause;
  const Rule* rule;
  std::string_view device;
  std::string_view metric;
  core::SeriesKey series;
  double value;         ///< the reading's value (timers: the last value seen)
  core::Micros ts;      ///< reading ts; for timers the deadline that fired
  Severity severity;    ///< the rule's
  std::int64_t arrival_ns;  ///< core::steady_ns() at the reading's arrival; 0 for timers
};

/// Receives transitions (implemented by alerts::Manager). Loop thread.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void on_transition(const Transition& t) = 0;
};

/// A copy of the engine's per-series state taken on the loop (capture),
/// turned into JSON elsewhere (to_json): building and serialising the JSON
/// grows with the series count, so it stays off the loop.
struct EngineSnapshot {
  struct Entry {
    RuleId rule = 0;
    Kind kind = Kind::threshold;
    core::SeriesKey series = 0;
    std::string device, metric;
    SeriesState st;
  };
  std::vector<Entry> entries;
};
/// `{"version": 1, "states": [...]}`, what Engine::restore reads. Any thread.
nlohmann::json to_json(const EngineSnapshot& snap);

class Engine final : public ReadingHook {
 public:
  /// Registers peregrine_rules_evaluations_total in `metrics`.
  Engine(const core::Clock& clock, AlertSink& sink, metrics::Registry& metrics);

  void on_sample(const Sample& s) override;
  /// Drops the series' per-rule state (holds, windows, absence timers).
  void on_series_removed(core::SeriesKey series) override;

  /// Adds or replaces rule `rule.id` (must be non-zero), live. A change of
  /// scope, metric, kind, tenant or `enabled` resolves the rule's open
  /// alerts (Cause::rule_changed) and starts afresh; a change of params
  /// resets holds/windows/baselines but keeps open alerts open (they resolve
  /// by the new condition); other fields (name, severity, actions) only
  /// apply to alerts opened from then on.
  void upsert_rule(Rule rule);
  /// Removes a rule, resolving its open alerts. False when unknown.
  bool remove_rule(RuleId id);
  const Rule* find_rule(RuleId id) const noexcept;
  /// Every loaded rule (enabled ones), in no particular order.
  void for_each_rule(const std::function<void(const Rule&)>& fn) const;
  std::size_t rule_count() const noexcept { return rules_.size(); }
  /// Call when a device's groups or tenant change: bindings are rebuilt.
  void invalidate_scopes() noexcept { ++gen_; }
  /// The device's groups changed: its series are re-bound now, so a rule of
  /// a group it joined applies from its next reading, and the open alerts
  /// of rules that no longer apply to it are resolved (Cause::rule_changed).
  void rescope(const devices::Device& dev);

  /// Processes every deadline due at `now` (engine clock). Returns the
  /// number of transitions emitted.
  std::size_t tick(core::Micros now);
  /// The earliest pending deadline (may be stale: tick() then does nothing),
  /// or kNever.
  core::Micros next_deadline() const noexcept;
  /// Adds locally counted evaluations to the Prometheus counter (tick does).
  void flush_metrics() noexcept;

  /// Per-series state worth keeping across a restart: open flags, holds in
  /// progress, absence deadlines, rate windows, anomaly baselines.
  EngineSnapshot capture() const;
  /// to_json(capture()).
  nlohmann::json snapshot() const { return to_json(capture()); }
  /// Restores a snapshot() after the rules are loaded; entries for unknown
  /// rules, or rules whose kind changed, are skipped. Absence deadlines get
  /// at least a full timeout from now (readings sent while down are unknown).
  /// Returns the number of states restored.
  std::size_t restore(const nlohmann::json& snap);

 private:
  struct RuleSlot {
    Rule rule;
    bool clock = false;                 // evaluation needs clock now
    std::vector<std::uint32_t> states;  // indexes into states_
  };
  struct StateSlot {
    SeriesState st;
    RuleSlot* slot = nullptr;
    core::SeriesKey series = 0;
    std::uint32_t token = 0;  // bumped when the slot is freed: stale timers
    core::Micros heap_at = kNever;
    bool live = false;
  };
  struct Binding {
    RuleSlot* slot;
    RuleId rule;  // the slot's rule id (the slot may be gone when re-binding)
    std::uint32_t state;
  };
  struct SeriesEntry {
    std::uint64_t gen = 0;
    std::vector<Binding> bindings;
    std::string device;
    std::string metric;
  };
  struct Timer {
    core::Micros at;
    std::uint32_t state;
    std::uint32_t token;
    bool operator>(const Timer& o) const noexcept { return at > o.at; }
  };
  struct StateKey {
    RuleId rule;
    core::SeriesKey series;
    bool operator==(const StateKey&) const = default;
  };
  struct StateKeyHash {
    std::size_t operator()(const StateKey& k) const noexcept {
      return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.rule) * 0x9E3779B97F4A7C15ull ^ k.series);
    }
  };

  void rebind(SeriesEntry& e, const devices::DeviceRecord& rec, const devices::Series& series);
  void release_state(std::uint32_t idx, bool resolve_open);
  void collect(const std::string& key, core::TenantId tenant, SeriesEntry& e, core::SeriesKey series);
  std::uint32_t state_for(RuleSlot& slot, core::SeriesKey series);
  void drop_states(RuleSlot& slot, bool resolve_open);
  void drop_series(core::SeriesKey series);
  void index_add(RuleSlot& slot);
  void index_remove(RuleSlot& slot);
  void schedule(std::uint32_t state);
  void emit(TransitionKind kind, Cause cause, const StateSlot& ss, double value, core::Micros ts,
            std::int64_t arrival_ns);
  SeriesEntry& entry(core::SeriesKey key);

  const core::Clock& clock_;
  AlertSink& sink_;
  metrics::Counter& evaluations_;
  std::uint64_t pending_evals_ = 0;
  std::uint64_t gen_ = 1;

  std::unordered_map<RuleId, std::unique_ptr<RuleSlot>> rules_;
  // "d<device>\x1f<metric>", "g<group>\x1f<metric>", "t<tenant>\x1f<metric>"
  std::unordered_map<std::string, std::vector<RuleSlot*>> index_;
  std::string key_buf_;
  std::vector<SeriesEntry> series_;  // by SeriesKey (dense)
  std::vector<StateSlot> states_;
  std::vector<std::uint32_t> free_states_;
  std::unordered_map<StateKey, std::uint32_t, StateKeyHash> state_index_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
};

}  // namespace peregrine::rules
