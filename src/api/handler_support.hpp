#pragma once
// Small pieces every REST routes file uses: binding a handler to its
// context, and turning a repository's outcome or page into a response.

#include <optional>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/api/context.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::api {

/// Adapts `fn(ctx, req)` to an http::Handler bound to `ctx`.
template <class Ctx>
http::Handler bind(Ctx& ctx, boost::asio::awaitable<http::Response> (*fn)(Ctx&, http::Request&)) {
  return [&ctx, fn](http::Request& req) { return fn(ctx, req); };
}

/// The HTTP problem a repository failure means: not found → 404, conflict →
/// 409, invalid reference → 422, bad input → 400, not yet persisted → 409
/// (retry shortly). The detail starts with the field when there is one and
/// `name_field` (false where docs/api.md gives the detail without it).
[[noreturn]] void throw_failure(const storage::Failure& f, bool name_field = true);

/// Problem 422 with `detail` (a body that parsed but does not validate).
[[noreturn]] void unprocessable(const std::string& detail);

/// The `{id}` device of the caller's tenant, or Problem 404 (also for
/// another tenant's device: no existence leak). Loop thread.
const devices::Device& require_device(const devices::Registry& registry, const http::Request& req);

/// The key of `device`'s series of `metric`, or nullopt when it has none yet.
std::optional<core::SeriesKey> series_key(const devices::Device& device, const std::string& metric);

/// The value of `o`, or its failure thrown as a Problem.
template <class T>
T take(storage::Outcome<T>&& o, bool name_field = true) {
  if (!o.ok()) throw_failure(o.failure(), name_field);
  return std::move(o).value();
}

/// `{"items": [to_json(item)...], "next": cursor | null}`.
template <class T, class ToJson>
nlohmann::json page_json(const storage::Page<T>& page, ToJson to_json) {
  nlohmann::json items = nlohmann::json::array();
  for (const T& item : page.items) items.push_back(to_json(item));
  return {{"items", std::move(items)},
          {"next", page.next ? nlohmann::json(*page.next) : nlohmann::json()}};
}

/// After a device's broker password changed (created, rotated, deleted):
/// rewrites Mosquitto's password file from every tenant's device accounts.
/// MqttAccounts logs a failure; the change itself is committed, so the
/// request still succeeds.
boost::asio::awaitable<void> sync_broker_accounts(Context& ctx);

}  // namespace peregrine::api
