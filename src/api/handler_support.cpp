#include "api/handler_support.hpp"

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

boost::asio::awaitable<void> sync_broker_accounts(Context& ctx) {
  if (ctx.mqtt_accounts == nullptr) co_return;
  co_await ctx.repos.devices.sync_broker_accounts(*ctx.mqtt_accounts);
}

}  // namespace peregrine::api
