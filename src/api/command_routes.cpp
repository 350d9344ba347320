// Commands to one device, batch commands to a group (as a job), and their
// history. Creation goes through the command service on the loop, which
// publishes or queues at once and logs the rows; reads come from
// PostgreSQL with the service's newer state of pending commands on top.

#include <peregrine/api/control.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>

#include <spdlog/spdlog.h>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxParamsBytes = 16 * 1024;

struct CommandRequest {
  std::string name;
  json params = json::object();
  std::int32_t ack_timeout_s = 10;
  std::int64_t expires_s = 3600;
};

std::int64_t int_member(const json& body, const char* key, std::int64_t fallback, std::int64_t min,
                        std::int64_t max) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max)
    throw http::Problem(422, "Unprocessable Entity",
                        std::string("'") + key + "' must be an integer from " + std::to_string(min) +
                            " to " + std::to_string(max));
  return it->get<std::int64_t>();
}

CommandRequest parse_command(const json& body, const commands::ServiceOptions& limits) {
  for (const auto& [key, value] : body.items()) {
    if (key != "name" && key != "params" && key != "ack_timeout_s" && key != "expires_s")
      throw http::Problem(400, "Bad Request", "unknown field '" + key + "'");
  }
  CommandRequest r;
  r.name = *string_field(body, "name", true);
  if (!core::valid_device_id(r.name))
    throw http::Problem(422, "Unprocessable Entity", "'name' must match [A-Za-z0-9_.-]{1,64}");
  if (const auto p = body.find("params"); p != body.end() && !p->is_null()) {
    if (!p->is_object()) throw http::Problem(422, "Unprocessable Entity", "'params' must be an object");
    if (p->dump().size() > kMaxParamsBytes)
      throw http::Problem(413, "Payload Too Large", "'params' above 16 KiB");
    r.params = *p;
  }
  r.ack_timeout_s = static_cast<std::int32_t>(int_member(body, "ack_timeout_s", 10, 1, limits.max_ack_timeout_s));
  r.expires_s = int_member(body, "expires_s", 3600, 1, limits.max_expires_s);
  return r;
}

[[noreturn]] void too_many_pending() {
  http::Problem p(503, "Service Unavailable", "too many commands pending; retry later");
  p.headers.emplace_back("Retry-After", "5");
  throw p;
}

/// The action happened already; an audit entry that cannot be written is
/// logged, not turned into an error for what was done.
awaitable<void> audit_done(ControlContext& ctx, storage::AuditEntry entry) {
  const std::string what = entry.action + " on " + entry.target;
  try {
    co_await ctx.base.repos.audit.record(std::move(entry));
  } catch (const std::exception& e) {
    spdlog::error("audit entry {} not written: {}", what, e.what());
  }
}

json event_json(const commands::CommandEvent& e) {
  return {{"status", e.status}, {"at", core::format_rfc3339(e.at)}, {"detail", e.detail}};
}

awaitable<http::Response> send_command(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  CommandRequest r = parse_command(body_object(req), ctx.commands.options());
  commands::NewCommand nc;
  nc.tenant = dev.rec.tenant;
  nc.device = dev.rec.id;
  nc.name = std::move(r.name);
  nc.params = std::move(r.params);
  nc.ack_timeout_s = r.ack_timeout_s;
  nc.expires_s = r.expires_s;
  nc.created_by = principal(req).email;
  const auto cmd = ctx.commands.create(std::move(nc));
  if (!cmd) too_many_pending();
  const json out = commands::to_json(*cmd);
  // Named, not a temporary in the co_await expression (STYLE.md, GCC 12).
  storage::AuditEntry entry = audit_by(req, cmd->tenant, "command.send", "device:" + cmd->device,
                                       {{"command", cmd->id}, {"name", cmd->name}});
  co_await audit_done(ctx, std::move(entry));
  co_return http::json_response(req.raw, 201, out);
}

awaitable<http::Response> list_commands(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const core::TenantId tenant = dev.rec.tenant;
  const std::string device = dev.rec.id;
  storage::PageRequest<std::string> page{limit_param(req), std::string(req.q("cursor").value_or(""))};
  const auto rows = co_await ctx.base.repos.commands.list(tenant, device, std::move(page));
  json out = page_json(rows, [&](const commands::Command& c) {
    const commands::Command* live = ctx.commands.find(c.id);
    return commands::to_json(live ? *live : c);
  });
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> get_command(ControlContext& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.base.registry, req);
  const core::TenantId tenant = dev.rec.tenant;
  const std::string device = dev.rec.id;
  const std::string cid = req.params.at("cid");
  if (!core::valid_uuid(cid)) throw http::Problem(404, "Not Found", "no command " + cid);
  auto row = co_await ctx.base.repos.commands.get(tenant, device, cid);
  const commands::Command* live = ctx.commands.find(cid);
  if (live && (live->device != device || live->tenant != tenant)) live = nullptr;
  if (!row.ok() && !live) throw_failure(row.failure());
  json out = commands::to_json(live ? *live : row.value().command);
  json events = json::array();
  if (row.ok())
    for (const auto& e : row.value().events) events.push_back(event_json(e));
  out["events"] = std::move(events);
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> batch_command(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t group = id_param(req);
  CommandRequest r = parse_command(body_object(req), ctx.commands.options());
  const storage::GroupRow g = take(co_await ctx.base.repos.groups.get(tenant, group));
  jobs::BatchCommand b;
  b.tenant = tenant;
  for (const auto& id : g.device_ids) {
    const devices::Device* dev = ctx.base.registry.find(id);
    if (dev && dev->rec.tenant == tenant) b.devices.push_back(id);
  }
  if (b.devices.empty())
    throw http::Problem(422, "Unprocessable Entity", "group " + std::to_string(group) + " has no devices");
  if (ctx.commands.pending_count() + b.devices.size() > ctx.commands.options().max_pending) too_many_pending();
  b.job_params = {{"group", group}, {"group_name", g.name}, {"command", r.name}, {"params", r.params}};
  b.name = std::move(r.name);
  b.params = std::move(r.params);
  b.ack_timeout_s = r.ack_timeout_s;
  b.expires_s = r.expires_s;
  b.created_by = principal(req).email;
  const auto job = ctx.jobs.batch_command(std::move(b));
  if (!job) throw http::Problem(422, "Unprocessable Entity", "group has no devices");
  const json out = jobs::to_json(*job);
  storage::AuditEntry entry = audit_by(req, tenant, "command.batch", "group:" + std::to_string(group),
                                       {{"job", job->id}, {"name", job->params.value("command", "")}});
  co_await audit_done(ctx, std::move(entry));
  co_return http::json_response(req.raw, 202, out);
}

}  // namespace

void add_command_routes(http::Router& router, ControlContext& ctx) {
  router.add(bhttp::verb::post, "/api/v1/devices/{id}/commands", http::Access::operator_,
             bind(ctx, send_command));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/commands", http::Access::viewer,
             bind(ctx, list_commands));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/commands/{cid}", http::Access::viewer,
             bind(ctx, get_command));
  router.add(bhttp::verb::post, "/api/v1/groups/{id}/commands", http::Access::operator_,
             bind(ctx, batch_command));
}

}  // namespace peregrine::api
