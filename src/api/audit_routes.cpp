// The audit log, newest first. An admin sees its own tenant's entries; a
// superadmin sees all (or one tenant's with ?tenant_id=).

#include <peregrine/api/context.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/audit_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr core::Micros kMicrosPerMilli = 1000;

json optional_id(const std::optional<std::int64_t>& id) { return id ? json(*id) : json(); }

json audit_json(const storage::AuditRecord& r) {
  // `at` has milliseconds, cut (not rounded) as PostgreSQL's to_char `MS` did.
  const core::Micros at_ms =
      r.at_us - ((r.at_us % kMicrosPerMilli) + kMicrosPerMilli) % kMicrosPerMilli;
  return {{"id", r.id},
          {"at", core::format_rfc3339(at_ms)},
          {"tenant_id", optional_id(r.entry.tenant)},
          {"actor_id", optional_id(r.entry.actor_id)},
          {"actor_email", r.entry.actor_email},
          {"action", r.entry.action},
          {"target", r.entry.target},
          {"detail", r.entry.detail},
          {"remote", r.entry.remote}};
}

awaitable<http::Response> list_audit(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  storage::AuditFilter filter;
  // A superadmin without ?tenant_id= reads every tenant's entries (and
  // those tied to none).
  filter.tenant = is_superadmin(p) ? int_query(req, "tenant_id") : std::optional(p.tenant);
  filter.action = std::string(req.q("action").value_or(""));
  const auto page =
      co_await ctx.repos.audit.list(filter, {limit_param(req), int_cursor(req).value_or(0)});
  co_return http::json_response(req.raw, 200, page_json(page, audit_json));
}

}  // namespace

void add_audit_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/audit", http::Access::admin,
             [&ctx](http::Request& req) { return list_audit(ctx, req); });
}

}  // namespace peregrine::api
