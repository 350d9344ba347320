#include "storage/control_rows.hpp"

#include <string>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using nlohmann::json;

namespace {

using Nullable = sql::NullableText;
Nullable opt(const std::optional<std::int64_t>& v) { return sql::nullable(v); }
Nullable opt_text(const std::string& s) { return sql::text_if(!s.empty(), s); }
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const std::string kUpsertCommand =
    "INSERT INTO commands (id, tenant_id, device_id, name, params, status, detail, created_by, "
    "created_at, sent_at, finished_at, ack_timeout_s, expires_at, alert_id, run_id, alert_device, "
    "on_timeout, job_id) VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6, $7, $8, " +
    sql::ts_param(9) + ", " + sql::ts_param(10) + ", " + sql::ts_param(11) + ", $12, " + sql::ts_param(13) +
    ", $14::bigint, $15, $16, $17::jsonb, $18::bigint) ON CONFLICT (id) DO UPDATE SET "
    "status = EXCLUDED.status, detail = EXCLUDED.detail, sent_at = EXCLUDED.sent_at, "
    "finished_at = EXCLUDED.finished_at";

const std::string kUpsertJob =
    "INSERT INTO jobs (id, tenant_id, kind, state, total, done, failed, params, created_by, "
    "created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, " +
    sql::ts_param(10) + ", " + sql::ts_param(11) +
    ") ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, total = EXCLUDED.total, "
    "done = EXCLUDED.done, failed = EXCLUDED.failed, finished_at = EXCLUDED.finished_at";

}  // namespace

bool write_control_op(pqxx::work& w, const AlertOp& op) {
  if (const auto* c = std::get_if<commands::Command>(&op)) {
    const auto sent = opt(c->sent_at), finished = opt(c->finished_at), alert = opt(c->alert_id),
               job = opt(c->job_id), run = opt_text(c->run_id), alert_device = opt_text(c->alert_device);
    const Nullable on_timeout = c->on_timeout.is_null() ? Nullable{} : Nullable{dump(c->on_timeout), false};
    w.exec_params(kUpsertCommand, c->id, c->tenant, c->device, c->name, dump(c->params),
                  std::string(commands::to_string(c->status)), c->detail, c->created_by, c->created_at,
                  sent.c_str(), finished.c_str(), c->ack_timeout_s, c->expires_at, alert.c_str(),
                  run.c_str(), alert_device.c_str(), on_timeout.c_str(), job.c_str());
    return true;
  }
  if (const auto* e = std::get_if<commands::CommandEvent>(&op)) {
    w.exec_params("INSERT INTO command_events (command_id, status, at, detail) VALUES ($1::uuid, $2, " +
                      sql::ts_param(3) + ", $4)",
                  e->command_id, e->status, e->at, e->detail);
    return true;
  }
  if (const auto* j = std::get_if<jobs::Job>(&op)) {
    const auto finished = opt(j->finished_at);
    w.exec_params(kUpsertJob, j->id, j->tenant, j->kind, std::string(jobs::to_string(j->state)), j->total,
                  j->done, j->failed, dump(j->params), j->created_by, j->created_at, finished.c_str());
    return true;
  }
  if (const auto* i = std::get_if<jobs::JobItem>(&op)) {
    const auto cmd = opt_text(i->command_id);
    w.exec_params(
        "INSERT INTO job_items (job_id, seq, key, status, detail, command_id) VALUES ($1, $2, $3, $4, "
        "$5, $6::uuid) ON CONFLICT (job_id, seq) DO UPDATE SET status = EXCLUDED.status, "
        "detail = EXCLUDED.detail, command_id = EXCLUDED.command_id",
        i->job_id, i->seq, i->key, i->status, i->detail, cmd.c_str());
    return true;
  }
  return false;
}

const char* const kCommandColumnsSql =
    "id::text, tenant_id, device_id, name, params::text, status, detail, created_by, "
    "(extract(epoch from created_at) * 1000000)::bigint, "
    "(extract(epoch from sent_at) * 1000000)::bigint, "
    "(extract(epoch from finished_at) * 1000000)::bigint, ack_timeout_s, "
    "(extract(epoch from expires_at) * 1000000)::bigint, alert_id, run_id, alert_device, "
    "on_timeout::text, job_id";

commands::Command command_from_row(const pqxx::row& r) {
  commands::Command c;
  c.id = r[0].as<std::string>();
  c.tenant = r[1].as<std::int64_t>();
  c.device = r[2].as<std::string>();
  c.name = r[3].as<std::string>();
  c.params = json::parse(r[4].as<std::string>(), nullptr, false);
  c.status = commands::parse_status(r[5].as<std::string>()).value_or(commands::Status::error);
  c.detail = r[6].as<std::string>();
  c.created_by = r[7].as<std::string>();
  c.created_at = r[8].as<std::int64_t>();
  if (!r[9].is_null()) c.sent_at = r[9].as<std::int64_t>();
  if (!r[10].is_null()) c.finished_at = r[10].as<std::int64_t>();
  c.ack_timeout_s = r[11].as<std::int32_t>();
  c.expires_at = r[12].as<std::int64_t>();
  if (!r[13].is_null()) c.alert_id = r[13].as<std::int64_t>();
  if (!r[14].is_null()) c.run_id = r[14].as<std::string>();
  if (!r[15].is_null()) c.alert_device = r[15].as<std::string>();
  if (!r[16].is_null()) c.on_timeout = json::parse(r[16].as<std::string>(), nullptr, false);
  if (!r[17].is_null()) c.job_id = r[17].as<std::int64_t>();
  return c;
}

CommandStartState load_command_state(const PgTarget& target) {
  const auto conn = connect(target, Scope::all());
  pqxx::read_transaction tx(*conn);
  CommandStartState st;
  for (const auto& row : tx.exec(std::string("SELECT ") + kCommandColumnsSql +
                                 " FROM commands WHERE status IN ('queued', 'sent') ORDER BY created_at"))
    st.pending.push_back(command_from_row(row));
  for (const auto& row : tx.exec(
           "SELECT DISTINCT run_id FROM commands WHERE run_id IN (SELECT run_id FROM commands "
           "WHERE status IN ('queued', 'sent') AND run_id IS NOT NULL) "
           "AND status IN ('error', 'timed_out', 'expired', 'cancelled')"))
    st.fallen_back_runs.push_back(row[0].as<std::string>());
  return st;
}

const std::string kJobColumnsSql = "id, tenant_id, kind, state, total, done, failed, params::text, created_by, " +
                                   sql::micros("created_at") + ", " + sql::micros("finished_at");

jobs::Job job_from_row(const pqxx::row& r) {
  jobs::Job j;
  j.id = r[0].as<std::int64_t>();
  j.tenant = r[1].as<std::int64_t>();
  j.kind = r[2].as<std::string>();
  j.state = jobs::parse_state(r[3].as<std::string>()).value_or(jobs::State::running);
  j.total = r[4].as<std::int32_t>();
  j.done = r[5].as<std::int32_t>();
  j.failed = r[6].as<std::int32_t>();
  j.params = json::parse(r[7].as<std::string>(), nullptr, false);
  j.created_by = r[8].as<std::string>();
  j.created_at = r[9].as<std::int64_t>();
  if (!r[10].is_null()) j.finished_at = r[10].as<std::int64_t>();
  return j;
}

jobs::JobStartState load_job_state(const PgTarget& target) {
  const auto conn = connect(target, Scope::all());
  pqxx::read_transaction tx(*conn);
  jobs::JobStartState st;
  st.next_id = tx.exec1("SELECT coalesce(max(id), 0) + 1 FROM jobs")[0].as<std::int64_t>();
  for (const auto& row :
       tx.exec("SELECT " + kJobColumnsSql + " FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"))
    st.running.push_back(job_from_row(row));
  for (const auto& row : tx.exec(
           "SELECT i.job_id, i.seq, i.key, i.status, i.detail, i.command_id::text FROM job_items i "
           "JOIN jobs j ON j.id = i.job_id JOIN commands c ON c.id = i.command_id "
           "WHERE j.state IN ('queued', 'running') AND c.status IN ('queued', 'sent')"))
    st.pending_items.push_back(jobs::JobItem{row[0].as<std::int64_t>(), row[1].as<std::int32_t>(),
                                             row[2].as<std::string>(), row[3].as<std::string>(),
                                             row[4].as<std::string>(), row[5].as<std::string>()});
  return st;
}

}  // namespace peregrine::storage
