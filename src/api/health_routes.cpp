#include <peregrine/api/context.hpp>

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;

void add_health_routes(http::Router& router, Context& ctx) {
  auto alive = [](http::Request& req) -> awaitable<http::Response> {
    co_return http::json_response(req.raw, 200, {{"status", "ok"}});
  };
  router.add(bhttp::verb::get, "/livez", http::Access::public_, alive);
  router.add(bhttp::verb::get, "/healthz", http::Access::public_, alive);

  router.add(bhttp::verb::get, "/readyz", http::Access::public_,
             [&ctx](http::Request& req) -> awaitable<http::Response> {
               const bool pg = ctx.readiness.postgres();
               const bool redis = ctx.readiness.redis();
               const bool mqtt = ctx.readiness.mqtt();
               nlohmann::json body = {{"ready", pg && redis && mqtt},
                                      {"postgres", pg ? "connected" : "down"},
                                      {"redis", redis ? "connected" : "down"},
                                      {"mqtt", mqtt ? "connected" : "down"}};
               co_return http::json_response(req.raw, pg && redis && mqtt ? 200 : 503, body);
             });

  router.add(bhttp::verb::get, "/metrics", http::Access::public_,
             [&ctx](http::Request& req) -> awaitable<http::Response> {
               co_return http::text_response(req.raw, 200, ctx.metrics.render(),
                                             "text/plain; version=0.0.4; charset=utf-8");
             });
}

}  // namespace peregrine::api
