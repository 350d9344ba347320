// Aggregates of any range (CONTRACT.md "aggregates"): per output bucket,
// from the coarsest rollup that gives the raw rows' answer, raw rows at the
// edges and past the rollups' watermark (storage::AggregateRepository);
// CSV export of raw rows (from a cursor) or of buckets, streamed.

#include <peregrine/analytics/aggregate.hpp>
#include <peregrine/analytics/svg_chart.hpp>
#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/offload.hpp>
#include <peregrine/render/png.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/aggregate_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"
#include "api/params.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
namespace an = peregrine::analytics;

namespace {

[[noreturn]] void bad(const std::string& detail) { throw http::Problem(400, "Bad Request", detail); }

std::string duration_text(core::Micros d) {
  for (const auto& [unit, size] : {std::pair{"d", an::kDay}, std::pair{"h", an::kHour}, std::pair{"m", an::kMinute},
                                   std::pair{"s", an::kSecond}, std::pair{"ms", core::Micros{1000}}}) {
    if (d % size == 0) return std::to_string(d / size) + unit;
  }
  return std::to_string(d) + "us";
}

struct Request {
  std::vector<std::string> metrics;
  core::Micros from = 0, to = 0, bucket = 0;
  std::vector<an::Fn> fns;
  bool fill_null = false;
};

/// At most 10,000 buckets of `r.bucket` over the range (a 400 naming
/// `bucket` otherwise); `fn` into `r.fns`.
void check_buckets_and_fns(const http::Request& req, Request& r) {
  const core::Micros first = an::floor_to(r.from, r.bucket);
  const auto buckets = static_cast<std::size_t>((r.to - first + r.bucket - 1) / r.bucket);
  if (buckets > an::kMaxBuckets)
    bad("'bucket' " + duration_text(r.bucket) + " gives " + std::to_string(buckets) +
        " buckets over this range; at most 10000: choose a larger bucket or a shorter range");
  const auto fns = an::parse_fns(req.q("fn").value_or("avg,min,max,count"));
  if (!fns) bad("'fn' must be a comma-separated list of avg, min, max, count, sum, first, last");
  r.fns = *fns;
}

Request parse(const http::Request& req, std::size_t default_points = 500) {
  Request r;
  const auto metric = req.q("metric");
  if (!metric || metric->empty()) bad("query parameter 'metric' is required (one or more, comma-separated)");
  std::string_view list = *metric;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view m = list.substr(0, comma);
    if (!core::valid_metric_name(m)) bad("'metric' must be metric names [A-Za-z0-9_]{1,64}, comma-separated");
    if (std::find(r.metrics.begin(), r.metrics.end(), m) == r.metrics.end()) r.metrics.emplace_back(m);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (r.metrics.size() > 20) bad("'metric' names at most 20 metrics");
  const TimeRange range = parse_range(req);
  r.from = range.from_us;
  r.to = range.to_us;
  const std::string_view bucket = req.q("bucket").value_or("auto");
  if (bucket == "auto") {
    std::size_t points = default_points;
    if (const auto p = req.q("points")) {
      const auto n = int_query(req, "points");
      if (!n || *n > static_cast<std::int64_t>(an::kMaxBuckets)) bad("'points' must be 1 to 10000");
      points = static_cast<std::size_t>(*n);
    }
    r.bucket = an::auto_bucket(r.to - r.from, points);
  } else {
    const auto b = an::parse_duration(bucket);
    if (!b) bad("'bucket' must be a duration such as 10s, 5m, 1h, 1d, or auto");
    r.bucket = *b;
  }
  check_buckets_and_fns(req, r);
  const std::string_view fill = req.q("fill").value_or("none");
  if (fill != "none" && fill != "null") bad("'fill' must be none or null");
  r.fill_null = fill == "null";
  return r;
}

json value_of(an::Fn f, const an::Partial& p) {
  switch (f) {
    case an::Fn::avg: return p.sum / static_cast<double>(p.count);
    case an::Fn::min: return p.min;
    case an::Fn::max: return p.max;
    case an::Fn::count: return p.count;
    case an::Fn::sum: return p.sum;
    case an::Fn::first: return p.first;
    case an::Fn::last: return p.last;
  }
  return nullptr;
}

json points_json(const Request& r, const std::vector<std::pair<core::Micros, an::Partial>>* rows) {
  json points = json::array();
  const auto emit = [&](core::Micros ts, const an::Partial* p) {
    json pt = {{"ts", core::format_rfc3339(ts)}};
    for (an::Fn f : r.fns) pt[std::string(an::to_string(f))] = p ? value_of(f, *p) : json(nullptr);
    points.push_back(std::move(pt));
  };
  std::size_t i = 0;
  if (r.fill_null) {
    for (core::Micros ts = an::floor_to(r.from, r.bucket); ts < r.to; ts += r.bucket) {
      if (rows && i < rows->size() && (*rows)[i].first == ts) {
        emit(ts, &(*rows)[i].second);
        ++i;
      } else {
        emit(ts, nullptr);
      }
    }
  } else if (rows) {
    for (const auto& [ts, p] : *rows) emit(ts, &p);
  }
  return points;
}

json series_json(const Request& r, const std::string& metric, const storage::AggregateResult& result,
                 std::optional<core::SeriesKey> key) {
  const auto it = key ? result.find(*key) : result.end();
  return {{"metric", metric},
          {"bucket", duration_text(r.bucket)},
          {"points", points_json(r, it == result.end() ? nullptr : &it->second)}};
}

awaitable<http::Response> device_aggregates(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.registry, req);
  const Request r = parse(req);
  std::vector<std::optional<core::SeriesKey>> keys;
  std::vector<core::SeriesKey> wanted;
  for (const auto& m : r.metrics) {
    keys.push_back(series_key(dev, m));
    if (keys.back()) wanted.push_back(*keys.back());
  }
  const core::TenantId tenant = dev.rec.tenant;
  const storage::AggregateResult result =
      co_await ctx.repos.aggregates.query(tenant, std::move(wanted), r.from, r.to, r.bucket);
  if (r.metrics.size() == 1) co_return http::json_response(req.raw, 200, series_json(r, r.metrics[0], result, keys[0]));
  json series = json::array();
  for (std::size_t i = 0; i < r.metrics.size(); ++i) series.push_back(series_json(r, r.metrics[i], result, keys[i]));
  co_return http::json_response(req.raw, 200, {{"series", std::move(series)}});
}

awaitable<http::Response> group_aggregates(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t group = id_param(req);
  take(co_await ctx.repos.groups.get(tenant, group));  // 404 unless the tenant's
  const Request r = parse(req);
  struct Item {
    std::string device, metric;
    std::optional<core::SeriesKey> key;
  };
  std::vector<Item> items;
  std::vector<core::SeriesKey> wanted;
  for (const devices::Device* d : ctx.registry.members(tenant, group)) {
    for (const auto& m : r.metrics) {
      items.push_back({d->rec.id, m, series_key(*d, m)});
      if (items.back().key) wanted.push_back(*items.back().key);
    }
  }
  const auto buckets = static_cast<std::size_t>((r.to - an::floor_to(r.from, r.bucket)) / r.bucket + 1);
  if (items.size() > 10'000 || items.size() * buckets > 1'000'000)
    bad("'bucket' gives " + std::to_string(items.size()) + " series × " + std::to_string(buckets) +
        " buckets; at most 1,000,000 points per call: choose a larger bucket, a shorter range or fewer metrics");
  const storage::AggregateResult result =
      co_await ctx.repos.aggregates.query(tenant, std::move(wanted), r.from, r.to, r.bucket);
  json series = json::array();
  for (const auto& it : items) {
    json s = series_json(r, it.metric, result, it.key);
    s["device"] = it.device;
    series.push_back(std::move(s));
  }
  co_return http::json_response(req.raw, 200, {{"series", std::move(series)}});
}

int int_in(const http::Request& req, const char* name, int fallback, int lo, int hi) {
  const auto v = int_query(req, name);
  if (!v) return fallback;
  if (*v < lo || *v > hi) bad(std::string("'") + name + "' must be " + std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(*v);
}

struct SvgJob {
  const an::ChartSpec* spec;
  std::string operator()() const { return an::render_svg(*spec); }
};
struct PngJob {
  const std::string* svg;
  int width, height;
  std::string operator()() const { return render::svg_to_png(*svg, width, height); }
};

/// chart.svg, or chart.png drawn from the same SVG by librsvg.
awaitable<http::Response> device_chart(AlertingContext& ctx, http::Request& req, bool png) {
  const devices::Device& dev = require_device(ctx.registry, req);
  an::ChartSpec spec;
  spec.width = int_in(req, "width", 800, 200, 4000);
  spec.height = int_in(req, "height", 300, 100, 2000);
  const Request r = parse(req, static_cast<std::size_t>(spec.width / 3));
  const std::string_view type = req.q("type").value_or("line");
  if (type != "line" && type != "bar") bad("'type' must be line or bar");
  spec.bars = type == "bar";
  const std::string_view theme = req.q("theme").value_or("light");
  if (theme != "light" && theme != "dark") bad("'theme' must be light or dark");
  spec.dark = theme == "dark";
  const auto zone = an::Zone::parse(req.q("tz").value_or("UTC"));
  if (!zone) bad("'tz' must be UTC, a fixed offset such as +02:00, or an IANA time zone such as Europe/Berlin");
  spec.zone = *zone;
  spec.title = std::string(req.q("title").value_or(""));
  spec.unit = std::string(req.q("unit").value_or(""));
  if (spec.title.size() > 200 || spec.unit.size() > 40) bad("'title' (200) or 'unit' (40 characters) too long");
  spec.from = r.from;
  spec.to = r.to;
  spec.bucket = r.bucket;
  std::vector<std::optional<core::SeriesKey>> keys;
  std::vector<core::SeriesKey> wanted;
  for (const auto& m : r.metrics) {
    keys.push_back(series_key(dev, m));
    if (keys.back()) wanted.push_back(*keys.back());
  }
  if (req.q("rules").value_or("false") == "true") {
    // Threshold lines of the rules that apply to this device's metrics.
    ctx.engine.for_each_rule([&](const rules::Rule& rule) {
      if (rule.tenant != dev.rec.tenant || rule.kind != rules::Kind::threshold) return;
      if (std::find(r.metrics.begin(), r.metrics.end(), rule.metric) == r.metrics.end()) return;
      const auto& sc = rule.scope;
      const bool applies = sc.type == rules::Scope::Type::all ||
                           (sc.type == rules::Scope::Type::device && sc.device == dev.rec.id) ||
                           (sc.type == rules::Scope::Type::group &&
                            std::find(dev.rec.group_ids.begin(), dev.rec.group_ids.end(), sc.group) !=
                                dev.rec.group_ids.end());
      if (!applies) return;
      const auto& p = std::get<rules::ThresholdParams>(rule.params);
      spec.thresholds.push_back({p.value, rule.name + " (" + rule.metric + " " + std::string(rules::to_string(p.op)) +
                                              " " + json(p.value).dump() + ")"});
    });
  }
  const core::TenantId tenant = dev.rec.tenant;
  const storage::AggregateResult result =
      co_await ctx.repos.aggregates.query(tenant, std::move(wanted), r.from, r.to, r.bucket);
  for (std::size_t i = 0; i < r.metrics.size(); ++i) {
    an::ChartSeries series{r.metrics[i], {}};
    if (keys[i]) {
      if (const auto it = result.find(*keys[i]); it != result.end())
        for (const auto& [ts, p] : it->second)
          series.points.push_back({ts, p.sum / static_cast<double>(p.count), p.min, p.max});
    }
    spec.series.push_back(std::move(series));
  }
  // No co_await inside ?: (GCC 12 miscompiles it).
  std::string svg;
  if (ctx.render)
    svg = co_await core::offload<std::string>(*ctx.render, SvgJob{&spec});
  else
    svg = an::render_svg(spec);
  // A strong validator of exactly these bytes (FNV-1a); the PNG is a function of the SVG.
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : svg) h = (h ^ c) * 1099511628211ULL;
  char etag[32];
  std::snprintf(etag, sizeof etag, png ? "\"%016llx-png\"" : "\"%016llx\"", static_cast<unsigned long long>(h));
  const bool past = r.to < core::SystemClock().now_us() - an::kMinute;
  const char* content_type = png ? "image/png" : "image/svg+xml";
  const auto inm = req.raw.find(bhttp::field::if_none_match);
  if (inm != req.raw.end() && inm->value() == etag) {
    http::Response res = http::text_response(req.raw, 304, "", content_type);
    res.set(bhttp::field::etag, etag);
    res.set(bhttp::field::cache_control, past ? "private, max-age=300" : "private, no-cache");
    co_return res;
  }
  std::string body = std::move(svg);
  if (png) {
    const std::string drawn = std::move(body);
    const PngJob job{&drawn, spec.width, spec.height};
    if (ctx.render)
      body = co_await core::offload<std::string>(*ctx.render, job);
    else
      body = job();
  }
  http::Response res = http::text_response(req.raw, 200, std::move(body), content_type);
  res.set(bhttp::field::etag, etag);
  // A past range changes only when late readings land in it.
  res.set(bhttp::field::cache_control, past ? "private, max-age=300" : "private, no-cache");
  co_return res;
}

// --- CSV export ---------------------------------------------------------

constexpr std::size_t kExportRows = 8192;  // records per chunk: ~400 KB

/// `20261201T000000Z` for a file name.
std::string compact_time(core::Micros ts) {
  std::string t = core::format_rfc3339(an::floor_to(ts, an::kSecond));
  if (const auto dot = t.find('.'); dot != std::string::npos) t.erase(dot, t.size() - 1 - dot);  // keep the Z
  std::erase_if(t, [](char c) { return c == '-' || c == ':'; });
  return t;
}

/// Raw rows, from the export cursor piece by piece.
struct RawCsv {
  storage::ExportRepository* repo;
  std::shared_ptr<storage::ExportRepository::Cursor> cursor;
  bool header_sent = false;
  awaitable<std::string> operator()() {
    if (!header_sent) {
      header_sent = true;
      co_return "time,device_id,metric,value\r\n";
    }
    if (!cursor) co_return "";
    std::string piece = co_await repo->next(*cursor, kExportRows);
    if (piece.empty()) cursor.reset();  // closes it now, not when the connection goes
    co_return piece;
  }
};

/// Aggregated rows: one series' buckets per piece (at most 10,000 rows).
struct BucketCsv {
  storage::AggregateRepository* repo;
  core::TenantId tenant;
  std::vector<storage::ExportRepository::Series> series;
  Request r;
  std::size_t at = 0;
  bool header_sent = false;
  awaitable<std::string> operator()() {
    std::string out;
    if (!header_sent) {
      header_sent = true;
      out = "time,device_id,metric";
      for (an::Fn f : r.fns) (out += ',') += an::to_string(f);
      co_return out + "\r\n";
    }
    while (out.empty() && at < series.size()) {
      const auto& s = series[at++];
      std::vector<core::SeriesKey> one{s.key};
      const storage::AggregateResult result = co_await repo->query(tenant, std::move(one), r.from, r.to, r.bucket);
      const auto it = result.find(s.key);
      if (it == result.end()) continue;
      for (const auto& [ts, p] : it->second) {
        core::append_rfc3339(out, ts);
        ((((out += ',') += s.device) += ',') += s.metric);
        for (an::Fn f : r.fns) (out += ',') += value_of(f, p).dump();
        out += "\r\n";
      }
    }
    co_return out;
  }
};

awaitable<http::Response> export_readings(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const auto device = req.q("device");
  const auto group = req.q("group");
  if (!device == !group) bad("give one of 'device' (a device id) or 'group' (a group id)");
  std::vector<const devices::Device*> devs;
  std::string subject;
  if (device) {
    const std::string id(*device);
    const devices::Device* d = core::valid_device_id(id) ? ctx.registry.find(id) : nullptr;
    if (!d || d->rec.tenant != tenant) throw http::Problem(404, "Not Found", "no device '" + id + "'");
    devs.push_back(d);
    subject = id;
  } else {
    const auto gid = int_query(req, "group");
    if (!gid) bad("'group' must be a group id");
    take(co_await ctx.repos.groups.get(tenant, *gid));  // 404 unless the tenant's
    for (const devices::Device* d : ctx.registry.members(tenant, *gid)) devs.push_back(d);
    std::sort(devs.begin(), devs.end(), [](auto* a, auto* b) { return a->rec.id < b->rec.id; });
    subject = "group-" + std::to_string(*gid);
  }
  std::vector<std::string> metrics;  // empty: every metric
  if (const auto m = req.q("metric"); m && !m->empty()) {
    for (std::string_view list = *m; !list.empty();) {
      const auto comma = list.find(',');
      const std::string_view one = list.substr(0, comma);
      if (!core::valid_metric_name(one)) bad("'metric' must be metric names [A-Za-z0-9_]{1,64}, comma-separated");
      metrics.emplace_back(one);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  std::vector<storage::ExportRepository::Series> series;
  for (const devices::Device* d : devs) {
    std::vector<const devices::Series*> mine;
    for (const auto& s : d->series)
      if (metrics.empty() || std::find(metrics.begin(), metrics.end(), s.metric) != metrics.end()) mine.push_back(&s);
    std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->metric < b->metric; });
    for (const auto* s : mine) series.push_back({s->key, d->rec.id, s->metric});
  }
  const TimeRange range = parse_range(req);
  http::Response res = http::text_response(req.raw, 200, "", "text/csv; charset=utf-8; header=present");
  res.set(bhttp::field::content_disposition, "attachment; filename=\"peregrine-" + subject + "-" +
                                                 compact_time(range.from_us) + "-" + compact_time(range.to_us) +
                                                 ".csv\"");
  res.set(bhttp::field::cache_control, "no-store");
  if (const auto b = req.q("bucket")) {
    Request r;
    r.from = range.from_us;
    r.to = range.to_us;
    const auto size = an::parse_duration(*b);
    if (!size) bad("'bucket' must be a duration such as 10s, 5m, 1h, 1d");
    r.bucket = *size;
    check_buckets_and_fns(req, r);
    req.stream = BucketCsv{&ctx.repos.aggregates, tenant, std::move(series), std::move(r)};
    co_return res;
  }
  auto cursor = co_await ctx.repos.exports.open(tenant, std::move(series), range.from_us, range.to_us);
  req.stream = RawCsv{&ctx.repos.exports, std::move(cursor)};
  co_return res;
}

}  // namespace

void add_chart_routes(http::Router& router, AlertingContext& ctx) {
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/chart.svg", http::Access::viewer,
             [&ctx](http::Request& req) { return device_chart(ctx, req, false); });
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/chart.png", http::Access::viewer,
             [&ctx](http::Request& req) { return device_chart(ctx, req, true); });
}

void add_aggregate_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/aggregates", http::Access::viewer,
             bind(ctx, device_aggregates));
  router.add(bhttp::verb::get, "/api/v1/groups/{id}/aggregates", http::Access::viewer,
             bind(ctx, group_aggregates));
  router.add(bhttp::verb::get, "/api/v1/export/readings.csv", http::Access::viewer, bind(ctx, export_readings));
}

}  // namespace peregrine::api
