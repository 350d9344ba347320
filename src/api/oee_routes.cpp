// Shift calendars (`/shifts`) and OEE per machine and per line
// (CONTRACT.md "analytics", "shifts"): the arithmetic is analytics/oee.hpp,
// the samples come raw from storage::AggregateRepository::samples.

#include <peregrine/analytics/oee.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/shift_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"
#include "api/params.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
namespace an = peregrine::analytics;

namespace {

constexpr core::Micros kDayUs = 86'400'000'000;
constexpr core::Micros kMaxRange = 31 * kDayUs;  // OEE reads raw samples
constexpr core::Micros kLookback = 7 * kDayUs;   // for the state and counters a range starts with

[[noreturn]] void bad(const std::string& detail) { throw http::Problem(400, "Bad Request", detail); }

// ---- shifts ----

json shift_json(const storage::ShiftRow& r) {
  const an::Shift& s = r.shift;
  json days = json::array();
  for (int d = 1; d <= 7; ++d)
    if (s.weekdays & (1u << d)) days.push_back(d);
  json breaks = json::array();
  for (const auto& [a, b] : s.breaks) breaks.push_back({{"start", an::format_clock(a)}, {"end", an::format_clock(b)}});
  return {{"id", s.id},
          {"name", s.name},
          {"start", an::format_clock(s.start_min)},
          {"end", an::format_clock(s.end_min)},
          {"weekdays", std::move(days)},
          {"tz", s.tz},
          {"breaks", std::move(breaks)},
          {"group", r.group ? json(r.group) : json(nullptr)},
          {"created_at", core::format_rfc3339(r.created_at)},
          {"updated_at", core::format_rfc3339(r.updated_at)}};
}

int clock_member(const json& body, const char* key, bool end) {
  const auto it = body.find(key);
  const auto m = it != body.end() && it->is_string() ? an::parse_clock(it->get_ref<const std::string&>()) : std::nullopt;
  if (!m || (!end && *m == 24 * 60)) unprocessable(std::string("'") + key + "' must be a local time HH:MM");
  return *m;
}

/// Applies the members present in `body` to `row` (all of them for a new
/// shift), then checks the whole shift.
void apply_shift(storage::ShiftRow& row, const json& body, bool create) {
  an::Shift& s = row.shift;
  for (const char* key : {"name", "start", "end", "tz"})
    if (create && !body.contains(key)) unprocessable(std::string("'") + key + "' is required");
  if (body.contains("name")) {
    s.name = string_field(body, "name", true).value_or("");
    if (s.name.empty() || s.name.size() > 100) unprocessable("'name' must be 1 to 100 characters");
  }
  if (body.contains("start")) s.start_min = clock_member(body, "start", false);
  if (body.contains("end")) s.end_min = clock_member(body, "end", true);
  if (body.contains("tz")) {
    s.tz = string_field(body, "tz", true).value_or("");
    if (!an::valid_time_zone(s.tz)) unprocessable("'tz' must be an IANA time zone such as Europe/Berlin");
  }
  if (const auto it = body.find("weekdays"); it != body.end()) {
    if (!it->is_array() || it->empty()) unprocessable("'weekdays' must be a non-empty array of 1 (Monday) to 7 (Sunday)");
    s.weekdays = 0;
    for (const auto& d : *it) {
      if (!d.is_number_integer() || d.get<int>() < 1 || d.get<int>() > 7)
        unprocessable("'weekdays' must be a non-empty array of 1 (Monday) to 7 (Sunday)");
      s.weekdays |= 1u << d.get<int>();
    }
  } else if (create) {
    s.weekdays = 0b11111110;  // every day
  }
  if (const auto it = body.find("group"); it != body.end()) {
    if (it->is_null())
      row.group = 0;
    else if (!it->is_number_integer() || it->get<std::int64_t>() <= 0)
      unprocessable("'group' must be a group id or null (the tenant's calendar)");
    else
      row.group = it->get<std::int64_t>();
  }
  if (const auto it = body.find("breaks"); it != body.end()) {
    if (!it->is_array() || it->size() > 10) unprocessable("'breaks' must be an array of at most 10 {start, end}");
    s.breaks.clear();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& b = (*it)[i];
      if (!b.is_object()) unprocessable("'breaks[" + std::to_string(i) + "]' must be {\"start\", \"end\"}");
      s.breaks.emplace_back(clock_member(b, "start", false), clock_member(b, "end", true));
    }
  }
  // Minutes after the shift's start: breaks must lie inside the shift.
  const auto rel = [&](int m) { return ((m - s.start_min) % 1440 + 1440) % 1440; };
  const int length = s.end_min == s.start_min ? 1440 : rel(s.end_min) == 0 ? 1440 : rel(s.end_min);
  for (std::size_t i = 0; i < s.breaks.size(); ++i) {
    const int a = rel(s.breaks[i].first), b = rel(s.breaks[i].second) == 0 ? 1440 : rel(s.breaks[i].second);
    if (a >= b || b > length)
      unprocessable("'breaks[" + std::to_string(i) + "]' must lie inside the shift (" + an::format_clock(s.start_min) +
                    "–" + an::format_clock(s.end_min) + ")");
  }
}

awaitable<http::Response> list_shifts(Context& ctx, http::Request& req) {
  const auto group = int_query(req, "group");
  const auto rows = co_await ctx.repos.shifts.list(caller_tenant(req), group.value_or(0));
  json items = json::array();
  for (const auto& r : rows) items.push_back(shift_json(r));
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> get_shift(Context& ctx, http::Request& req) {
  const auto row = take(co_await ctx.repos.shifts.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, shift_json(row));
}

awaitable<http::Response> create_shift(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  storage::ShiftRow row;
  apply_shift(row, body, true);
  storage::AuditEntry audit = audit_by(req, tenant, "shift.create", "", body);
  const auto stored = take(co_await ctx.repos.shifts.create(tenant, std::move(row), std::move(audit)));
  co_return http::json_response(req.raw, 201, shift_json(stored));
}

awaitable<http::Response> patch_shift(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::ShiftRow row = take(co_await ctx.repos.shifts.get(tenant, id));
  apply_shift(row, body, false);
  storage::AuditEntry audit = audit_by(req, tenant, "shift.update", "shift:" + std::to_string(id), body);
  const auto stored = take(co_await ctx.repos.shifts.update(tenant, id, std::move(row), std::move(audit)));
  co_return http::json_response(req.raw, 200, shift_json(stored));
}

awaitable<http::Response> delete_shift(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "shift.delete", "shift:" + std::to_string(id));
  take(co_await ctx.repos.shifts.remove(tenant, id, std::move(audit)));
  co_return http::text_response(req.raw, 204, "", "application/json");
}

// ---- OEE ----

struct OeeQuery {
  std::string state = "state", good = "count_good", total = "count_total";
  double running = 1, ideal_rate = 0;
  core::Micros max_gap = 0, from = 0, to = 0;
  std::string by = "none", tz = "UTC";
};

std::string metric_param(const http::Request& req, const char* name, const std::string& fallback) {
  const std::string m(req.q(name).value_or(fallback));
  if (!core::valid_metric_name(m)) bad(std::string("'") + name + "' must be a metric name [A-Za-z0-9_]{1,64}");
  return m;
}

double number_param(const http::Request& req, const char* name, std::optional<double> fallback) {
  const auto v = req.q(name);
  if (!v) {
    if (!fallback) bad(std::string("'") + name + "' is required");
    return *fallback;
  }
  try {
    std::size_t used = 0;
    const double d = std::stod(std::string(*v), &used);
    if (used == v->size() && std::isfinite(d)) return d;
  } catch (const std::exception&) {
  }
  bad(std::string("'") + name + "' must be a number");
}

OeeQuery parse_oee(const http::Request& req) {
  OeeQuery q;
  q.state = metric_param(req, "state_metric", q.state);
  q.good = metric_param(req, "good", q.good);
  q.total = metric_param(req, "total", q.total);
  q.running = number_param(req, "running", 1.0);
  q.ideal_rate = number_param(req, "ideal_rate", std::nullopt);
  if (q.ideal_rate <= 0) bad("'ideal_rate' must be units per hour at the ideal cycle time, above 0");
  if (const auto g = req.q("max_gap")) {
    const auto d = an::parse_duration(*g);
    if (!d) bad("'max_gap' must be a duration such as 5m");
    q.max_gap = *d;
  }
  const TimeRange range = parse_range(req);
  q.from = range.from_us;
  q.to = range.to_us;
  if (q.to - q.from > kMaxRange) bad("'from' and 'to' may be at most 31 days apart");
  q.by = std::string(req.q("by").value_or("none"));
  if (q.by != "none" && q.by != "shift" && q.by != "day") bad("'by' must be shift, day or none");
  q.tz = std::string(req.q("tz").value_or("UTC"));
  if (!an::valid_time_zone(q.tz)) bad("'tz' must be an IANA time zone such as Europe/Berlin");
  return q;
}

/// One reported row and the planned stretches it sums.
struct Row {
  an::Period period;
  std::vector<an::Period> parts;
};

/// The rows to report and the whole range's planned time (its own, not the
/// rows' sum: overlapping shifts are rows of their own but count once).
struct Plan {
  std::vector<Row> rows;
  std::vector<an::Period> overall;
};

Plan plan_rows(const OeeQuery& q, const std::vector<an::Shift>& shifts) {
  // Planned time ends now: a shift under way counts so far, later ones not yet.
  const core::Micros end = std::min(q.to, core::SystemClock().now_us());
  const auto planned = [&](core::Micros from, core::Micros to) {
    if (!shifts.empty()) return an::planned_union(an::shift_periods(shifts, from, to));
    std::vector<an::Period> all;
    if (from < to) all.emplace_back().span = {from, to};  // no calendar: planned around the clock
    return all;
  };
  Plan plan;
  if (q.by == "shift") {
    if (shifts.empty())
      unprocessable("no shift calendar applies (POST /api/v1/shifts for the group or the tenant), or use by=day");
    for (an::Period& p : an::shift_periods(shifts, q.from, end)) plan.rows.push_back({p, {p}});
  } else if (q.by == "day") {
    for (an::Period& d : an::day_periods(q.tz, q.from, end))
      plan.rows.push_back({d, planned(d.span.from, d.span.to)});
  } else if (q.from < end) {
    an::Period whole;
    whole.label = "total";
    whole.span = {q.from, end};
    plan.rows.push_back({whole, planned(q.from, end)});
  }
  plan.overall = planned(q.from, end);
  return plan;
}

/// The machine's totals for each row, and last for the whole range.
awaitable<std::vector<an::Totals>> machine_rows(Context& ctx, const devices::Device& dev, const OeeQuery& q,
                                                const Plan& plan) {
  const std::optional<core::SeriesKey> keys[3] = {series_key(dev, q.state), series_key(dev, q.good), series_key(dev, q.total)};
  std::vector<core::SeriesKey> wanted;
  for (const auto& k : keys)
    if (k) wanted.push_back(*k);
  const core::TenantId tenant = dev.rec.tenant;
  auto samples = co_await ctx.repos.aggregates.samples(tenant, std::move(wanted), q.from, q.to, kLookback);
  an::MachineData m;
  const auto take_samples = [&](const std::optional<core::SeriesKey>& k, std::vector<an::Sample>& into) {
    if (!k) return;
    if (auto it = samples.find(*k); it != samples.end()) into = std::move(it->second);
  };
  take_samples(keys[0], m.state);
  take_samples(keys[1], m.good);
  take_samples(keys[2], m.total);
  m.running = q.running;
  m.max_gap = q.max_gap;
  m.ideal_rate_per_hour = q.ideal_rate;
  m.until = std::min(q.to, core::SystemClock().now_us());
  std::vector<an::Period> flat;
  for (const Row& r : plan.rows) flat.insert(flat.end(), r.parts.begin(), r.parts.end());
  flat.insert(flat.end(), plan.overall.begin(), plan.overall.end());
  const auto per_part = an::machine_totals(m, flat);
  std::vector<an::Totals> out(plan.rows.size() + 1);
  std::size_t at = 0;
  for (std::size_t i = 0; i < plan.rows.size(); ++i)
    for (std::size_t j = 0; j < plan.rows[i].parts.size(); ++j) out[i] += per_part[at++];
  for (; at < per_part.size(); ++at) out.back() += per_part[at];
  co_return out;
}

json factors_json(const an::Totals& t) {
  const an::Factors f = an::factors(t);
  const auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"availability", opt(f.availability)},
          {"performance", opt(f.performance)},
          {"quality", opt(f.quality)},
          {"oee", opt(f.oee)},
          {"planned_s", static_cast<double>(t.planned) / 1e6},
          {"run_s", static_cast<double>(t.run) / 1e6},
          {"downtime_s", static_cast<double>(t.planned - t.run) / 1e6},
          {"total_count", t.total},
          {"good_count", t.good}};
}

/// `totals`: one per row, then the whole range's.
json oee_json(const OeeQuery& q, const std::vector<Row>& rows, const std::vector<an::Totals>& totals) {
  json items = json::array();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    json r = factors_json(totals[i]);
    r["label"] = rows[i].period.label;
    r["from"] = core::format_rfc3339(rows[i].period.span.from);
    r["to"] = core::format_rfc3339(rows[i].period.span.to);
    if (rows[i].period.shift_id) r["shift"] = rows[i].period.shift_id;
    items.push_back(std::move(r));
  }
  json out = factors_json(totals.back());
  out["from"] = core::format_rfc3339(q.from);
  out["to"] = core::format_rfc3339(q.to);
  out["by"] = q.by;
  out["metrics"] = {{"state", q.state}, {"good", q.good}, {"total", q.total}};
  out["running"] = q.running;
  out["ideal_rate"] = q.ideal_rate;
  out["rows"] = std::move(items);
  return out;
}

awaitable<http::Response> device_oee(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.registry, req);
  const OeeQuery q = parse_oee(req);
  const std::string id = dev.rec.id;
  std::vector<std::int64_t> groups = dev.rec.group_ids;
  const std::vector<an::Shift> shifts = co_await ctx.repos.shifts.calendar(dev.rec.tenant, std::move(groups));
  const Plan plan = plan_rows(q, shifts);
  const devices::Device* again = ctx.registry.find(id);  // the registry may have changed while we waited
  if (!again) throw http::Problem(404, "Not Found", "no device '" + id + "'");
  const std::vector<an::Totals> totals = co_await machine_rows(ctx, *again, q, plan);
  json out = oee_json(q, plan.rows, totals);
  out["device"] = id;
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> group_oee(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t group = id_param(req);
  take(co_await ctx.repos.groups.get(tenant, group));  // 404 unless the tenant's
  const OeeQuery q = parse_oee(req);
  std::vector<std::int64_t> groups{group};
  const std::vector<an::Shift> shifts = co_await ctx.repos.shifts.calendar(tenant, std::move(groups));
  const Plan plan = plan_rows(q, shifts);
  std::vector<std::string> ids;
  for (const devices::Device* d : ctx.registry.members(tenant, group)) ids.push_back(d->rec.id);
  std::sort(ids.begin(), ids.end());
  if (ids.size() > 500) bad("the group has more than 500 machines: ask per machine or a smaller group");
  // The line's factors come from its machines' summed totals, never an average of factors.
  std::vector<an::Totals> line(plan.rows.size() + 1);
  json machines = json::array();
  for (const std::string& id : ids) {
    const devices::Device* d = ctx.registry.find(id);
    if (!d) continue;  // removed while we computed
    const std::vector<an::Totals> mine = co_await machine_rows(ctx, *d, q, plan);
    for (std::size_t i = 0; i < line.size(); ++i) line[i] += mine[i];
    json m = factors_json(mine.back());
    m["device"] = id;
    machines.push_back(std::move(m));
  }
  json out = oee_json(q, plan.rows, line);
  out["group"] = group;
  out["machines"] = std::move(machines);
  co_return http::json_response(req.raw, 200, out);
}

}  // namespace

void add_oee_routes(http::Router& router, Context& ctx) {
  using A = http::Access;
  router.add(bhttp::verb::get, "/api/v1/shifts", A::viewer, bind(ctx, list_shifts));
  router.add(bhttp::verb::post, "/api/v1/shifts", A::admin, bind(ctx, create_shift));
  router.add(bhttp::verb::get, "/api/v1/shifts/{id}", A::viewer, bind(ctx, get_shift));
  router.add(bhttp::verb::patch, "/api/v1/shifts/{id}", A::admin, bind(ctx, patch_shift));
  router.add(bhttp::verb::delete_, "/api/v1/shifts/{id}", A::admin, bind(ctx, delete_shift));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/oee", A::viewer, bind(ctx, device_oee));
  router.add(bhttp::verb::get, "/api/v1/groups/{id}/oee", A::viewer, bind(ctx, group_oee));
}

}  // namespace peregrine::api
