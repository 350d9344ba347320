#include "storage/batch_sink.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <tuple>

#include <spdlog/spdlog.h>
#include <pqxx/pqxx>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/time_format.hpp>

#include "storage/rollups.hpp"

namespace peregrine::storage {
namespace {

constexpr core::Micros kDayUs = 86'400'000'000;
// Rows per multi-row INSERT/UPDATE statement: few round trips, bounded size.
constexpr std::size_t kStatementRows = 1000;

std::int64_t day_of(core::Micros ts) noexcept { return ts / kDayUs - (ts % kDayUs < 0 ? 1 : 0); }

// "YYYY-MM-DD" of a day number.
std::string date_of(std::int64_t day) { return core::format_rfc3339(day * kDayUs).substr(0, 10); }

template <class T, class Fn>
void for_each_chunk(const std::vector<T>& items, Fn fn) {
  for (std::size_t i = 0; i < items.size(); i += kStatementRows) {
    fn(items.begin() + i, items.begin() + std::min(items.size(), i + kStatementRows));
  }
}

void insert_devices(pqxx::transaction_base& tx, const std::vector<DeviceDecl>& devices) {
  for_each_chunk(devices, [&](auto begin, auto end) {
    std::string sql = "INSERT INTO devices (id, tenant_id, name, type) VALUES ";
    for (auto it = begin; it != end; ++it) {
      if (it != begin) sql += ',';
      sql += '(' + tx.quote(it->id) + ',' + std::to_string(it->tenant) + ',' + tx.quote(it->name) +
             ',' + tx.quote(it->type) + ')';
    }
    sql += " ON CONFLICT DO NOTHING";
    tx.exec(sql);
  });
}

void insert_series(pqxx::transaction_base& tx, const std::vector<SeriesDecl>& series) {
  for_each_chunk(series, [&](auto begin, auto end) {
    std::string sql = "INSERT INTO series (id, tenant_id, device_id, metric) VALUES ";
    for (auto it = begin; it != end; ++it) {
      if (it != begin) sql += ',';
      sql += '(' + std::to_string(it->key) + ',' + std::to_string(it->tenant) + ',' +
             tx.quote(it->device) + ',' + tx.quote(it->metric) + ')';
    }
    sql += " ON CONFLICT DO NOTHING";
    tx.exec(sql);
  });
}

void update_states(pqxx::transaction_base& tx,
                   const std::unordered_map<std::string, DeviceState>& states) {
  std::vector<std::pair<const std::string*, const DeviceState*>> items;
  items.reserve(states.size());
  for (const auto& [id, st] : states) items.emplace_back(&id, &st);
  for_each_chunk(items, [&](auto begin, auto end) {
    std::string sql =
        "UPDATE devices AS d SET last_seen = v.last_seen, online = v.online,"
        " last_seq = v.last_seq, seq_gaps = v.seq_gaps FROM (VALUES ";
    for (auto it = begin; it != end; ++it) {
      const DeviceState& st = *it->second;
      if (it != begin) sql += ',';
      sql += '(' + tx.quote(*it->first) + "::text,";
      sql += st.last_seen ? '\'' + core::format_rfc3339(*st.last_seen) + "'::timestamptz,"
                          : std::string("NULL::timestamptz,");
      sql += st.online ? "true," : "false,";
      sql += st.last_seq ? std::to_string(*st.last_seq) + "::bigint," : "NULL::bigint,";
      sql += std::to_string(st.seq_gaps) + "::bigint)";
    }
    sql += ") AS v (id, last_seen, online, last_seq, seq_gaps) WHERE d.id = v.id";
    tx.exec(sql);
  });
}

}  // namespace

void WorkBatch::clear_meta() noexcept {
  devices.clear();
  series.clear();
  states.clear();
}

void WorkBatch::clear() noexcept {
  clear_meta();
  rows.clear();
}

void WorkBatch::absorb(WorkBatch& newer) {
  if (empty()) first_at = newer.first_at;
  std::move(newer.devices.begin(), newer.devices.end(), std::back_inserter(devices));
  std::move(newer.series.begin(), newer.series.end(), std::back_inserter(series));
  rows.insert(rows.end(), newer.rows.begin(), newer.rows.end());
  for (auto& [id, st] : newer.states) states.insert_or_assign(id, st);
  newer.clear();
}

BatchSink::BatchSink(PgTarget target, int partitions_ahead_days, rollups::Retention retention)
    : target_(std::move(target)),
      ahead_days_(partitions_ahead_days),
      retention_(retention),
      ahead_done_day_(std::numeric_limits<std::int64_t>::min()),
      batch_ids_(std::random_device{}()) {
  ts_buf_.reserve(32);
}

BatchSink::~BatchSink() = default;

bool BatchSink::connected() const noexcept { return conn_ && conn_->is_open(); }

void BatchSink::connect() {
  // Every tenant's devices and series: the rows it writes name their tenant.
  conn_ = storage::connect(target_, Scope::all());
  ahead_done_day_ = std::numeric_limits<std::int64_t>::min();
  ensure_ahead(core::wall_us());
  watermark_ = rollups::load_watermark(*conn_);
}

void BatchSink::refresh_rollups(core::Micros up_to) {
  watermark_ = rollups::refresh(*conn_, watermark_, up_to);
}

void BatchSink::disconnect() noexcept {
  conn_.reset();
  // Partitions may have been dropped (retention) while we were away.
  known_days_.clear();
}

void BatchSink::ensure_ahead(core::Micros now_us) {
  const std::int64_t today = day_of(now_us);
  if (today == ahead_done_day_) return;
  for (std::int64_t d = today - 1; d <= today + ahead_days_; ++d) {
    if (known_days_.count(d) == 0) create_partition(d);
  }
  if (retention_.raw_days > 0) drop_partitions_before(today - retention_.raw_days + 1);
  if (const auto done = rollups::apply_retention(*conn_, retention_, today);
      done.partitions_dropped > 0 || done.rows_deleted > 0) {
    spdlog::info("retention: dropped {} rollup partitions; deleted {} rows of tenants past their own "
                 "retention",
                 done.partitions_dropped, done.rows_deleted);
    // A day's partitions include its rollup month and year: make them again on use.
    if (done.partitions_dropped > 0) known_days_.clear();
  }
  // A replay's COMMIT is settled as soon as it reconnects; a day is plenty.
  pqxx::work tx(*conn_);
  tx.exec("DELETE FROM storage_batches WHERE at < now() - interval '1 day'");
  tx.commit();
  ahead_done_day_ = today;
}

void BatchSink::drop_partitions_before(std::int64_t day) {
  pqxx::work tx(*conn_);
  const int dropped = tx.exec_params1("SELECT peregrine_drop_day_partitions_before($1::date)",
                                      date_of(day))[0]
                          .as<int>();
  tx.commit();
  known_days_.erase(known_days_.begin(), known_days_.lower_bound(day));
  if (dropped > 0)
    spdlog::info("retention: dropped {} day partitions before {}", dropped, date_of(day));
}

void BatchSink::create_partition(std::int64_t day) {
  // DDL on readings_raw needs its owner: the function runs as the owner
  // (migrations/0005), writes the bounds in UTC and makes the rollup month
  // and year the day falls in too (0014).
  pqxx::work tx(*conn_);
  tx.exec_params("SELECT peregrine_create_day_partition($1::date)", date_of(day));
  tx.commit();
  known_days_.insert(day);
}

void BatchSink::ensure_partitions(const std::vector<ingest::StoredRow>& rows) {
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  for (const auto& row : rows) {
    const std::int64_t day = day_of(row.ts_us);
    if (day == last) continue;
    last = day;
    if (known_days_.count(day) == 0) create_partition(day);
  }
}

void BatchSink::copy_rows(pqxx::transaction_base& tx, const std::vector<ingest::StoredRow>& rows) {
  pqxx::stream_to copy(tx, "readings_raw", std::vector<std::string>{"series_id", "ts", "value"});
  char value[32];
  for (const auto& row : rows) {
    ts_buf_.clear();
    core::append_rfc3339(ts_buf_, row.ts_us);
    // Shortest representation that round-trips: full precision, no locale.
    const auto res = std::to_chars(value, value + sizeof value - 1, row.value);
    *res.ptr = '\0';
    copy << std::tuple<core::SeriesKey, const char*, const char*>(row.series, ts_buf_.c_str(),
                                                                  value);
  }
  copy.complete();
}

std::size_t BatchSink::committed_in_doubt() {
  if (!doubt_) return 0;
  const std::size_t rows = xid_committed(doubt_->xid) ? doubt_->rows : 0;
  doubt_.reset();
  return rows;
}

bool BatchSink::xid_committed(std::int64_t xid) {
  pqxx::read_transaction tx(*conn_);
  const pqxx::row r = tx.exec_params1("SELECT txid_status($1)", xid);
  if (r[0].is_null()) {
    // Older than the commit log PostgreSQL keeps: nothing can tell.
    spdlog::warn("storage: the outcome of transaction {} is no longer known; writing its rows "
                 "again",
                 xid);
    return false;
  }
  return r[0].as<std::string>() == "committed";
}

bool BatchSink::batch_committed(std::int64_t batch_id) {
  pqxx::read_transaction tx(*conn_);
  return !tx.exec_params("SELECT 1 FROM storage_batches WHERE id = $1", batch_id).empty();
}

std::optional<std::pair<std::int64_t, std::size_t>> BatchSink::doubt() const noexcept {
  if (!doubt_) return std::nullopt;
  return std::make_pair(doubt_->xid, doubt_->rows);
}

WriteOutcome BatchSink::write(const WorkBatch& batch, bool meta, bool rows, std::string& error,
                              std::int64_t given_id) {
  const bool with_rows = rows && !batch.rows.empty();
  last_late_ = 0;
  std::int64_t xid = 0;
  try {
    ensure_ahead(core::wall_us());
    if (rows) ensure_partitions(batch.rows);
    pqxx::work tx(*conn_);
    if (meta) {
      if (!batch.devices.empty()) insert_devices(tx, batch.devices);
      if (!batch.series.empty()) insert_series(tx, batch.series);
    }
    if (with_rows) {
      // The transaction's id settles a COMMIT in doubt (txid_status) without
      // writing anything; a caller's batch id is stored with the rows.
      if (given_id != 0)
        tx.exec_params("INSERT INTO storage_batches (id) VALUES ($1)", given_id);
      else
        xid = tx.exec1("SELECT txid_current()")[0].as<std::int64_t>();
      copy_rows(tx, batch.rows);
      last_late_ = rollups::merge_late(tx, batch.rows, watermark_);
    }
    if (meta && !batch.states.empty()) update_states(tx, batch.states);
    tx.commit();
    return WriteOutcome::ok;
  } catch (const pqxx::broken_connection& e) {
    error = e.what();
    return WriteOutcome::broken;
  } catch (const pqxx::in_doubt_error& e) {
    error = e.what();
    if (xid != 0) doubt_ = Doubt{xid, batch.rows.size()};
    return WriteOutcome::broken;
  } catch (const pqxx::data_exception& e) {
    error = e.what();
  } catch (const pqxx::integrity_constraint_violation& e) {
    error = e.what();
  } catch (const std::exception& e) {
    error = e.what();
    return connected() ? WriteOutcome::failed : WriteOutcome::broken;
  }
  return connected() ? WriteOutcome::data_error : WriteOutcome::broken;
}

}  // namespace peregrine::storage
