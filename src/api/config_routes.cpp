// Device types with a JSON Schema, device configuration versions, and group
// pushes (CONTRACT.md "device config", "device types"; docs/configuration.md).
// Validation is fleet::Schema (valijson); writes are
// storage::ConfigRepository, each with its audit entry in one transaction;
// the new versions go to the broker through fleet::ConfigService.

#include <algorithm>
#include <limits>
#include <map>

#include <peregrine/api/control.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/fleet/config_service.hpp>
#include <peregrine/fleet/schema.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxConfigBytes = 64 * 1024;
constexpr std::size_t kMaxSchemaBytes = 256 * 1024;
constexpr std::size_t kMaxGroupPush = 10'000;

std::string type_param(const http::Request& req) {
  const std::string& type = req.params.at("type");
  if (!core::valid_device_id(type)) throw http::Problem(404, "Not Found", "no device type '" + type + "'");
  return type;
}

json schema_json(const storage::SchemaRow& r) {
  return {{"type", r.type},
          {"version", r.version},
          {"schema", r.schema},
          {"created_by", r.created_by},
          {"created_at", core::format_rfc3339(r.created_at)}};
}

json version_json(const storage::ConfigVersion& v) {
  return {{"device", v.device},
          {"version", v.version},
          {"config", v.config},
          {"schema_type", v.schema_type},
          {"schema_version", v.schema_version ? json(*v.schema_version) : json(nullptr)},
          {"created_by", v.created_by},
          {"created_at", core::format_rfc3339(v.created_at)},
          {"job", v.job ? json(*v.job) : json(nullptr)}};
}

json errors_json(const std::vector<fleet::SchemaError>& errors) {
  json out = json::array();
  for (const auto& e : errors) out.push_back({{"path", e.path}, {"message", e.message}});
  return out;
}

/// 422 problem+json with the failures as `errors` (CONTRACT.md).
http::Response invalid_config(const http::Request& req, const std::string& detail, json errors) {
  const json body = {{"type", "about:blank"},
                     {"title", "Unprocessable Entity"},
                     {"status", 422},
                     {"detail", detail},
                     {"errors", std::move(errors)}};
  return http::text_response(req.raw, 422, body.dump(-1, ' ', false, json::error_handler_t::replace),
                             "application/problem+json");
}

/// The `config` member: an object of at most 64 KiB.
json config_member(const json& body) {
  const auto it = body.find("config");
  if (it == body.end()) unprocessable("'config' is required");
  if (!it->is_object()) unprocessable("'config' must be a JSON object");
  if (it->dump().size() > kMaxConfigBytes) throw http::Problem(413, "Payload Too Large", "'config' above 64 KiB");
  return *it;
}

/// The newest schema of `type`, compiled; nullopt when the type has none.
struct TypeSchema {
  storage::SchemaRow row;
  fleet::Schema schema;
};
awaitable<std::optional<TypeSchema>> type_schema(ControlContext& ctx, core::TenantId tenant, std::string type) {
  if (type.empty()) co_return std::nullopt;
  auto row = co_await ctx.base.repos.configs.schema(tenant, type);
  if (!row) co_return std::nullopt;
  auto compiled = fleet::Schema::compile(row->schema);
  // Stored schemas compiled when they were stored; a failure here is a bug.
  if (auto* why = std::get_if<std::string>(&compiled))
    throw std::runtime_error("stored schema of '" + type + "' does not compile: " + *why);
  co_return TypeSchema{std::move(*row), std::get<fleet::Schema>(std::move(compiled))};
}

// ---- device types ----

awaitable<http::Response> put_schema(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::string type = type_param(req);
  if (req.raw.body().size() > kMaxSchemaBytes) throw http::Problem(413, "Payload Too Large", "schema above 256 KiB");
  const json schema = req.json();
  auto compiled = fleet::Schema::compile(schema);
  if (auto* why = std::get_if<std::string>(&compiled)) unprocessable(*why);
  const fleet::Schema& check = std::get<fleet::Schema>(compiled);
  storage::AuditEntry audit = audit_by(req, tenant, "device_type.schema", "device_type:" + type);
  const auto row = take(co_await ctx.base.repos.configs.put_schema(tenant, type, schema, principal(req).email,
                                                                   std::move(audit)));
  // Desired configurations the new schema no longer accepts: they stay (a
  // device keeps what it has), and the next write must validate.
  json invalid = json::array();
  for (const auto& s : co_await ctx.base.repos.configs.desired_of_type(tenant, type)) {
    const auto errors = check.validate(s.config);
    if (!errors.empty())
      invalid.push_back({{"device", s.device}, {"version", s.desired_version}, {"errors", errors_json(errors)}});
  }
  json out = schema_json(row);
  out["invalid_configs"] = std::move(invalid);
  co_return http::json_response(req.raw, row.version == 1 ? 201 : 200, out);
}

awaitable<http::Response> list_types(ControlContext& ctx, http::Request& req) {
  json items = json::array();
  for (const auto& t : co_await ctx.base.repos.configs.types(caller_tenant(req)))
    items.push_back({{"type", t.type},
                     {"schema_version", t.schema_version ? json(t.schema_version) : json(nullptr)},
                     {"devices", t.devices}});
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> get_type(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::string type = type_param(req);
  const auto all = co_await ctx.base.repos.configs.types(tenant);
  const auto it = std::find_if(all.begin(), all.end(), [&](const storage::TypeSummary& t) { return t.type == type; });
  if (it == all.end()) throw http::Problem(404, "Not Found", "no device type '" + type + "'");
  json versions = json::array();
  json schema = nullptr;
  for (const auto& r : co_await ctx.base.repos.configs.schema_versions(tenant, type)) {
    if (schema.is_null()) schema = r.schema;
    versions.push_back({{"version", r.version},
                        {"created_by", r.created_by},
                        {"created_at", core::format_rfc3339(r.created_at)}});
  }
  co_return http::json_response(req.raw, 200,
                                {{"type", type},
                                 {"schema_version", it->schema_version ? json(it->schema_version) : json(nullptr)},
                                 {"schema", schema},
                                 {"devices", it->devices},
                                 {"versions", std::move(versions)}});
}

awaitable<http::Response> get_schema(ControlContext& ctx, http::Request& req) {
  const std::string type = type_param(req);
  const auto version = int_query(req, "version");
  const auto row = co_await ctx.base.repos.configs.schema(caller_tenant(req), type,
                                                          static_cast<std::int32_t>(version.value_or(0)));
  if (!row)
    throw http::Problem(404, "Not Found",
                        version ? "'" + type + "' has no schema version " + std::to_string(*version)
                                : "'" + type + "' has no schema");
  co_return http::json_response(req.raw, 200, schema_json(*row));
}

// ---- one device ----

awaitable<http::Response> write_config(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const std::string id = dev.rec.id, type = dev.rec.type;
  const core::TenantId tenant = dev.rec.tenant;
  const json body = body_object(req);
  for (const auto& [key, value] : body.items())
    if (key != "config" && key != "if_version") throw http::Problem(400, "Bad Request", "unknown field '" + key + "'");
  storage::ConfigWrite w;
  w.device = id;
  w.config = config_member(body);
  if (const auto it = body.find("if_version"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
      unprocessable("'if_version' must be the version you read (0: none yet)");
    w.if_version = static_cast<std::int32_t>(it->get<std::int64_t>());
  }
  if (const auto schema = co_await type_schema(ctx, tenant, type)) {
    const auto errors = schema->schema.validate(w.config);
    if (!errors.empty())
      co_return invalid_config(req,
                               "the configuration does not validate against the schema of '" + type + "' (version " +
                                   std::to_string(schema->row.version) + ")",
                               errors_json(errors));
    w.schema_type = type;
    w.schema_version = schema->row.version;
  }
  storage::AuditEntry audit = audit_by(req, tenant, "device.config", "device:" + id);
  std::vector<storage::ConfigWrite> writes;
  writes.push_back(std::move(w));
  const auto written = take(co_await ctx.base.repos.configs.write(tenant, std::move(writes), principal(req).email,
                                                                  std::nullopt, std::move(audit)));
  ctx.configs.pushed(written, std::nullopt);
  co_return http::json_response(req.raw, 201, version_json(written.front()));
}

awaitable<http::Response> get_config(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const std::string id = dev.rec.id;
  const auto s = take(co_await ctx.base.repos.configs.state(dev.rec.tenant, id));
  json out = fleet::state_json(s);
  out["config"] = s.config;
  out["published_version"] = s.published_version;
  out["applied_at"] = s.applied_at ? json(core::format_rfc3339(*s.applied_at)) : json(nullptr);
  out["rejected_version"] = s.rejected_version ? json(*s.rejected_version) : json(nullptr);
  out["rejected_error"] = s.rejected_version ? json(s.rejected_error) : json(nullptr);
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> list_versions(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const std::string id = dev.rec.id;
  storage::PageRequest<std::int32_t> page;
  page.limit = limit_param(req);
  page.after = static_cast<std::int32_t>(std::min<std::int64_t>(int_cursor(req).value_or(0), 1 << 30));
  const auto p = co_await ctx.base.repos.configs.versions(dev.rec.tenant, id, page);
  co_return http::json_response(req.raw, 200, page_json(p, version_json));
}

std::int32_t version_param(const std::string& value, const char* what) {
  try {
    std::size_t used = 0;
    const long v = std::stol(value, &used);
    if (used == value.size() && v > 0 && v <= std::numeric_limits<std::int32_t>::max())
      return static_cast<std::int32_t>(v);
  } catch (const std::exception&) {
  }
  throw http::Problem(400, "Bad Request", std::string("'") + what + "' must be a version number");
}

awaitable<http::Response> get_version(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const std::string id = dev.rec.id;
  const std::int32_t v = version_param(req.params.at("v"), "version");
  co_return http::json_response(req.raw, 200,
                                version_json(take(co_await ctx.base.repos.configs.version(dev.rec.tenant, id, v))));
}

awaitable<http::Response> diff_versions(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const std::string id = dev.rec.id;
  const core::TenantId tenant = dev.rec.tenant;
  const auto from_q = req.q("from"), to_q = req.q("to");
  if (!from_q || !to_q) throw http::Problem(400, "Bad Request", "'from' and 'to' (version numbers) are required");
  const std::int32_t from = version_param(std::string(*from_q), "from");
  const std::int32_t to = version_param(std::string(*to_q), "to");
  const auto a = take(co_await ctx.base.repos.configs.version(tenant, id, from));
  const auto b = take(co_await ctx.base.repos.configs.version(tenant, id, to));
  // RFC 6902: the operations that turn `from` into `to`.
  co_return http::json_response(req.raw, 200,
                                {{"device", id}, {"from", from}, {"to", to}, {"patch", json::diff(a.config, b.config)}});
}

// ---- a group ----

awaitable<http::Response> push_group(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t group = id_param(req);
  const json body = body_object(req);
  for (const auto& [key, value] : body.items())
    if (key != "config") throw http::Problem(400, "Bad Request", "unknown field '" + key + "'");
  const json config = config_member(body);
  const storage::GroupRow g = take(co_await ctx.base.repos.groups.get(tenant, group));
  // Members in id order: a job item's seq is the member's place in it.
  std::vector<std::pair<std::string, std::string>> members;  // id, type
  for (const auto& id : g.device_ids) {
    const devices::Device* dev = ctx.base.registry.find(id);
    if (dev && dev->rec.tenant == tenant) members.emplace_back(id, dev->rec.type);
  }
  std::sort(members.begin(), members.end());
  if (members.empty()) unprocessable("group " + std::to_string(group) + " has no devices");
  if (members.size() > kMaxGroupPush) unprocessable("a push reaches at most 10,000 devices");

  // Every member validates against its own type's schema before anything is
  // written: one check per type, its failures listed for each member.
  struct TypeCheck {
    std::optional<TypeSchema> schema;
    std::vector<fleet::SchemaError> errors;
  };
  std::map<std::string, TypeCheck> checks;
  std::vector<storage::ConfigWrite> writes;
  json errors = json::array();
  for (const auto& [id, type] : members) {
    auto it = checks.find(type);
    if (it == checks.end()) {
      TypeCheck check;
      check.schema = co_await type_schema(ctx, tenant, type);
      if (check.schema) check.errors = check.schema->schema.validate(config);
      it = checks.emplace(type, std::move(check)).first;
    }
    storage::ConfigWrite w;
    w.device = id;
    w.config = config;
    if (it->second.schema) {
      for (const auto& e : it->second.errors)
        errors.push_back({{"device", id}, {"path", e.path}, {"message", e.message}});
      w.schema_type = type;
      w.schema_version = it->second.schema->row.version;
    }
    writes.push_back(std::move(w));
  }
  if (!errors.empty())
    co_return invalid_config(req, "the configuration does not validate for every member: nothing was written",
                             std::move(errors));

  const std::string by = principal(req).email;
  const jobs::JobId job = ctx.jobs
                              .create(tenant, "config_push", {{"group", group}, {"group_name", g.name}}, by,
                                      static_cast<std::int32_t>(writes.size()))
                              .id;
  storage::AuditEntry audit =
      audit_by(req, tenant, "group.config", "group:" + std::to_string(group), {{"job", job}});
  auto written = co_await ctx.base.repos.configs.write(tenant, std::move(writes), by, job, std::move(audit));
  for (std::size_t i = 0; i < members.size(); ++i) {
    jobs::JobItem item;
    item.job_id = job;
    item.seq = static_cast<std::int32_t>(i + 1);
    item.key = members[i].first;
    item.status = written.ok() ? "pending" : "error";
    if (!written.ok()) item.detail = written.failure().detail;
    ctx.jobs.set_item(std::move(item), !written.ok(), !written.ok());
  }
  if (!written.ok()) throw_failure(written.failure());
  ctx.configs.pushed(written.value(), job);
  const jobs::Job* j = ctx.jobs.find(job);
  co_return http::json_response(req.raw, 202, j ? jobs::to_json(*j) : json{{"id", job}});
}

}  // namespace

void add_config_routes(http::Router& router, ControlContext& ctx) {
  using A = http::Access;
  router.add(bhttp::verb::get, "/api/v1/device-types", A::viewer, bind(ctx, list_types));
  router.add(bhttp::verb::get, "/api/v1/device-types/{type}", A::viewer, bind(ctx, get_type));
  router.add(bhttp::verb::get, "/api/v1/device-types/{type}/schema", A::viewer, bind(ctx, get_schema));
  router.add(bhttp::verb::put, "/api/v1/device-types/{type}/schema", A::admin, bind(ctx, put_schema));
  router.add(bhttp::verb::post, "/api/v1/devices/{id}/config", A::operator_, bind(ctx, write_config));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/config", A::viewer, bind(ctx, get_config));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/config/versions", A::viewer, bind(ctx, list_versions));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/config/versions/{v}", A::viewer, bind(ctx, get_version));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/config/diff", A::viewer, bind(ctx, diff_versions));
  router.add(bhttp::verb::post, "/api/v1/groups/{id}/config", A::operator_, bind(ctx, push_group));
}

}  // namespace peregrine::api
