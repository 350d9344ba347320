// Bulk provisioning: `POST /api/v1/devices/bulk` with a JSON array of
// device objects, or `text/csv` with a header row (columns id, name, type,
// group, lat, lon; any other column becomes a metadata string). Every row
// is validated on its own and created in its own savepoint: good rows are
// created even when others fail, and a failed row leaves nothing behind.
// The answer has one result per row (the token of a created device, shown
// once, or the error naming the field); the import is an `import` job.

#include <peregrine/api/control.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/core/ids.hpp>

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "api/auth_support.hpp"
#include "api/csv.hpp"
#include "api/device_fields.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxRows = 10'000;

struct Row {
  std::size_t n = 0;  // 1-based data row
  storage::NewDevice device;
  std::vector<std::string> groups;  // ids or names, resolved later
  std::string field, error;         // set when the row is refused
};

void refuse(Row& r, std::string field, std::string error) {
  if (!r.error.empty()) return;
  r.field = std::move(field);
  r.error = std::move(error);
}

std::optional<double> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

void set_location(Row& r, const std::optional<double>& lat, const std::optional<double>& lon, bool given) {
  if (!given) return;
  if (!lat || !lon || std::fabs(*lat) > 90 || std::fabs(*lon) > 180)
    return refuse(r, "location", "lat must be -90..90 and lon -180..180, both given");
  r.device.location = storage::LatLon{*lat, *lon};
}

std::vector<Row> rows_from_csv(std::string_view body) {
  // Spreadsheets write a UTF-8 byte order mark first.
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
  std::size_t bad_line = 0;
  auto records = parse_csv(body, bad_line);
  if (!records)
    throw http::Problem(400, "Bad Request", "CSV: unterminated or misplaced quote on line " + std::to_string(bad_line));
  if (records->empty()) throw http::Problem(400, "Bad Request", "CSV: no header row");
  const CsvRecord header = records->front();
  std::unordered_map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) throw http::Problem(400, "Bad Request", "CSV: empty column name in the header");
    if (!col.emplace(header[i], i).second)
      throw http::Problem(400, "Bad Request", "CSV: column '" + header[i] + "' twice in the header");
  }
  if (!col.contains("id")) throw http::Problem(400, "Bad Request", "CSV: the header has no 'id' column");
  if (records->size() - 1 > kMaxRows)
    throw http::Problem(413, "Payload Too Large", "at most 10000 rows per import");
  static const std::unordered_set<std::string> known = {"id", "name", "type", "group", "lat", "lon"};
  std::vector<Row> rows;
  for (std::size_t n = 1; n < records->size(); ++n) {
    const CsvRecord& rec = (*records)[n];
    Row r;
    r.n = n;
    if (rec.size() != header.size()) {
      refuse(r, "", "has " + std::to_string(rec.size()) + " fields, the header " + std::to_string(header.size()));
      rows.push_back(std::move(r));
      continue;
    }
    const auto at = [&](const char* name) -> std::string {
      const auto it = col.find(name);
      return it == col.end() ? std::string() : rec[it->second];
    };
    r.device.id = at("id");
    r.device.name = at("name").empty() ? r.device.id : at("name");
    r.device.type = at("type");
    if (const std::string g = at("group"); !g.empty()) {
      // Several groups: separated by ';'.
      std::size_t start = 0;
      while (start <= g.size()) {
        const auto semi = g.find(';', start);
        std::string item = g.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
        if (!item.empty()) r.groups.push_back(std::move(item));
        if (semi == std::string::npos) break;
        start = semi + 1;
      }
    }
    const std::string lat = at("lat"), lon = at("lon");
    set_location(r, number(lat), number(lon), !lat.empty() || !lon.empty());
    for (const auto& [name, i] : col)
      if (!known.contains(name) && !rec[i].empty()) r.device.metadata[name] = rec[i];
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Row> rows_from_json(const json& body) {
  if (!body.is_array()) throw http::Problem(400, "Bad Request", "body must be a JSON array of devices, or text/csv");
  if (body.size() > kMaxRows) throw http::Problem(413, "Payload Too Large", "at most 10000 rows per import");
  std::vector<Row> rows;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const json& d = body[i];
    Row r;
    r.n = i + 1;
    if (!d.is_object()) {
      refuse(r, "", "must be an object");
      rows.push_back(std::move(r));
      continue;
    }
    if (const auto id = d.find("id"); id != d.end() && id->is_string()) r.device.id = id->get<std::string>();
    try {
      for (const auto& [key, value] : d.items()) {
        if (key != "id" && key != "name" && key != "type" && key != "group" && key != "group_ids" &&
            key != "location" && key != "metadata") {
          refuse(r, key, "unknown field");
          break;
        }
      }
      r.device.id = string_field(d, "id", true).value_or("");
      r.device.name = string_field(d, "name", false).value_or(r.device.id);
      r.device.type = string_field(d, "type", false).value_or("");
      if (const auto loc = parse_location(d)) r.device.location = *loc;
      if (auto m = parse_metadata(d)) r.device.metadata = std::move(*m);
      if (auto g = parse_group_ids(d))
        for (auto id : *g) r.groups.push_back(std::to_string(id));
      if (const auto g = d.find("group"); g != d.end() && !g->is_null()) {
        if (g->is_string()) r.groups.push_back(g->get<std::string>());
        else if (g->is_number_integer()) r.groups.push_back(std::to_string(g->get<std::int64_t>()));
        else throw http::Problem(422, "Unprocessable Entity", "'group' must be a group id or name");
      }
    } catch (const http::Problem& p) {
      refuse(r, "", p.what());
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

/// Every group of the tenant by name and by id, read page by page.
awaitable<std::unordered_map<std::string, std::int64_t>> group_index(ControlContext& ctx, core::TenantId tenant) {
  std::unordered_map<std::string, std::int64_t> out;
  storage::PageRequest<std::int64_t> page{1000, 0};
  for (;;) {
    const auto groups = co_await ctx.base.repos.groups.list(tenant, page);
    // A number is a group id, even when another group is named like it.
    for (const auto& g : groups.items) out.insert_or_assign(std::to_string(g.id), g.id);
    for (const auto& g : groups.items) out.emplace(g.name, g.id);
    if (!groups.next) break;
    page.after = std::stoll(*groups.next);
  }
  co_return out;
}

awaitable<http::Response> bulk_create(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const auto ct = req.raw.find(bhttp::field::content_type);
  const bool csv = ct != req.raw.end() && ct->value().starts_with("text/csv");
  std::vector<Row> rows = csv ? rows_from_csv(req.raw.body()) : rows_from_json(req.json());

  bool named_groups = false;
  for (const Row& r : rows) named_groups = named_groups || !r.groups.empty();
  std::unordered_map<std::string, std::int64_t> groups;
  if (named_groups) groups = co_await group_index(ctx, tenant);

  std::unordered_map<std::string, std::size_t> seen;  // id → first row
  std::vector<storage::NewDevice> devices;
  std::vector<std::string> tokens;
  std::vector<std::size_t> index;  // devices[i] is rows[index[i]]
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row& r = rows[i];
    if (!r.error.empty()) continue;
    if (!core::valid_device_id(r.device.id)) refuse(r, "id", "must match [A-Za-z0-9_.-]{1,64}");
    else if (auto [it, fresh] = seen.emplace(r.device.id, r.n); !fresh)
      refuse(r, "id", "repeats row " + std::to_string(it->second));
    else if (ctx.base.registry.find(r.device.id)) refuse(r, "id", "device id already taken");
    if (r.device.name.size() > 200) refuse(r, "name", "at most 200 characters");
    if (r.device.type.size() > 64) refuse(r, "type", "at most 64 characters");
    for (const auto& g : r.groups) {
      const auto it = groups.find(g);
      if (it == groups.end()) {
        refuse(r, "group", "no group '" + g + "'");
        break;
      }
      r.device.group_ids.push_back(it->second);
    }
    std::sort(r.device.group_ids.begin(), r.device.group_ids.end());
    r.device.group_ids.erase(std::unique(r.device.group_ids.begin(), r.device.group_ids.end()),
                             r.device.group_ids.end());
    if (!r.error.empty()) continue;
    tokens.push_back("pdt_" + auth::random_hex(32));
    devices.push_back(r.device);
    index.push_back(i);
  }

  storage::AuditEntry audit = audit_by(req, tenant, "device.bulk_create", "devices",
                                       {{"rows", rows.size()}, {"valid", devices.size()}, {"format", csv ? "csv" : "json"}});
  std::vector<storage::Outcome<storage::Done>> outcomes;
  if (!devices.empty())
    outcomes = co_await ctx.base.repos.devices.create_many(tenant, devices, tokens, std::move(audit));

  // Back on the loop: the created devices join the registry.
  std::vector<std::string> token_of(rows.size());
  for (std::size_t k = 0; k < outcomes.size(); ++k) {
    Row& r = rows[index[k]];
    if (!outcomes[k].ok()) {
      const auto& f = outcomes[k].failure();
      refuse(r, f.field, f.detail);
      continue;
    }
    devices::DeviceRecord rec;
    rec.id = r.device.id;
    rec.tenant = tenant;
    rec.name = r.device.name;
    rec.type = r.device.type;
    devices::Device& dev = ctx.base.registry.add(std::move(rec));
    if (dev.rec.tenant != tenant) {  // auto-provisioned meanwhile, elsewhere
      refuse(r, "id", "device id already taken");
      continue;
    }
    apply_groups(ctx.base, r.device.id, r.device.group_ids);
    token_of[index[k]] = std::move(tokens[k]);
  }
  if (!devices.empty()) co_await sync_broker_accounts(ctx.base);

  const jobs::Job& job = ctx.jobs.create(tenant, "import", {{"format", csv ? "csv" : "json"}, {"rows", rows.size()}},
                                         principal(req).email, static_cast<std::int32_t>(rows.size()));
  const jobs::JobId job_id = job.id;
  json results = json::array();
  std::size_t created = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const bool ok = r.error.empty();
    created += ok ? 1 : 0;
    json res = {{"row", r.n}, {"id", r.device.id}, {"status", ok ? "created" : "error"}};
    if (ok) {
      res["token"] = token_of[i];
    } else {
      res["field"] = r.field;
      res["detail"] = r.error;
    }
    results.push_back(std::move(res));
    ctx.jobs.set_item(jobs::JobItem{job_id, static_cast<std::int32_t>(r.n), r.device.id, ok ? "created" : "error",
                                    ok ? "" : (r.field.empty() ? r.error : r.field + ": " + r.error), ""},
                      true, !ok);
  }
  co_return http::json_response(req.raw, 200,
                                {{"job_id", job_id},
                                 {"created", created},
                                 {"failed", rows.size() - created},
                                 {"results", std::move(results)}});
}

}  // namespace

void add_bulk_routes(http::Router& router, ControlContext& ctx) {
  router.add(bhttp::verb::post, "/api/v1/devices/bulk", http::Access::admin, bind(ctx, bulk_create));
}

}  // namespace peregrine::api
