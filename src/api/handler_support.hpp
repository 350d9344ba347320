#pragma once
// Small pieces every REST routes file uses.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/api/context.hpp>
#include <peregrine/http/router.hpp>

namespace peregrine::api {

/// Adapts `fn(ctx, req)` to an http::Handler bound to `ctx`.
template <class Ctx>
http::Handler bind(Ctx& ctx, boost::asio::awaitable<http::Response> (*fn)(Ctx&, http::Request&)) {
  return [&ctx, fn](http::Request& req) { return fn(ctx, req); };
}

/// For a list fetched with `limit + 1` rows: drops the extra row and returns
/// the next page's cursor (the last row's `id`, as a string), or null when
/// this is the last page.
inline nlohmann::json take_page(nlohmann::json& items, std::size_t limit) {
  if (items.size() <= limit) return nullptr;
  items.erase(items.end() - 1);
  const nlohmann::json& id = items.back()["id"];
  return id.is_string() ? id : nlohmann::json(id.dump());
}

/// After a device's broker password changed (created, rotated, deleted):
/// rewrites Mosquitto's password file. The file lists every tenant's
/// devices, so this reads with Scope::all(). MqttAccounts logs a failure; the
/// change itself is committed, so the request still succeeds.
inline boost::asio::awaitable<void> sync_broker_accounts(Context& ctx) {
  if (ctx.mqtt_accounts == nullptr) co_return;
  co_await ctx.pool.run(storage::Scope::all(),
                        [&](pqxx::connection& c) { return ctx.mqtt_accounts->sync(c); });
}

}  // namespace peregrine::api
