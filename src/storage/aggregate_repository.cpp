#include <peregrine/storage/aggregate_repository.hpp>

#include <string>
#include <unordered_map>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

// The columns every segment returns, grouped by (series, output bucket $4).
const std::string kRawSql =
    "SELECT series_id, " + sql::micros("ts") + " / $4 AS ob, count(*), sum(value), min(value), max(value), " +
    sql::micros("min(ts)") + ", (array_agg(value ORDER BY ts))[1], " + sql::micros("max(ts)") +
    ", (array_agg(value ORDER BY ts DESC))[1] FROM readings_raw "
    "WHERE series_id = ANY($1::int[]) AND ts >= " + sql::ts_param(2) + " AND ts < " + sql::ts_param(3) +
    " GROUP BY 1, 2";

std::string rollup_sql(const char* table) {
  return "SELECT series_id, " + sql::micros("bucket") + " / $4 AS ob, sum(count)::bigint, sum(sum), min(min), "
         "max(max), " + sql::micros("min(first_ts)") + ", (array_agg(first ORDER BY first_ts))[1], " +
         sql::micros("max(last_ts)") + ", (array_agg(last ORDER BY last_ts DESC))[1] FROM " + table +
         " WHERE series_id = ANY($1::int[]) AND bucket >= " + sql::ts_param(2) + " AND bucket < " +
         sql::ts_param(3) + " GROUP BY 1, 2";
}

}  // namespace

awaitable<AggregateResult> AggregateRepository::query(core::TenantId tenant, std::vector<core::SeriesKey> series,
                                                      core::Micros from, core::Micros to, core::Micros bucket) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    // One snapshot: the watermark and the rollups it describes agree.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
    w.exec("SET LOCAL statement_timeout = '30s'");
    const auto wm = w.exec("SELECT " + sql::micros("watermark") + " FROM rollup_state WHERE id = 1");
    const core::Micros watermark = wm.empty() ? from : wm[0][0].as<std::int64_t>();
    std::string asked = "{";
    for (const auto s : series) asked += (asked.size() > 1 ? "," : "") + std::to_string(s);
    asked += "}";
    // Only the tenant's series (row-level security on `series` is the second wall).
    const std::string ids =
        w.exec_params1("SELECT '{' || coalesce(string_agg(id::text, ','), '') || '}' FROM series "
                       "WHERE id = ANY($1::int[]) AND tenant_id = $2",
                       asked, tenant)[0]
            .as<std::string>();
    static const std::string m1 = rollup_sql("rollup_1m"), h1 = rollup_sql("rollup_1h");
    std::map<std::pair<core::SeriesKey, core::Micros>, analytics::Partial> merged;
    for (const analytics::Segment& seg : analytics::plan(from, to, bucket, watermark)) {
      const std::string& q = seg.source == analytics::Source::raw         ? kRawSql
                             : seg.source == analytics::Source::rollup_1m ? m1
                                                                          : h1;
      for (const auto& r : w.exec_params(q, ids, seg.from, seg.to, bucket)) {
        analytics::Partial p;
        p.count = r[2].as<std::int64_t>();
        p.sum = r[3].as<double>();
        p.min = r[4].as<double>();
        p.max = r[5].as<double>();
        p.first_ts = r[6].as<std::int64_t>();
        p.first = r[7].as<double>();
        p.last_ts = r[8].as<std::int64_t>();
        p.last = r[9].as<double>();
        merged[{r[0].as<core::SeriesKey>(), r[1].as<std::int64_t>() * bucket}].merge(p);
      }
    }
    AggregateResult out;
    for (const auto& [key, p] : merged) out[key.first].emplace_back(key.second, p);
    return out;
  });
}

awaitable<std::map<core::SeriesKey, std::vector<analytics::Sample>>> AggregateRepository::samples(
    core::TenantId tenant, std::vector<core::SeriesKey> series, core::Micros from, core::Micros to,
    core::Micros lookback) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
    w.exec("SET LOCAL statement_timeout = '30s'");
    std::map<core::SeriesKey, std::vector<analytics::Sample>> out;
    for (const core::SeriesKey s : series) {
      // Only the tenant's series (row-level security on `series` is the second wall).
      if (w.exec_params("SELECT 1 FROM series WHERE id = $1 AND tenant_id = $2", s, tenant).empty()) continue;
      auto& samples = out[s];
      const auto before = w.exec_params("SELECT " + sql::micros("ts") + ", value FROM readings_raw WHERE series_id = $1 "
                                        "AND ts >= " + sql::ts_param(2) + " AND ts < " + sql::ts_param(3) +
                                        " ORDER BY ts DESC LIMIT 1",
                                        s, from - lookback, from);
      if (!before.empty()) samples.push_back({before[0][0].as<std::int64_t>(), before[0][1].as<double>()});
      for (const auto& r : w.exec_params("SELECT " + sql::micros("ts") + ", value FROM readings_raw WHERE series_id = $1 "
                                         "AND ts >= " + sql::ts_param(2) + " AND ts < " + sql::ts_param(3) + " ORDER BY ts",
                                         s, from, to))
        samples.push_back({r[0].as<std::int64_t>(), r[1].as<double>()});
    }
    return out;
  });
}

}  // namespace peregrine::storage
