#include "api/handler_support.hpp"

#include <peregrine/core/ids.hpp>

namespace peregrine::api {

void throw_failure(const storage::Failure& f, bool name_field) {
  const std::string detail = f.field.empty() || !name_field ? f.detail : f.field + ": " + f.detail;
  switch (f.kind) {
    case storage::Failure::Kind::not_found:
      throw http::Problem(404, "Not Found", detail);
    case storage::Failure::Kind::conflict:
      throw http::Problem(409, "Conflict", detail);
    case storage::Failure::Kind::invalid:
      throw http::Problem(422, "Unprocessable Entity", detail);
    case storage::Failure::Kind::bad_input:
      throw http::Problem(400, "Bad Request", detail);
    case storage::Failure::Kind::not_persisted:
      throw http::Problem(409, "Conflict", detail + "; retry shortly");
  }
  throw http::Problem(500, "Internal Server Error", detail);
}

const devices::Device& require_device(const devices::Registry& registry, const http::Request& req) {
  const std::string& id = req.params.at("id");
  const devices::Device* dev = core::valid_device_id(id) ? registry.find(id) : nullptr;
  if (!dev || dev->rec.tenant != caller_tenant(req))
    throw http::Problem(404, "Not Found", "no device '" + id + "'");
  return *dev;
}

std::optional<core::SeriesKey> series_key(const devices::Device& device, const std::string& metric) {
  for (const auto& s : device.series)
    if (s.metric == metric) return s.key;
  return std::nullopt;
}

boost::asio::awaitable<void> sync_broker_accounts(Context& ctx) {
  if (ctx.mqtt_accounts == nullptr) co_return;
  co_await ctx.repos.devices.sync_broker_accounts(*ctx.mqtt_accounts);
}

void unprocessable(const std::string& detail) { throw http::Problem(422, "Unprocessable Entity", detail); }

}  // namespace peregrine::api
