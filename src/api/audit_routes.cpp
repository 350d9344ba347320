// The audit log, newest first. An admin sees its own tenant's entries; a
// superadmin sees all (or one tenant's with ?tenant_id=).

#include <pqxx/pqxx>

#include <peregrine/api/context.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

awaitable<http::Response> list_audit(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  const std::int64_t tenant = is_superadmin(p) ? int_query(req, "tenant_id").value_or(0) : p.tenant;
  const std::size_t limit = limit_param(req);
  const std::int64_t before = int_cursor(req).value_or(0);
  const std::string action{req.q("action").value_or("")};
  // A superadmin without ?tenant_id= reads every tenant's entries (and
  // those tied to none).
  const Scope scope = tenant == 0 ? Scope::all() : Scope::tenant(tenant);
  json items = co_await ctx.pool.run(scope, [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto rows = w.exec_params(
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
        "tenant_id, actor_id, actor_email, action, target, detail::text, remote FROM audit_log "
        "WHERE ($1::bigint = 0 OR id < $1) AND ($2::bigint = 0 OR tenant_id = $2) AND ($3 = '' OR action = $3) "
        "ORDER BY id DESC LIMIT $4",
        before, tenant, action, limit + 1);
    json out = json::array();
    for (const auto& r : rows) {
      out.push_back({{"id", r[0].as<std::int64_t>()},
                     {"at", r[1].as<std::string>()},
                     {"tenant_id", r[2].is_null() ? json() : json(r[2].as<std::int64_t>())},
                     {"actor_id", r[3].is_null() ? json() : json(r[3].as<std::int64_t>())},
                     {"actor_email", r[4].as<std::string>()},
                     {"action", r[5].as<std::string>()},
                     {"target", r[6].as<std::string>()},
                     {"detail", json::parse(r[7].as<std::string>())},
                     {"remote", r[8].as<std::string>()}});
    }
    return out;
  });
  const json next = take_page(items, limit);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", next}});
}

}  // namespace

void add_audit_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/audit", http::Access::admin,
             [&ctx](http::Request& req) { return list_audit(ctx, req); });
}

}  // namespace peregrine::api
