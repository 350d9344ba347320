#include "storage/rollups.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <string>

#include "storage/sql_support.hpp"

namespace peregrine::storage::rollups {
namespace {

core::Micros floor_to(core::Micros ts, core::Micros step) {
  const core::Micros q = ts / step;
  return (ts % step < 0 ? q - 1 : q) * step;
}

struct Agg {
  std::int64_t count = 0;
  double sum = 0, min = 0, max = 0, first = 0, last = 0;
  core::Micros first_ts = 0, last_ts = 0;
  void add(core::Micros ts, double v) {
    if (count == 0) {
      min = max = first = last = v;
      first_ts = last_ts = ts;
    } else {
      min = std::min(min, v);
      max = std::max(max, v);
      if (ts < first_ts) first_ts = ts, first = v;
      if (ts >= last_ts) last_ts = ts, last = v;
    }
    ++count;
    sum += v;
  }
};

// Merging is exact for every field: counts and sums add, min/max compare,
// first/last keep the earliest/latest ts (all SET expressions see the old row).
std::string merge_sql(const char* table) {
  return std::string("INSERT INTO ") + table +
         " AS r (series_id, bucket, count, sum, min, max, first_ts, first, last_ts, last) ";
}
const char* const kOnConflict =
    " ON CONFLICT (series_id, bucket) DO UPDATE SET count = r.count + EXCLUDED.count, "
    "sum = r.sum + EXCLUDED.sum, min = least(r.min, EXCLUDED.min), max = greatest(r.max, EXCLUDED.max), "
    "first = CASE WHEN EXCLUDED.first_ts < r.first_ts THEN EXCLUDED.first ELSE r.first END, "
    "first_ts = least(r.first_ts, EXCLUDED.first_ts), "
    "last = CASE WHEN EXCLUDED.last_ts >= r.last_ts THEN EXCLUDED.last ELSE r.last END, "
    "last_ts = greatest(r.last_ts, EXCLUDED.last_ts)";

void append_number(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void merge_map(pqxx::transaction_base& tx, const char* table,
               const std::map<std::pair<core::SeriesKey, core::Micros>, Agg>& aggs) {
  if (aggs.empty()) return;
  std::string s, b, c, su, mi, ma, ft, f, lt, l;
  const auto sep = [](std::string& x) { x += x.empty() ? '{' : ','; };
  for (const auto& [key, a] : aggs) {
    sep(s), s += std::to_string(key.first);
    sep(b), b += std::to_string(key.second);
    sep(c), c += std::to_string(a.count);
    sep(su), append_number(su, a.sum);
    sep(mi), append_number(mi, a.min);
    sep(ma), append_number(ma, a.max);
    sep(ft), ft += std::to_string(a.first_ts);
    sep(f), append_number(f, a.first);
    sep(lt), lt += std::to_string(a.last_ts);
    sep(l), append_number(l, a.last);
  }
  for (std::string* x : {&s, &b, &c, &su, &mi, &ma, &ft, &f, &lt, &l}) *x += '}';
  tx.exec_params(merge_sql(table) +
                     "SELECT u.s, 'epoch'::timestamptz + u.b * interval '1 microsecond', u.c, u.su, u.mi, u.ma, "
                     "'epoch'::timestamptz + u.ft * interval '1 microsecond', u.f, "
                     "'epoch'::timestamptz + u.lt * interval '1 microsecond', u.l "
                     "FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], "
                     "$6::float8[], $7::bigint[], $8::float8[], $9::bigint[], $10::float8[]) "
                     "AS u(s, b, c, su, mi, ma, ft, f, lt, l)" +
                     kOnConflict,
                 s, b, c, su, mi, ma, ft, f, lt, l);
}

}  // namespace

core::Micros load_watermark(pqxx::connection& conn) {
  pqxx::work tx(conn);
  // min(ts) scans every partition: only the first time, when rollups begin.
  if (tx.exec("SELECT 1 FROM rollup_state WHERE id = 1").empty())
    tx.exec("INSERT INTO rollup_state (id, watermark) "
            "SELECT 1, coalesce((SELECT min(ts) FROM readings_raw), now()) ON CONFLICT (id) DO NOTHING");
  const auto w = tx.exec1("SELECT " + sql::micros("watermark") + " FROM rollup_state WHERE id = 1")[0].as<std::int64_t>();
  tx.commit();
  return w;
}

std::size_t merge_late(pqxx::transaction_base& tx, const std::vector<ingest::StoredRow>& rows,
                       core::Micros watermark) {
  std::map<std::pair<core::SeriesKey, core::Micros>, Agg> minutes, hours;
  std::size_t late = 0;
  for (const auto& row : rows) {
    if (row.ts_us >= watermark) continue;
    ++late;
    minutes[{row.series, floor_to(row.ts_us, kMinuteUs)}].add(row.ts_us, row.value);
    hours[{row.series, floor_to(row.ts_us, kHourUs)}].add(row.ts_us, row.value);
  }
  merge_map(tx, "rollup_1m", minutes);
  merge_map(tx, "rollup_1h", hours);
  return late;
}

core::Micros refresh(pqxx::connection& conn, core::Micros watermark, core::Micros up_to) {
  if (up_to <= watermark) return watermark;
  pqxx::work tx(conn);
  // One scan of the stretch; the hour level merges the minutes it found.
  tx.exec_params(
      "WITH m AS ("
      "  SELECT series_id, date_trunc('minute', ts, 'UTC') AS bucket, count(*) AS count, sum(value) AS sum, "
      "    min(value) AS min, max(value) AS max, min(ts) AS first_ts, "
      "    (array_agg(value ORDER BY ts))[1] AS first, max(ts) AS last_ts, "
      "    (array_agg(value ORDER BY ts DESC))[1] AS last "
      "  FROM readings_raw WHERE ts >= " + sql::ts_param(1) + " AND ts < " + sql::ts_param(2) +
          "  GROUP BY series_id, bucket"
          "), ins AS (" +
          merge_sql("rollup_1m") + "SELECT * FROM m" + kOnConflict +
          ") " + merge_sql("rollup_1h") +
          "SELECT series_id, date_trunc('hour', bucket, 'UTC'), sum(count), sum(sum), min(min), max(max), "
          "  min(first_ts), (array_agg(first ORDER BY first_ts))[1], max(last_ts), "
          "  (array_agg(last ORDER BY last_ts DESC))[1] FROM m GROUP BY 1, 2" +
          kOnConflict,
      watermark, up_to);
  tx.exec_params("UPDATE rollup_state SET watermark = " + sql::ts_param(1) + " WHERE id = 1", up_to);
  tx.commit();
  return up_to;
}

namespace {

/// The first kept instant of a level that keeps `days` whole days, today included.
core::Micros cutoff(std::int64_t today, int days) { return (today - days + 1) * 24 * kHourUs; }

std::int64_t delete_rows(pqxx::connection& conn, const std::string& sql, core::Micros before,
                         std::int64_t tenant = 0) {
  pqxx::work tx(conn);
  const auto r = tenant ? tx.exec_params(sql, before, tenant) : tx.exec_params(sql, before);
  tx.commit();
  return static_cast<std::int64_t>(r.affected_rows());
}

}  // namespace

RetentionResult apply_retention(pqxx::connection& conn, const Retention& server, std::int64_t today) {
  RetentionResult done;
  // The server's own retention drops whole partitions (migrations/0014).
  const std::pair<const char*, int> rollup_levels[] = {{"1m", server.rollup_1m_days},
                                                       {"1h", server.rollup_1h_days}};
  for (const auto& [level, days] : rollup_levels) {
    if (days <= 0) continue;
    pqxx::work tx(conn);
    done.partitions_dropped +=
        tx.exec_params1("SELECT peregrine_drop_rollup_partitions_before($1, " + sql::ts_param(2) + ")", level,
                        cutoff(today, days))[0]
            .as<int>();
    tx.commit();
  }
  std::int64_t& deleted = done.rows_deleted;
  std::vector<std::array<std::int64_t, 4>> tenants;
  {
    pqxx::read_transaction tx(conn);
    for (const auto& r : tx.exec("SELECT id, coalesce((retention->>'raw_days')::int, 0), "
                                 "coalesce((retention->>'rollup_1m_days')::int, 0), "
                                 "coalesce((retention->>'rollup_1h_days')::int, 0) FROM tenants "
                                 "WHERE retention <> '{}'::jsonb"))
      tenants.push_back({r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>(),
                         r[3].as<std::int64_t>()});
  }
  const std::pair<const char*, const char*> levels[] = {
      {"readings_raw", "ts"}, {"rollup_1m", "bucket"}, {"rollup_1h", "bucket"}};
  const int server_days[] = {server.raw_days, server.rollup_1m_days, server.rollup_1h_days};
  for (const auto& t : tenants) {
    for (int i = 0; i < 3; ++i) {
      const auto days = static_cast<int>(t[static_cast<std::size_t>(i) + 1]);
      if (days <= 0 || (server_days[i] > 0 && days >= server_days[i])) continue;  // only shorter
      const auto& [table, column] = levels[i];
      deleted += delete_rows(conn,
                             std::string("DELETE FROM ") + table + " x USING series s WHERE s.id = x.series_id " +
                                 "AND x." + column + " < " + sql::ts_param(1) + " AND s.tenant_id = $2",
                             cutoff(today, days), t[0]);
    }
  }
  return done;
}

}  // namespace peregrine::storage::rollups
