// Aggregates against the real servers: for random ranges and buckets, the
// answer served from the 1 h and 1 min rollups (raw at the edges and past
// the watermark) equals the same aggregate computed from raw rows; readings
// that arrive late correct the rollups they fall in; bad parameters are a
// 400 naming them.
#include <algorithm>
#include <cstdio>
#include <random>

#include <pqxx/pqxx>

#include <peregrine/core/time_format.hpp>

#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class AggregatesTest : public AlertingTest {
 protected:
  std::map<std::string, std::string> env() const {
    return {{"PEREGRINE_STORAGE_ROLLUP_EVERY_MS", "200"}, {"PEREGRINE_STORAGE_ROLLUP_LAG_MS", "500"}};
  }

  /// Publishes `n` readings of `metric` with random ts in [from_ms, to_ms) and random values.
  void publish_random(const std::string& dev, const std::string& metric, std::int64_t from_ms, std::int64_t to_ms,
                      int n) {
    std::uniform_int_distribution<std::int64_t> ts(from_ms, to_ms - 1);
    std::uniform_real_distribution<double> v(-50, 150);
    json batch = json::array();
    for (int i = 0; i < n; ++i) {
      batch.push_back({{"ts", ts(rng_)}, {metric, std::round(v(rng_) * 1000) / 1000}});
      if (batch.size() == 200 || i == n - 1) {
        mqtt().publish(telemetry_topic(dev), batch.dump());
        batch = json::array();
      }
    }
    sent_ += n;
  }

  /// The rollups have taken in everything older than `ms`.
  bool watermark_past(std::int64_t ms) {
    return eventually([&] {
      return db_->scalar("SELECT (extract(epoch from watermark) * 1000)::bigint FROM rollup_state") > ms;
    }, 20s);
  }

  /// count, sum, min, max, first, last per bucket from raw rows, keyed by bucket start (ms).
  std::map<std::int64_t, json> from_raw(const std::string& dev, const std::string& metric, std::int64_t from_ms,
                                        std::int64_t to_ms, std::int64_t bucket_ms) const {
    pqxx::connection c(db_->url());
    pqxx::work w(c);
    const auto r = w.exec_params(
        "SELECT floor(extract(epoch from ts) * 1000 / $5)::bigint * $5, count(*), sum(value), min(value), max(value), "
        "(array_agg(value ORDER BY ts))[1], (array_agg(value ORDER BY ts DESC))[1] FROM readings "
        "WHERE device_id = $1 AND metric = $2 AND ts >= to_timestamp($3 / 1000.0) AND ts < to_timestamp($4 / 1000.0) "
        "GROUP BY 1 ORDER BY 1",
        dev, metric, from_ms, to_ms, bucket_ms);
    std::map<std::int64_t, json> out;
    for (const auto& row : r)
      out[row[0].as<std::int64_t>()] = {{"count", row[1].as<std::int64_t>()}, {"sum", row[2].as<double>()},
                                        {"min", row[3].as<double>()},        {"max", row[4].as<double>()},
                                        {"first", row[5].as<double>()},      {"last", row[6].as<double>()}};
    return out;
  }

  /// The API's answer equals raw rows' for `cases` random ranges and buckets.
  void compare(const std::string& dev, const std::string& metric, std::int64_t lo_ms, std::int64_t hi_ms, int cases) {
    const std::vector<std::pair<std::string, std::int64_t>> buckets = {
        {"10s", 10'000}, {"1m", 60'000}, {"5m", 300'000}, {"15m", 900'000}, {"1h", 3'600'000}, {"2h", 7'200'000}};
    std::uniform_int_distribution<std::int64_t> t(lo_ms, hi_ms);
    std::uniform_int_distribution<std::size_t> pick(0, buckets.size() - 1);
    for (int i = 0; i < cases; ++i) {
      std::int64_t a = t(rng_), b = t(rng_);
      if (a > b) std::swap(a, b);
      if (b - a < 1000) b = a + 1000;
      const auto& [name, size] = buckets[pick(rng_)];
      if ((b - a) / size > 9000) continue;
      const std::string q = "/api/v1/devices/" + dev + "/aggregates?metric=" + metric + "&from=" + std::to_string(a) +
                            "&to=" + std::to_string(b) + "&bucket=" + name + "&fn=count,sum,min,max,first,last,avg";
      const auto r = get(q);
      ASSERT_EQ(r.status, 200) << q << " " << r.body;
      const json got = r.json();
      const auto want = from_raw(dev, metric, a, b, size);
      ASSERT_EQ(got["points"].size(), want.size()) << q << "\n" << r.body;
      for (const auto& p : got["points"]) {
        const std::int64_t ts = *core::parse_rfc3339(p["ts"].get<std::string>()) / 1000;
        const auto it = want.find(ts);
        ASSERT_NE(it, want.end()) << q << ": bucket " << p["ts"];
        const json& e = it->second;
        EXPECT_EQ(p["count"], e["count"]) << q << " @" << p["ts"];
        EXPECT_NEAR(p["sum"].get<double>(), e["sum"].get<double>(), 1e-6) << q << " @" << p["ts"];
        EXPECT_NEAR(p["avg"].get<double>(), e["sum"].get<double>() / e["count"].get<double>(), 1e-9) << q;
        EXPECT_EQ(p["min"], e["min"]) << q << " @" << p["ts"];
        EXPECT_EQ(p["max"], e["max"]) << q << " @" << p["ts"];
        EXPECT_EQ(p["first"], e["first"]) << q << " @" << p["ts"];
        EXPECT_EQ(p["last"], e["last"]) << q << " @" << p["ts"];
      }
      ++compared_;
    }
  }

  std::mt19937_64 rng_{20261202};
  int sent_ = 0;
  int compared_ = 0;
};

TEST_F(AggregatesTest, RollupAnswersEqualRawRowsAndLateReadingsCorrectThem) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("agg");
  const std::int64_t now = now_ms();
  const std::int64_t lo = now - 3 * 3'600'000 - 1234;  // three hours back, not aligned
  publish_random(dev, "co", lo, now - 600'000, 3000);
  ASSERT_TRUE(wait_rows(sent_, dev));
  ASSERT_TRUE(watermark_past(now));
  // Fresh readings stay past the watermark for a moment: read raw.
  publish_random(dev, "co", now_ms() - 200, now_ms() + 100, 20);
  ASSERT_TRUE(wait_rows(sent_, dev));
  EXPECT_GT(db_->scalar("SELECT count(*) FROM rollup_1h r JOIN series s ON s.id = r.series_id WHERE s.device_id = '" +
                        dev + "'"),
            1);
  compare(dev, "co", lo - 60'000, now_ms() + 1000, 40);

  // A device's buffered backlog lands in buckets already rolled up.
  publish_random(dev, "co", lo + 1'000'000, lo + 5'000'000, 500);
  ASSERT_TRUE(wait_rows(sent_, dev));
  EXPECT_GE(metric("peregrine_storage_rollup_late_rows_total"), 500);
  compare(dev, "co", lo - 60'000, now_ms() + 1000, 40);
  EXPECT_GE(compared_, 60);
  // The rollups themselves agree with the raw rows.
  EXPECT_EQ(db_->scalar("SELECT sum(count) FROM rollup_1m r JOIN series s ON s.id = r.series_id WHERE s.device_id = '" +
                        dev + "' AND r.bucket < date_trunc('minute', (SELECT watermark FROM rollup_state), 'UTC') - interval '1 minute'"),
            db_->scalar("SELECT count(*) FROM readings WHERE device_id = '" + dev +
                        "' AND ts < date_trunc('minute', (SELECT watermark FROM rollup_state), 'UTC') - interval '1 minute'"));
}

TEST_F(AggregatesTest, SeveralMetricsAutoBucketsFillAndErrors) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("agg-multi");
  const std::int64_t t0 = (now_ms() / 60'000 - 30) * 60'000;
  mqtt().publish(telemetry_topic(dev), json::array({{{"ts", t0 + 1000}, {"co", 1}, {"temp", 20}},
                                                    {{"ts", t0 + 2000}, {"co", 3}, {"temp", 22}},
                                                    {{"ts", t0 + 180'000}, {"co", 5}}})
                                           .dump());
  ASSERT_TRUE(wait_rows(5, dev));
  const std::string base = "/api/v1/devices/" + dev + "/aggregates?from=" + std::to_string(t0) +
                           "&to=" + std::to_string(t0 + 240'000);
  const auto multi = get(base + "&metric=co,temp&bucket=1m&fn=avg,count");
  ASSERT_EQ(multi.status, 200) << multi.body;
  const json m = multi.json();
  ASSERT_EQ(m["series"].size(), 2u);
  EXPECT_EQ(m["series"][0]["metric"], "co");
  EXPECT_EQ(m["series"][0]["points"].size(), 2u) << "empty buckets are left out";
  EXPECT_EQ(m["series"][0]["points"][0]["avg"], 2.0);
  EXPECT_EQ(m["series"][1]["points"][0]["count"], 2);
  EXPECT_FALSE(m["series"][0]["points"][0].contains("min")) << "only the asked fns";

  const auto filled = get(base + "&metric=co&bucket=1m&fill=null");
  ASSERT_EQ(filled.status, 200);
  const json f = filled.json();
  ASSERT_EQ(f["points"].size(), 4u);
  EXPECT_TRUE(f["points"][1]["avg"].is_null());

  const auto automatic = get(base + "&metric=co&bucket=auto&points=4");
  ASSERT_EQ(automatic.status, 200);
  EXPECT_EQ(automatic.json()["bucket"], "1m");

  const auto too_many = get("/api/v1/devices/" + dev + "/aggregates?metric=co&from=" + std::to_string(t0 - 86'400'000) +
                            "&to=" + std::to_string(t0) + "&bucket=1s");
  EXPECT_EQ(too_many.status, 400);
  EXPECT_NE(too_many.body.find("'bucket'"), std::string::npos) << too_many.body;
  EXPECT_EQ(get(base + "&metric=co&fn=median").status, 400);
  EXPECT_EQ(get(base + "&metric=co&bucket=7x").status, 400);
  EXPECT_EQ(get(base).status, 400);
  EXPECT_EQ(get("/api/v1/devices/no-such-device/aggregates?metric=co").status, 404);

  // A group's devices.
  const auto g = call("POST", "/api/v1/groups", json{{"name", "agg-" + tag_}, {"device_ids", {dev}}});
  ASSERT_EQ(g.status, 201) << g.body;
  const auto grouped = get("/api/v1/groups/" + std::to_string(g.json()["id"].get<std::int64_t>()) +
                           "/aggregates?metric=co&bucket=1h&from=" + std::to_string(t0) + "&to=" + std::to_string(t0 + 240'000));
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  const json gj = grouped.json();
  ASSERT_EQ(gj["series"].size(), 1u);
  EXPECT_EQ(gj["series"][0]["device"], dev);
  std::int64_t total = 0;
  for (const auto& p : gj["series"][0]["points"]) total += p["count"].get<std::int64_t>();
  EXPECT_EQ(total, 3);
}

TEST_F(AggregatesTest, RetentionTiersAndATenantsShorterOne) {
  ASSERT_TRUE(start_server(env()));
  const std::string mine = device("ret-mine"), other = device("ret-other");
  mqtt().publish(telemetry_topic(mine), json::array({{{"ts", now_ms()}, {"co", 1}}}).dump());
  ASSERT_TRUE(wait_rows(1, mine));
  const auto t = call("POST", "/api/v1/tenants", json{{"name", "ret-" + tag_}});
  ASSERT_EQ(t.status, 201) << t.body;
  const std::string tenant = std::to_string(t.json()["id"].get<std::int64_t>());
  // Another tenant's device and old rows of both, behind the server's back.
  db_->exec("SELECT peregrine_create_day_partition(d::date) FROM generate_series(now() - interval '6 days', now(), "
            "interval '1 day') d");
  db_->exec("SELECT peregrine_create_day_partition((now() - interval '400 days')::date)");
  db_->exec("INSERT INTO devices (id, tenant_id) VALUES ('" + other + "', " + tenant + ");"
            "INSERT INTO series (id, tenant_id, device_id, metric) VALUES (900001, " + tenant + ", '" + other + "', 'co')");
  const std::string sid = "(SELECT id FROM series WHERE device_id = '" + mine + "')";
  for (const std::string& series : {sid, std::string("900001")}) {
    db_->exec("INSERT INTO readings_raw VALUES (" + series + ", now() - interval '5 days', 7)");
    for (const char* age : {"5 days", "400 days"})
      for (const char* table : {"rollup_1m", "rollup_1h"})
        db_->exec(std::string("INSERT INTO ") + table + " VALUES (" + series + ", date_trunc('hour', now() - interval '" +
                  age + "'), 1, 7, 7, 7, now() - interval '" + age + "', 7, now() - interval '" + age + "', 7)");
  }
  const auto patched = call("PATCH", "/api/v1/tenants/1", json{{"retention", {{"raw_days", 2}, {"rollup_1m_days", 2}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["retention"], json({{"raw_days", 2}, {"rollup_1m_days", 2}, {"rollup_1h_days", nullptr}}));
  EXPECT_EQ(call("PATCH", "/api/v1/tenants/1", json{{"retention", {{"raw_days", 0}}}}).status, 422);
  EXPECT_EQ(call("PATCH", "/api/v1/tenants/1", json{{"retention", {{"forever", 1}}}}).status, 422);

  // Retention runs when the writer connects and once a day after.
  ASSERT_TRUE(server_->sigterm_and_wait().has_value());
  ASSERT_TRUE(start_server(env()));
  const auto count = [&](const std::string& table, const std::string& series, const std::string& column,
                         const std::string& older) {
    return db_->scalar("SELECT count(*) FROM " + table + " WHERE series_id = " + series + " AND " + column +
                       " < now() - interval '" + older + "'");
  };
  ASSERT_TRUE(eventually([&] { return count("readings_raw", sid, "ts", "4 days") == 0; }, 10s))
      << "the tenant's 2 days of raw rows";
  EXPECT_EQ(count("readings_raw", "900001", "ts", "4 days"), 1) << "another tenant keeps its rows";
  EXPECT_EQ(count("rollup_1m", sid, "bucket", "4 days"), 0) << "the tenant's 2 days of minutes";
  EXPECT_EQ(count("rollup_1m", "900001", "bucket", "4 days"), 1) << "the other tenant: the server's year";
  EXPECT_EQ(count("rollup_1m", "900001", "bucket", "399 days"), 0) << "past the server's year";
  EXPECT_EQ(count("rollup_1h", sid, "bucket", "399 days"), 1) << "hours are kept for ever";
  EXPECT_EQ(count("rollup_1h", "900001", "bucket", "399 days"), 1);
  EXPECT_EQ(db_->count_readings(mine), 1) << "today's reading stays";
  // The server's year of minutes went by dropping the partition, not by DELETE.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM pg_class WHERE relname = 'rollup_1m_p' || "
                        "to_char(now() - interval '400 days', 'YYYYMM')"),
            0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM pg_class WHERE relname = 'rollup_1h_p' || "
                        "to_char(now() - interval '400 days', 'YYYY')"),
            1);
}

/// The process's resident set in KiB (0 when it cannot be read).
std::int64_t rss_kib(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (!f) return 0;
  char line[256];
  std::int64_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

TEST_F(AggregatesTest, CsvExportStreamsAMillionRowsInFlatMemory) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("export");
  const std::int64_t t0 = (now_ms() / 1000 - 7200) * 1000;  // two hours back, a whole second
  mqtt().publish(telemetry_topic(dev), json::array({{{"ts", t0}, {"co", 1.5}}}).dump());
  ASSERT_TRUE(wait_rows(1, dev));
  // 999,999 more straight into the series, 5 ms apart (the writer's path is tested elsewhere).
  db_->exec("SELECT peregrine_create_day_partition(d::date) FROM generate_series(now() - interval '1 day', now(), "
            "interval '1 day') d");
  db_->exec("INSERT INTO readings_raw SELECT s.id, to_timestamp(" + std::to_string(t0) +
            " / 1000.0) + i * interval '5 ms', (i % 1000) / 8.0 FROM series s, generate_series(1, 999999) i "
            "WHERE s.device_id = '" + dev + "' AND s.metric = 'co'");
  const std::string from = std::to_string(t0), to = std::to_string(t0 + 5'000'000);
  const std::string target = "/api/v1/export/readings.csv?device=" + dev + "&metric=co&from=" + from + "&to=" + to;
  HttpClient http("127.0.0.1", server_->http_port());
  http.set_bearer(token_);

  // Warm up (first-use allocations), then measure the server while it streams.
  ASSERT_EQ(http.get_streamed(target, [](std::string_view) {}).status, 200);
  const pid_t pid = server_->pid();
  const std::int64_t before = rss_kib(pid);
  std::int64_t peak = before, lines = 0, pieces = 0, bytes = 0;
  std::string first_lines, tail;
  const auto r = http.get_streamed(target, [&](std::string_view piece) {
    bytes += static_cast<std::int64_t>(piece.size());
    lines += std::count(piece.begin(), piece.end(), '\n');
    if (first_lines.size() < 200) first_lines.append(piece.substr(0, 200));
    tail = (tail + std::string(piece)).substr(std::max<std::size_t>(tail.size() + piece.size(), 200) - 200);
    if (++pieces % 50 == 0) peak = std::max(peak, rss_kib(pid));
  }, 60s);
  peak = std::max(peak, rss_kib(pid));
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_EQ(r.header("content-type").rfind("text/csv", 0), 0u) << r.header("content-type");
  EXPECT_NE(r.header("content-disposition").find("attachment; filename=\"peregrine-" + dev + "-"), std::string::npos)
      << r.header("content-disposition");
  EXPECT_EQ(lines, 1'000'001) << "a header and one record per reading";
  EXPECT_EQ(first_lines.substr(0, first_lines.find('\n', first_lines.find('\n') + 1) + 1),
            "time,device_id,metric,value\r\n" + core::format_rfc3339(t0 * 1000) + "," + dev + ",co,1.5\r\n");
  EXPECT_NE(tail.find(core::format_rfc3339((t0 + 999'999 * 5) * 1000) + "," + dev + ",co,124.875\r\n"),
            std::string::npos) << tail;
  std::printf("[ figures  ] CSV export: %lld bytes in %lld pieces; server RSS %lld KiB before, %lld KiB at most during\n",
              static_cast<long long>(bytes), static_cast<long long>(pieces), static_cast<long long>(before),
              static_cast<long long>(peak));
  EXPECT_LT(peak - before, 16 * 1024) << "server RSS grew from " << before << " to " << peak << " KiB over " << bytes
                                      << " bytes of CSV";

  // Buckets instead of rows: the aggregates' answer (which equals raw rows' where
  // the rollups hold them: RollupAnswersEqualRawRows…; these rows went in behind
  // the writer's back, so the comparison is with the aggregates endpoint).
  std::string bucketed;
  const auto b = http.get_streamed(target + "&bucket=10m&fn=count,max", [&](std::string_view p) { bucketed += p; });
  ASSERT_EQ(b.status, 200) << b.error;
  ASSERT_EQ(bucketed.rfind("time,device_id,metric,count,max\r\n", 0), 0u) << bucketed.substr(0, 200);
  const auto agg = get("/api/v1/devices/" + dev + "/aggregates?metric=co&from=" + from + "&to=" + to +
                       "&bucket=10m&fn=count,max");
  ASSERT_EQ(agg.status, 200) << agg.body;
  std::string want = "time,device_id,metric,count,max\r\n";
  const json points = agg.json()["points"];
  ASSERT_FALSE(points.empty());
  for (const auto& p : points)
    want += p["ts"].get<std::string>() + "," + dev + ",co," + p["count"].dump() + "," + p["max"].dump() + "\r\n";
  EXPECT_EQ(bucketed, want);

  // Bad requests are problems, before any byte of CSV.
  EXPECT_EQ(get("/api/v1/export/readings.csv?metric=co").status, 400);
  EXPECT_EQ(get("/api/v1/export/readings.csv?device=" + dev + "&group=1").status, 400);
  EXPECT_EQ(get("/api/v1/export/readings.csv?device=no-such-device").status, 404);
  EXPECT_EQ(get(target + "&bucket=100ms").status, 400) << "more than 10,000 buckets per series";
  const auto none = get("/api/v1/export/readings.csv?device=" + dev + "&metric=nothing_here");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, "time,device_id,metric,value\r\n");
}

/// True when `/usr/bin/python3`'s XML parser accepts `svg` and its root is an <svg>.
bool parses_as_svg(const std::string& svg) {
  const std::string path = "/tmp/peregrine-chart-" + random_hex(8) + ".svg";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    std::fwrite(svg.data(), 1, svg.size(), f);
    std::fclose(f);
  }
  const std::string cmd = "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; "
                          "r = E.parse(sys.argv[1]).getroot(); sys.exit(0 if r.tag.endswith('svg') else 1)\" " + path;
  const int rc = std::system(cmd.c_str());
  std::remove(path.c_str());
  return rc == 0;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(AggregatesTest, ChartSvgParsesHoldsOnePointPerBucketAndIsCached) {
  ASSERT_TRUE(start_server(env()));
  const std::string dev = device("chart");
  const std::int64_t t0 = (now_ms() / 3'600'000 - 3) * 3'600'000;  // three whole hours back
  json batch = json::array();
  for (int m = 0; m < 120; ++m)
    if (m < 40 || m >= 60) batch.push_back({{"ts", t0 + m * 60'000 + 5000}, {"co", 10 + m % 7}});  // a 20-minute gap
  mqtt().publish(telemetry_topic(dev), batch.dump());
  ASSERT_TRUE(wait_rows(100, dev));
  create_rule(threshold_rule("CO chart " + tag_, "co", dev, {{"op", ">"}, {"value", 15}}));
  const std::string target = "/api/v1/devices/" + dev + "/chart.svg?metric=co&bucket=5m&from=" + std::to_string(t0) +
                             "&to=" + std::to_string(t0 + 2 * 3'600'000) + "&rules=true&title=Kitchen%20%3CCO%3E";
  const auto r = get(target);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "image/svg+xml");
  EXPECT_TRUE(parses_as_svg(r.body)) << r.body.substr(0, 400);
  // 24 five-minute buckets in two hours, four of them empty (the gap): 20 points, two runs.
  EXPECT_EQ(count_of(r.body, "class=\"point\""), 20u);
  EXPECT_EQ(count_of(r.body, "<path d="), 2u) << "a gap is drawn as a gap";
  EXPECT_EQ(count_of(r.body, "class=\"threshold\""), 1u);
  EXPECT_NE(r.body.find("Kitchen &lt;CO&gt;"), std::string::npos);
  const std::string etag = r.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_NE(r.header("cache-control").find("max-age"), std::string::npos) << "a past range may be cached";
  const auto again = authit::request(server_->http_port(), "GET", target,
                                     {{"Authorization", "Bearer " + token_}, {"If-None-Match", etag}}, "");
  EXPECT_EQ(again.status, 304);
  const auto bars = get(target + "&type=bar&theme=dark&width=400&height=200");
  ASSERT_EQ(bars.status, 200);
  EXPECT_TRUE(parses_as_svg(bars.body));
  EXPECT_EQ(count_of(bars.body, "<rect class=\"point\""), 20u);
  EXPECT_EQ(get(target + "&type=pie").status, 400);
  EXPECT_EQ(get(target + "&tz=Mars/Olympus").status, 400);
  const auto tz = get(target + "&tz=%2B02:00");
  ASSERT_EQ(tz.status, 200);
  EXPECT_TRUE(parses_as_svg(tz.body));
  EXPECT_EQ(get(target + "&tz=Europe/Berlin").status, 200);

  // The same chart as PNG (librsvg): a real image of the asked size, cached the same way.
  std::string png_target = target;
  png_target.replace(png_target.find("chart.svg"), 9, "chart.png");
  const auto png = get(png_target + "&width=640&height=240");
  ASSERT_EQ(png.status, 200) << png.body.substr(0, 200);
  EXPECT_EQ(png.header("content-type"), "image/png");
  ASSERT_GT(png.body.size(), 24u);
  EXPECT_EQ(png.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png.body[at + i]);
    return v;
  };
  EXPECT_EQ(be32(16), 640u) << "IHDR width";
  EXPECT_EQ(be32(20), 240u) << "IHDR height";
  EXPECT_GT(png.body.size(), 4000u) << "lines and text drawn, not a blank image";
  const auto png_again = authit::request(server_->http_port(), "GET", png_target + "&width=640&height=240",
                                         {{"Authorization", "Bearer " + token_}, {"If-None-Match", png.header("etag")}}, "");
  EXPECT_EQ(png_again.status, 304);
  EXPECT_NE(png.header("etag"), etag) << "the PNG and the SVG are different representations";
}

}  // namespace
}  // namespace peregrine::test
