#pragma once
/// Persists the alert lifecycle and what alerts and operators set in motion:
/// the alerts service's AlertLog, the command service's CommandLog and the
/// job service's JobLog, in one ordered log. A dedicated thread with its own
/// PostgreSQL connection writes the alert rows, their `alert_events`, the
/// engine snapshot (migrations/0002_rules_alerts.sql), commands and their
/// events, jobs and their items (0008). Deferred command publishes run on
/// that thread once the rows before them are committed. The event loop enqueues
/// without blocking (a mutex held for a push); the thread takes everything
/// queued as one batch, in order, in one transaction. Repeated upserts of
/// one alert within a batch are coalesced into its first position (the
/// latest content wins), and only the newest snapshot of a batch is written.
/// On a lost connection the batch is kept and retried with back-off; an op
/// that PostgreSQL rejects for its data is logged and counted
/// (`peregrine_alert_store_errors_total`) — nothing is dropped silently.
/// While PostgreSQL is away, more than `max_queued` waiting ops, or a stop,
/// move them to an fsynced spill file (same framing as the readings spill),
/// written back first, in order, once PostgreSQL answers again (and at
/// start, by replay_spill(), before the alerting state is loaded).
///
/// Also the blocking start-up reads (rules, open alerts, next id, snapshot),
/// called before the event loop runs.

#include <atomic>
#include <functional>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/row>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/alerts/ports.hpp>
#include <peregrine/commands/ports.hpp>
#include <peregrine/jobs/service.hpp>
#include <peregrine/notifications/notify.hpp>
#include <peregrine/core/worker_thread.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/rule.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class SpillFile;

/// A snapshot to write: from the service (its JSON is built and serialised
/// on the store's thread), or read back from the spill as JSON text.
struct SnapshotOp {
  std::shared_ptr<const alerts::Snapshot> snapshot;
  core::Micros taken_at = 0;  ///< when `snapshot` is null
  std::string body;           ///< when `snapshot` is null
};
core::Micros snapshot_taken_at(const SnapshotOp& op);
/// `{"engine": …, "manager": …}` as JSON text.
std::string snapshot_body(const SnapshotOp& op);

struct AlertStoreOptions {
  /// Ops held in memory while PostgreSQL is away; past it they are spilled
  /// (when there is a spill), so memory stays bounded and nothing is lost.
  std::size_t max_queued = 100'000;
  /// Directory of the alert spill (`<storage.spill_dir>/alerts`); empty = none.
  std::string spill_dir;
  std::uint64_t spill_max_bytes = 256ull << 20;
};
/// A command publish that waits for the rows before it (CommandLog::publish_after_save).
struct PublishOp {
  std::string topic, payload;
  commands::CancelFlag cancelled;
};
using AlertOp = std::variant<alerts::Alert, alerts::AlertEvent, SnapshotOp, commands::Command,
                             commands::CommandEvent, jobs::Job, jobs::JobItem, PublishOp,
                             notifications::NotifyRequest>;

/// What the command service starts from: pending commands, and the action
/// runs among them whose fallback already ran (a command of the run ended
/// without `ok`). Blocking; any thread (start-up).
struct CommandStartState {
  std::vector<commands::Command> pending;
  std::vector<std::string> fallen_back_runs;
};
CommandStartState load_command_state(const PgTarget& target);
/// Running jobs, their items that are pending commands, and the next job id.
jobs::JobStartState load_job_state(const PgTarget& target);
/// Columns of a `commands` row for command_from_row.
extern const char* const kCommandColumnsSql;
commands::Command command_from_row(const pqxx::row& row);

/// What the alerts service starts from: enabled rules, open alerts, the
/// next alert id and the latest engine_snapshots.body. Blocking; throws on
/// connection or SQL errors. Any thread (start-up).
alerts::StartState load_alerting_state(const PgTarget& target);

/// SQL expression over a `rules` row giving the rule body as JSON text
/// (without id), for rule_from_row.
inline constexpr const char* kRuleBodySql =
    "jsonb_build_object('name', name, 'metric', metric, 'scope', scope, 'kind', kind, "
    "'params', params, 'severity', severity, 'enabled', enabled, 'escalate', escalate, "
    "'actions', actions)::text";

/// A stored `rules` row (kRuleBodySql) back into a Rule. nullopt when the
/// stored body no longer validates.
std::optional<rules::Rule> rule_from_row(std::int64_t id, core::TenantId tenant,
                                         const std::string& body_json);

/// Columns of an `alerts` row for alert_from_row.
inline constexpr const char* kAlertColumnsSql =
    "id, tenant_id, rule_id, device_id, metric, severity, state, value, message, count, escalated, "
    "(extract(epoch from opened_at) * 1000000)::bigint, "
    "(extract(epoch from acknowledged_at) * 1000000)::bigint, acknowledged_by, "
    "(extract(epoch from resolved_at) * 1000000)::bigint, resolved_by, "
    "(extract(epoch from updated_at) * 1000000)::bigint, silenced";

/// An `alerts` row selected with kAlertColumnsSql.
alerts::Alert alert_from_row(const pqxx::row& row);

class AlertStore final : public alerts::AlertLog,
                         public commands::CommandLog,
                         public jobs::JobLog,
                         public notifications::Outbox {
 public:
  /// Registers peregrine_alert_store_* in `metrics` (which must outlive it).
  AlertStore(PgTarget target, metrics::Registry& metrics, AlertStoreOptions opts = {});
  ~AlertStore() override;
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  /// Blocking, before start(): writes what an earlier run spilled. False
  /// (logged) when it cannot; the spill then stays for the next try.
  bool replay_spill();
  /// Starts the thread; connects lazily, does not throw when PostgreSQL is down.
  void start();
  /// Writes everything queued, then joins. Blocks; gives up after `deadline`
  /// only while PostgreSQL stays unreachable, logging what was not written.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));

  /// Any thread (the loop): never blocks on I/O. Inside a group (loop
  /// thread) the op waits for end_group().
  void enqueue(AlertOp op);
  void begin_group() override { ++group_depth_; }
  void end_group() override;

  // alerts::AlertLog (the loop)
  void save(const alerts::Alert& alert) override { enqueue(alert); }
  void save(const alerts::AlertEvent& event) override { enqueue(event); }
  void save(alerts::Snapshot snapshot) override {
    enqueue(SnapshotOp{std::make_shared<const alerts::Snapshot>(std::move(snapshot)), 0, {}});
  }

  // commands::CommandLog
  void save(const commands::Command& c) override { enqueue(c); }
  void save(const commands::CommandEvent& e) override { enqueue(e); }
  void publish_after_save(std::string topic, std::string payload,
                          commands::CancelFlag cancelled) override {
    enqueue(PublishOp{std::move(topic), std::move(payload), std::move(cancelled)});
  }
  // jobs::JobLog
  void save(const jobs::Job& j) override { enqueue(j); }
  void save(const jobs::JobItem& i) override { enqueue(i); }

  // notifications::Outbox: expanded into deliveries in the transaction
  // that writes the ops before it (src/storage/notification_sql.cpp).
  void notify(const notifications::NotifyRequest& r) override { enqueue(r); }
  /// Called on the store's thread after a batch with notify steps committed
  /// (the sender's wake-up). Before start().
  void set_on_notified(std::function<void()> fn) { on_notified_ = std::move(fn); }

  /// Where deferred publishes go (the MQTT client; any thread). Before start().
  void set_publisher(std::function<bool(const std::string& topic, const std::string& payload)> fn) {
    publisher_ = std::move(fn);
  }

  std::size_t queue_depth() const noexcept { return depth_.load(std::memory_order_relaxed); }

 private:
  void run();
  /// Spill records to PostgreSQL, oldest first; throws on a lost connection.
  void write_spilled(pqxx::connection& conn);
  /// Appends `batch` to the spill; false (logged) when full or failing.
  bool spill(const std::vector<AlertOp>& batch);
  bool spill_empty() const;

  PgTarget target_;
  AlertStoreOptions opts_;
  std::unique_ptr<SpillFile> spill_;  // the store thread's (replay_spill before start)
  metrics::Gauge& depth_gauge_;
  metrics::Counter& written_;
  metrics::Counter& errors_;
  metrics::Counter& lost_;
  metrics::Counter& spilled_;
  metrics::Counter& replayed_;
  std::function<bool(const std::string&, const std::string&)> publisher_;
  std::function<void()> on_notified_;
  metrics::Counter& publish_skipped_ended_;
  metrics::Counter& publish_skipped_spilled_;
  std::vector<AlertOp> pending_;  // guarded by worker_.mutex()
  std::vector<AlertOp> group_;    // loop thread: ops of the open group
  int group_depth_ = 0;           // loop thread
  std::atomic<std::size_t> depth_{0};
  core::WorkerThread worker_;
};

}  // namespace peregrine::storage
