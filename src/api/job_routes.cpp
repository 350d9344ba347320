// Jobs: long operations with progress (batch commands, bulk imports). Reads
// come from PostgreSQL, with the job service's newer state of running jobs
// on top; cancelling goes through the service on the loop.

#include <peregrine/api/control.hpp>

#include <spdlog/spdlog.h>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"
#include "api/params.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

json job_json(ControlContext& ctx, const jobs::Job& stored) {
  const jobs::Job* live = ctx.jobs.find(stored.id);
  return jobs::to_json(live && live->tenant == stored.tenant ? *live : stored);
}

awaitable<http::Response> list_jobs(ControlContext& ctx, http::Request& req) {
  storage::JobFilter filter;
  if (const auto s = req.q("state")) {
    if (!jobs::parse_state(*s))
      throw http::Problem(400, "Bad Request", "'state' must be queued, running, done, failed or cancelled");
    filter.state = std::string(*s);
  }
  if (const auto k = req.q("kind")) filter.kind = std::string(*k);
  const storage::PageRequest<std::int64_t> page{limit_param(req), int_cursor(req).value_or(0)};
  const auto rows = co_await ctx.base.repos.commands.jobs(caller_tenant(req), std::move(filter), page);
  co_return http::json_response(req.raw, 200,
                                page_json(rows, [&](const jobs::Job& j) { return job_json(ctx, j); }));
}

awaitable<http::Response> get_job(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const jobs::JobId id = id_param(req);
  auto row = co_await ctx.base.repos.commands.job(tenant, id);
  const jobs::Job* live = ctx.jobs.find(id);
  if (live && live->tenant != tenant) live = nullptr;
  if (!row.ok() && !live) throw_failure(row.failure());
  json out = jobs::to_json(live ? *live : row.value());
  const storage::PageRequest<std::int64_t> page{parse_limit(req, 100, 1000), int_cursor(req).value_or(0)};
  const auto items = co_await ctx.base.repos.commands.job_items(tenant, id, page);
  const json paged = page_json(items, [](const jobs::JobItem& i) { return jobs::to_json(i); });
  out["items"] = paged["items"];
  out["next"] = paged["next"];
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> cancel_job(ControlContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const jobs::JobId id = id_param(req);
  if (auto j = ctx.jobs.cancel(tenant, id, principal(req).email)) {
    const json out = jobs::to_json(*j);
    try {
      storage::AuditEntry entry = audit_by(req, tenant, "job.cancel", "job:" + std::to_string(id));
      co_await ctx.base.repos.audit.record(std::move(entry));
    } catch (const std::exception& e) {
      spdlog::error("audit entry job.cancel on job {} not written: {}", id, e.what());
    }
    co_return http::json_response(req.raw, 200, out);
  }
  // Not running in this process: ended before, or unknown.
  const jobs::Job stored = take(co_await ctx.base.repos.commands.job(tenant, id));
  if (jobs::is_final(stored.state)) co_return http::json_response(req.raw, 200, jobs::to_json(stored));
  throw http::Problem(409, "Conflict", "job " + std::to_string(id) + " is not running in this server");
}

}  // namespace

void add_job_routes(http::Router& router, ControlContext& ctx) {
  router.add(bhttp::verb::get, "/api/v1/jobs", http::Access::viewer, bind(ctx, list_jobs));
  router.add(bhttp::verb::get, "/api/v1/jobs/{id}", http::Access::viewer, bind(ctx, get_job));
  router.add(bhttp::verb::post, "/api/v1/jobs/{id}/cancel", http::Access::operator_, bind(ctx, cancel_job));
}

}  // namespace peregrine::api
