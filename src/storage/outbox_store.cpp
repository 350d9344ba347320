#include <peregrine/storage/outbox_store.hpp>

#include <limits>

#include <pqxx/pqxx>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

namespace {

const char* const kCancelSilencedSql =
    "UPDATE notifications n SET status = 'cancelled', last_error = 'silenced (silence ' || s.id || ')' "
    "FROM alerts a, silences s "
    "WHERE n.status = 'pending' AND n.next_attempt_at <= now() AND n.event = 'alert.opened' "
    "  AND a.id = n.alert_id AND s.tenant_id = a.tenant_id AND s.starts_at <= now() "
    "  AND s.ends_at > now() AND (s.device_id = a.device_id OR s.rule_id = a.rule_id "
    "    OR s.group_id IN (SELECT group_id FROM device_group_members m WHERE m.device_id = a.device_id))";

// An escalation step or reminder that falls due when its alert is no longer
// active (acknowledged, resolved) is not sent: after_s means "if still
// unacknowledged then", whatever queued it (a command's fallback may queue
// one after the acknowledgement).
const char* const kCancelStaleSql =
    "UPDATE notifications n SET status = 'cancelled', last_error = 'alert ' || a.state "
    "FROM alerts a WHERE n.status = 'pending' AND n.conditional AND n.next_attempt_at <= now() "
    "  AND a.id = n.alert_id AND a.state <> 'active'";

const std::string kClaimSql =
    "UPDATE notifications n SET next_attempt_at = now() + $2 * interval '1 second', "
    "  attempts = n.attempts + 1 "
    "FROM (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= now() "
    "      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due "
    "WHERE n.id = due.id "
    "RETURNING n.id, n.tenant_id, n.alert_id, n.event, coalesce(n.channel_id, 0), n.channel_type, "
    "  coalesce(n.to_address, ''), n.attempts, n.repeat_s, n.reminder, n.conditional, " +
    sql::micros("n.opened_at") +
    ", n.payload::text, "
    "  (SELECT config::text FROM channels c WHERE c.id = n.channel_id), "
    "  (SELECT secrets::text FROM channels c WHERE c.id = n.channel_id)";

// The next reminder of a sent step, while its alert is unacknowledged and open.
const char* const kReminderSql =
    "INSERT INTO notifications (id, tenant_id, alert_id, event, channel_id, channel_name, "
    "  channel_type, contact_id, contact_name, to_address, status, conditional, repeat_s, reminder, "
    "  payload, opened_at, due_at, next_attempt_at) "
    "SELECT gen_random_uuid(), n.tenant_id, n.alert_id, n.event, n.channel_id, n.channel_name, "
    "  n.channel_type, n.contact_id, n.contact_name, n.to_address, 'pending', true, n.repeat_s, "
    "  n.reminder + 1, jsonb_set(n.payload, '{reminder}', to_jsonb(n.reminder + 1)), n.opened_at, "
    "  greatest(now(), n.due_at + n.repeat_s * interval '1 second'), "
    "  greatest(now(), n.due_at + n.repeat_s * interval '1 second') "
    "FROM notifications n JOIN alerts a ON a.id = n.alert_id "
    "WHERE n.id = $1 AND n.repeat_s > 0 AND n.reminder < $2 AND a.state = 'active'";

nlohmann::json parse_object(const pqxx::field& f) {
  if (f.is_null()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(f.c_str(), nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

}  // namespace

OutboxStore::OutboxStore(PgTarget target) : target_(std::move(target)) {}
OutboxStore::~OutboxStore() = default;

pqxx::connection& OutboxStore::conn() {
  if (!conn_) conn_ = connect(target_, Scope::all());
  return *conn_;
}

std::vector<Delivery> OutboxStore::claim(std::size_t limit, std::chrono::seconds lease) {
  pqxx::work w(conn());
  w.exec(kCancelSilencedSql);
  w.exec(kCancelStaleSql);
  std::vector<Delivery> out;
  for (const auto& r : w.exec_params(kClaimSql, static_cast<std::int64_t>(limit),
                                     static_cast<std::int64_t>(lease.count()))) {
    Delivery d;
    d.id = r[0].as<std::string>();
    d.tenant = r[1].as<std::int64_t>();
    d.alert_id = r[2].as<std::int64_t>();
    d.event = r[3].as<std::string>();
    d.channel_id = r[4].as<std::int64_t>();
    d.channel_type = r[5].as<std::string>();
    d.to = r[6].as<std::string>();
    d.attempts = r[7].as<std::int32_t>();
    d.repeat_s = r[8].as<std::int32_t>();
    d.reminder = r[9].as<std::int32_t>();
    d.conditional = r[10].as<bool>();
    d.opened_at = r[11].as<std::int64_t>();
    d.payload = r[12].as<std::string>();
    d.config = parse_object(r[13]);
    d.secrets = parse_object(r[14]);
    out.push_back(std::move(d));
  }
  w.commit();
  return out;
}

void OutboxStore::sent(const Delivery& d, std::int32_t max_reminders) {
  pqxx::work w(conn());
  w.exec_params(
      "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1",
      d.id);
  if (d.repeat_s > 0) w.exec_params(kReminderSql, d.id, max_reminders);
  w.commit();
}

void OutboxStore::retry(const Delivery& d, std::chrono::milliseconds after, const std::string& error) {
  pqxx::work w(conn());
  w.exec_params(
      "UPDATE notifications SET next_attempt_at = now() + $2 * interval '1 millisecond', "
      "last_error = $3 WHERE id = $1 AND status = 'pending'",
      d.id, static_cast<std::int64_t>(after.count()), error);
  w.commit();
}

void OutboxStore::failed(const Delivery& d, const std::string& error) {
  pqxx::work w(conn());
  w.exec_params("UPDATE notifications SET status = 'failed', last_error = $2 WHERE id = $1", d.id, error);
  w.commit();
}

void OutboxStore::release(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  pqxx::work w(conn());
  std::string list = "{";
  for (const auto& id : ids) list += (list.size() > 1 ? "," : "") + id;
  w.exec_params(
      "UPDATE notifications SET next_attempt_at = now(), attempts = greatest(attempts - 1, 0) "
      "WHERE id = ANY($1::uuid[]) AND status = 'pending'",
      list + "}");
  w.commit();
}

core::Micros OutboxStore::next_due() {
  pqxx::read_transaction w(conn());
  const auto r = w.exec("SELECT " + sql::micros("min(next_attempt_at)") +
                        " FROM notifications WHERE status = 'pending'");
  return r[0][0].is_null() ? std::numeric_limits<core::Micros>::max() : r[0][0].as<std::int64_t>();
}

}  // namespace peregrine::storage
