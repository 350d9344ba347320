#include <peregrine/storage/alert_store.hpp>

#include <algorithm>
#include <memory>
#include <unordered_map>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "storage/alert_spill.hpp"
#include "storage/control_rows.hpp"
#include "storage/notification_sql.hpp"
#include "storage/spill_file.hpp"
#include "storage/sql_support.hpp"

namespace peregrine::storage {
namespace {

using nlohmann::json;

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

using sql::text_if;
sql::NullableText micros(const std::optional<core::Micros>& t) { return sql::nullable(t); }

constexpr const char* kUpsertAlert =
    "INSERT INTO alerts (id, tenant_id, rule_id, device_id, metric, severity, state, value, "
    "message, count, escalated, opened_at, acknowledged_at, acknowledged_by, resolved_at, "
    "resolved_by, updated_at, silenced) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "'epoch'::timestamptz + $12::bigint * interval '1 microsecond', "
    "'epoch'::timestamptz + $13::bigint * interval '1 microsecond', $14, "
    "'epoch'::timestamptz + $15::bigint * interval '1 microsecond', $16, "
    "'epoch'::timestamptz + $17::bigint * interval '1 microsecond', $18) "
    "ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, state = EXCLUDED.state, "
    "value = EXCLUDED.value, message = EXCLUDED.message, count = EXCLUDED.count, "
    "escalated = EXCLUDED.escalated, acknowledged_at = EXCLUDED.acknowledged_at, "
    "acknowledged_by = EXCLUDED.acknowledged_by, resolved_at = EXCLUDED.resolved_at, "
    "resolved_by = EXCLUDED.resolved_by, updated_at = EXCLUDED.updated_at, "
    "silenced = EXCLUDED.silenced";

void write_op(pqxx::work& w, const AlertOp& op) {
  if (std::holds_alternative<PublishOp>(op) || write_control_op(w, op)) return;
  if (const auto* n = std::get_if<notifications::NotifyRequest>(&op)) {
    write_notify(w, *n);
    return;
  }
  if (const auto* a = std::get_if<alerts::Alert>(&op)) {
    const auto ack_at = micros(a->acknowledged_at);
    const auto ack_by = text_if(a->acknowledged_at.has_value(), a->acknowledged_by);
    const auto res_at = micros(a->resolved_at);
    const auto res_by = text_if(a->resolved_at.has_value(), a->resolved_by);
    w.exec_params(kUpsertAlert, a->id, a->tenant, a->rule_id, a->device, a->metric,
                  std::string(rules::to_string(a->severity)), std::string(alerts::to_string(a->state)),
                  a->value, a->message, static_cast<std::int64_t>(a->count), a->escalated,
                  a->opened_at, ack_at.c_str(), ack_by.c_str(), res_at.c_str(), res_by.c_str(),
                  std::max(a->updated_at, a->resolved_at.value_or(a->acknowledged_at.value_or(0))),
                  a->silenced);
  } else if (const auto* e = std::get_if<alerts::AlertEvent>(&op)) {
    w.exec_params(
        "INSERT INTO alert_events (alert_id, kind, actor, at, detail) VALUES ($1, $2, $3, "
        "'epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5)",
        e->alert_id, std::string(alerts::to_string(e->kind)), e->actor, e->at, e->detail);
  } else {
    const auto& s = std::get<SnapshotOp>(op);
    w.exec_params(
        "INSERT INTO engine_snapshots (id, taken_at, body) VALUES (1, "
        "'epoch'::timestamptz + $1::bigint * interval '1 microsecond', $2::jsonb) "
        "ON CONFLICT (id) DO UPDATE SET taken_at = EXCLUDED.taken_at, body = EXCLUDED.body",
        snapshot_taken_at(s), snapshot_body(s));
  }
}

/// Latest content of each alert moved to its first upsert in the batch; the
/// later upserts and all but the newest snapshot removed. Events stay in place:
/// the first upsert precedes every event of that alert, so the row exists.
/// The same holds for commands, jobs and job items: each row is upserted once,
/// at its first position, which precedes every event and item that refers to it.
void coalesce(std::vector<AlertOp>& batch) {
  std::unordered_map<std::string, std::size_t> first;  // "a<id>", "c<uuid>", "j<id>", "i<job>.<seq>"
  std::size_t last_snapshot = batch.size();
  std::vector<bool> drop(batch.size(), false);
  const auto upsert_at = [&](std::string key, std::size_t i, auto* row) {
    auto [it, inserted] = first.emplace(std::move(key), i);
    if (!inserted) {
      batch[it->second] = std::move(*row);
      drop[i] = true;
    }
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto* a = std::get_if<alerts::Alert>(&batch[i])) {
      upsert_at("a" + std::to_string(a->id), i, a);
    } else if (auto* c = std::get_if<commands::Command>(&batch[i])) {
      upsert_at("c" + c->id, i, c);
    } else if (auto* j = std::get_if<jobs::Job>(&batch[i])) {
      upsert_at("j" + std::to_string(j->id), i, j);
    } else if (auto* it = std::get_if<jobs::JobItem>(&batch[i])) {
      upsert_at("i" + std::to_string(it->job_id) + "." + std::to_string(it->seq), i, it);
    } else if (std::holds_alternative<SnapshotOp>(batch[i])) {
      if (last_snapshot < batch.size()) drop[last_snapshot] = true;
      last_snapshot = i;
    }
  }
  std::size_t out = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (drop[i]) continue;
    if (out != i) batch[out] = std::move(batch[i]);
    ++out;
  }
  batch.resize(out);
}

std::string describe(const AlertOp& op) {
  if (const auto* a = std::get_if<alerts::Alert>(&op)) return "alert " + std::to_string(a->id);
  if (const auto* e = std::get_if<alerts::AlertEvent>(&op))
    return std::string(alerts::to_string(e->kind)) + " event of alert " + std::to_string(e->alert_id);
  if (const auto* c = std::get_if<commands::Command>(&op)) return "command " + c->id;
  if (const auto* c = std::get_if<commands::CommandEvent>(&op)) return "event of command " + c->command_id;
  if (const auto* j = std::get_if<jobs::Job>(&op)) return "job " + std::to_string(j->id);
  if (const auto* i = std::get_if<jobs::JobItem>(&op)) return "item of job " + std::to_string(i->job_id);
  if (const auto* p = std::get_if<PublishOp>(&op)) return "publish to " + p->topic;
  if (const auto* n = std::get_if<notifications::NotifyRequest>(&op))
    return n->event + " notification of alert " + std::to_string(n->alert_id);
  return "engine snapshot";
}

using Publish = std::function<void(const PublishOp&)>;

/// Writes the batch in one transaction; on a data error, op by op, giving
/// up (counted, logged) only on the ops PostgreSQL rejects. Publishes run
/// after the commit of everything before them. Throws on a lost
/// connection, with the ops already committed removed from `batch`.
void write(pqxx::connection& conn, std::vector<AlertOp>& batch, metrics::Counter& written,
           metrics::Counter& errors, metrics::Counter& lost, const Publish& publish) {
  try {
    pqxx::work w(conn);
    for (const auto& op : batch) write_op(w, op);
    w.commit();
    written.inc(batch.size());
    for (const auto& op : batch)
      if (const auto* p = std::get_if<PublishOp>(&op)) publish(*p);
    return;
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    spdlog::warn("alert store: batch of {} failed ({}); writing one by one", batch.size(), e.what());
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      pqxx::work w(conn);
      write_op(w, batch[i]);
      w.commit();
      written.inc();
      if (const auto* p = std::get_if<PublishOp>(&batch[i])) publish(*p);
    } catch (const pqxx::broken_connection&) {
      batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i));
      throw;
    } catch (const std::exception& e) {
      errors.inc();
      lost.inc();
      spdlog::error("alert store: PostgreSQL rejected {}: {}", describe(batch[i]), e.what());
    }
  }
}

}  // namespace

core::Micros snapshot_taken_at(const SnapshotOp& op) {
  return op.snapshot ? op.snapshot->taken_at : op.taken_at;
}

std::string snapshot_body(const SnapshotOp& op) {
  if (!op.snapshot) return op.body;
  return json{{"engine", rules::to_json(op.snapshot->engine)}, {"manager", op.snapshot->manager}}
      .dump();
}

AlertStore::AlertStore(PgTarget target, metrics::Registry& metrics, AlertStoreOptions opts)
    : target_(std::move(target)),
      opts_(std::move(opts)),
      depth_gauge_(metrics.gauge("peregrine_alert_store_queue_depth",
                                 "Alert rows, events and snapshots waiting to be written")),
      written_(metrics.counter("peregrine_alert_store_ops_total",
                               "Alert rows, events and snapshots written to PostgreSQL")),
      errors_(metrics.counter("peregrine_alert_store_errors_total",
                              "Alert writes PostgreSQL rejected or that failed and were retried")),
      lost_(metrics.counter("peregrine_alert_store_lost_total",
                            "Alert writes given up (rejected data, or unwritten at shutdown)")),
      spilled_(metrics.counter("peregrine_alert_store_spilled_total",
                               "Alert rows, events and snapshots spilled to disk while PostgreSQL was away")),
      replayed_(metrics.counter("peregrine_alert_store_replayed_total",
                                "Spilled alert rows, events and snapshots written back to PostgreSQL")),
      publish_skipped_ended_(metrics.counter(
          "peregrine_alert_store_publish_skipped_total",
          "Deferred command publishes not done: the command ended before its row was committed "
          "(ended), or the batch was spilled while PostgreSQL was away (spilled; the command then "
          "times out)",
          {{"reason", "ended"}})),
      publish_skipped_spilled_(metrics.counter("peregrine_alert_store_publish_skipped_total", "",
                                               {{"reason", "spilled"}})) {
  if (opts_.spill_dir.empty()) return;
  std::string error;
  spill_ = SpillFile::open(opts_.spill_dir, opts_.spill_max_bytes, error);
  if (!spill_) spdlog::error("alert store: spill off ({})", error);
}

bool AlertStore::spill_empty() const { return !spill_ || spill_->empty(); }

bool AlertStore::spill(const std::vector<AlertOp>& batch) {
  if (!spill_ || batch.empty()) return false;
  std::string error;
  switch (spill_->append_bytes(encode_alert_ops(batch), error)) {
    case SpillFile::Append::ok: {
      // A publish cannot wait on disk: by replay its command has timed out.
      const auto publishes = static_cast<std::uint64_t>(std::count_if(
          batch.begin(), batch.end(), [](const AlertOp& op) { return std::holds_alternative<PublishOp>(op); }));
      publish_skipped_spilled_.inc(publishes);
      spilled_.inc(batch.size() - publishes);
      return true;
    }
    case SpillFile::Append::full:
      spdlog::error("alert store: spill full ({} ops stay in memory)", batch.size());
      return false;
    case SpillFile::Append::failed:
      spdlog::error("alert store: cannot spill: {}", error);
      return false;
  }
  return false;
}

void AlertStore::write_spilled(pqxx::connection& conn) {
  std::string payload, error;
  while (spill_ && !spill_->empty()) {
    if (!spill_->next_bytes(payload, error)) {
      spdlog::error("alert store: spill unreadable, given up: {}", error);
      spill_->commit_rest();
      return;
    }
    std::vector<AlertOp> ops;
    if (!decode_alert_ops(payload, ops)) {
      spdlog::error("alert store: a spill record is not an alert batch; skipped");
    } else {
      const std::size_t n = ops.size();
      write(conn, ops, written_, errors_, lost_, [](const PublishOp&) {});  // throws while PostgreSQL is away
      replayed_.inc(n);
    }
    if (!spill_->commit(error)) spdlog::error("alert store: cannot record spill progress: {}", error);
  }
}

bool AlertStore::replay_spill() {
  if (spill_empty()) return true;
  try {
    auto conn = connect(target_, Scope::all());
    write_spilled(*conn);
    spdlog::info("alert store: spilled alerts written back");
    return true;
  } catch (const std::exception& e) {
    spdlog::error("alert store: cannot replay the spill: {}", e.what());
    return false;
  }
}

AlertStore::~AlertStore() { stop(); }

void AlertStore::start() {
  worker_.start([this] { run(); });
}

void AlertStore::stop(std::chrono::milliseconds deadline) { worker_.stop(deadline); }

void AlertStore::end_group() {
  if (group_depth_ == 0 || --group_depth_ > 0 || group_.empty()) return;
  const std::size_t n = group_.size();
  {
    std::lock_guard lock(worker_.mutex());
    for (auto& op : group_) pending_.push_back(std::move(op));
  }
  group_.clear();
  depth_gauge_.set(static_cast<double>(depth_.fetch_add(n, std::memory_order_relaxed) + n));
  worker_.wake();
}

void AlertStore::enqueue(AlertOp op) {
  if (group_depth_ > 0) {
    group_.push_back(std::move(op));
    return;
  }
  {
    std::lock_guard lock(worker_.mutex());
    pending_.push_back(std::move(op));
  }
  depth_gauge_.set(static_cast<double>(depth_.fetch_add(1, std::memory_order_relaxed) + 1));
  worker_.wake();
}

void AlertStore::run() {
  std::unique_ptr<pqxx::connection> conn;
  std::vector<AlertOp> batch;
  core::Backoff backoff(kMinBackoff, kMaxBackoff);
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(worker_.mutex());
      if (batch.empty() && spill_empty()) worker_.wait(lock, [&] { return !pending_.empty(); });
      // Ops that arrived while a batch was being retried go after it, in order.
      for (auto& op : pending_) batch.push_back(std::move(op));
      pending_.clear();
      stopping = worker_.stop_requested_locked();
      if (batch.empty() && stopping) return;  // a spill left over waits for the next start
    }
    const std::size_t taken = batch.size();
    coalesce(batch);
    bool ok = false;
    try {
      if (!conn) conn = connect(target_, Scope::all());
      write_spilled(*conn);  // older than anything in memory
      if (!batch.empty()) {
        write(*conn, batch, written_, errors_, lost_, [this](const PublishOp& p) {
          if (p.cancelled && p.cancelled->load()) {
            publish_skipped_ended_.inc();
          } else if (publisher_) {
            publisher_(p.topic, p.payload);
          }
        });
      }
      ok = true;
      if (on_notified_ && std::any_of(batch.begin(), batch.end(), [](const AlertOp& op) {
            return std::holds_alternative<notifications::NotifyRequest>(op);
          }))
        on_notified_();
    } catch (const std::exception& e) {
      errors_.inc();
      spdlog::warn("alert store: PostgreSQL unavailable ({}), retrying {} writes", e.what(), batch.size());
      conn.reset();
    }
    if (ok) {
      depth_.fetch_sub(taken, std::memory_order_relaxed);
      depth_gauge_.set(static_cast<double>(depth_.load(std::memory_order_relaxed)));
      batch.clear();
      backoff.success();
      continue;
    }
    // Coalescing shrank the batch; the depth counts what was enqueued.
    depth_.fetch_sub(taken - batch.size(), std::memory_order_relaxed);
    // PostgreSQL is away: past the cap, or stopping, the batch goes to disk.
    if ((stopping || batch.size() >= opts_.max_queued) && spill(batch)) {
      depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
      batch.clear();
    }
    depth_gauge_.set(static_cast<double>(depth_.load(std::memory_order_relaxed)));
    std::unique_lock lock(worker_.mutex());
    if (stopping) {
      if (batch.empty()) return;  // spilled: written back at the next start
      if (std::chrono::steady_clock::now() > worker_.stop_deadline_locked()) {
        spdlog::error("alert store: PostgreSQL unreachable at shutdown, {} alert writes not done",
                      batch.size());
        lost_.inc(batch.size());
        depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
        return;
      }
    }
    const auto over_cap = [&] { return pending_.size() >= opts_.max_queued; };
    if (stopping)
      worker_.pause_for(lock, backoff.current(), over_cap);
    else
      worker_.wait_for(lock, backoff.current(), over_cap);
    backoff.failure();
  }
}

std::optional<rules::Rule> rule_from_row(std::int64_t id, core::TenantId tenant,
                                         const std::string& body_json) {
  json body = json::parse(body_json, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  if (body.contains("escalate") && body["escalate"].is_null()) body.erase("escalate");
  auto parsed = rules::parse_rule(body, tenant);
  auto* rule = std::get_if<rules::Rule>(&parsed);
  if (!rule) return std::nullopt;
  rule->id = id;
  rule->tenant = tenant;
  return std::move(*rule);
}

alerts::Alert alert_from_row(const pqxx::row& r) {
  alerts::Alert a;
  a.id = r[0].as<std::int64_t>();
  a.tenant = r[1].as<std::int64_t>();
  a.rule_id = r[2].as<std::int64_t>();
  a.device = r[3].as<std::string>();
  a.metric = r[4].as<std::string>();
  a.severity = rules::parse_severity(r[5].as<std::string>()).value_or(rules::Severity::warning);
  a.state = alerts::parse_alert_state(r[6].as<std::string>()).value_or(alerts::AlertState::active);
  a.value = r[7].as<double>();
  a.message = r[8].as<std::string>();
  a.count = static_cast<std::uint64_t>(r[9].as<std::int64_t>());
  a.escalated = r[10].as<bool>();
  a.opened_at = r[11].as<std::int64_t>();
  if (!r[12].is_null()) a.acknowledged_at = r[12].as<std::int64_t>();
  if (!r[13].is_null()) a.acknowledged_by = r[13].as<std::string>();
  if (!r[14].is_null()) a.resolved_at = r[14].as<std::int64_t>();
  if (!r[15].is_null()) a.resolved_by = r[15].as<std::string>();
  a.updated_at = r[16].as<std::int64_t>();
  a.silenced = r[17].as<bool>();
  return a;
}

alerts::StartState load_alerting_state(const PgTarget& target) {
  const auto conn = connect(target, Scope::all());
  pqxx::read_transaction tx(*conn);
  alerts::StartState st;
  for (const auto& row : tx.exec(std::string("SELECT id, tenant_id, ") + kRuleBodySql +
                                 " FROM rules WHERE enabled ORDER BY id")) {
    auto rule = rule_from_row(row[0].as<std::int64_t>(), row[1].as<std::int64_t>(),
                              row[2].as<std::string>());
    if (rule)
      st.rules.push_back(std::move(*rule));
    else
      spdlog::error("rule {} no longer validates; not loaded", row[0].as<std::int64_t>());
  }
  for (const auto& row : tx.exec(std::string("SELECT ") + kAlertColumnsSql +
                                 " FROM alerts WHERE state <> 'resolved' ORDER BY id")) {
    st.open_alerts.push_back(alert_from_row(row));
  }
  st.next_id = tx.exec1("SELECT coalesce(max(id), 0) + 1 FROM alerts")[0].as<std::int64_t>();
  const pqxx::result snap = tx.exec("SELECT body::text FROM engine_snapshots WHERE id = 1");
  if (!snap.empty()) st.snapshot = json::parse(snap[0][0].as<std::string>(), nullptr, false);
  return st;
}

}  // namespace peregrine::storage
