// Devices' own credentials: creation with a token shown once (only its
// SHA-256 is stored), rotation, and HTTP telemetry authenticated by
// X-Device-Token that enters the same ingest pipeline as MQTT.

#include <peregrine/api/context.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/mqtt_accounts.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/ingest/telemetry_decoder.hpp>
#include <peregrine/storage/device_repository.hpp>

#include "api/auth_support.hpp"
#include "api/device_fields.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

std::string new_device_token() { return "pdt_" + auth::random_hex(32); }


storage::NewDevice parse_new_device(const json& body) {
  storage::NewDevice d;
  d.id = *string_field(body, "id", true);
  if (!core::valid_device_id(d.id)) {
    throw http::Problem(422, "Unprocessable Entity", "'id' must match [A-Za-z0-9_.-]{1,64}");
  }
  d.name = string_field(body, "name", false).value_or(d.id);
  d.type = string_field(body, "type", false).value_or("");
  check_name_type(d.name, d.type);
  if (const auto loc = parse_location(body)) d.location = *loc;
  if (auto m = parse_metadata(body)) d.metadata = std::move(*m);
  if (auto g = parse_group_ids(body)) d.group_ids = std::move(*g);
  return d;
}

awaitable<http::Response> create_device(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  storage::NewDevice d = parse_new_device(body_object(req));
  // Device ids are global (the MQTT topic carries no tenant), so a taken id
  // is a conflict whichever tenant holds it.
  if (ctx.registry.find(d.id)) throw http::Problem(409, "Conflict", "device id already taken");
  const std::string token = new_device_token();
  storage::AuditEntry audit = audit_by(req, tenant, "device.create", "device:" + d.id,
                                       {{"name", d.name}, {"type", d.type}});
  take(co_await ctx.repos.devices.create(tenant, d, storage::hash_token(token), std::move(audit)));
  co_await sync_broker_accounts(ctx);
  // Back on the loop: it may have auto-provisioned the id meanwhile; add()
  // then keeps that one, and its tenant is what the row says after the
  // writer's upsert, so report the conflict instead.
  devices::DeviceRecord rec;
  rec.id = d.id;
  rec.tenant = tenant;
  rec.name = d.name;
  rec.type = d.type;
  devices::Device& dev = ctx.registry.add(std::move(rec));
  if (dev.rec.tenant != tenant) throw http::Problem(409, "Conflict", "device id already taken");
  apply_groups(ctx, d.id, d.group_ids);
  storage::DeviceRow row;
  row.id = d.id;
  row.name = d.name;
  row.type = d.type;
  row.location = d.location;
  row.metadata = d.metadata;
  row.group_ids = d.group_ids;
  json out = device_json(row);
  out["token"] = token;
  co_return http::json_response(req.raw, 201, out);
}

awaitable<http::Response> rotate_token(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::string& id = req.params.at("id");
  const devices::Device* dev = core::valid_device_id(id) ? ctx.registry.find(id) : nullptr;
  if (!dev || dev->rec.tenant != tenant) throw http::Problem(404, "Not Found", "no device '" + id + "'");
  const std::string token = new_device_token();
  storage::AuditEntry audit = audit_by(req, tenant, "device.token_rotate", "device:" + id);
  take(co_await ctx.repos.devices.set_token(tenant, id, storage::hash_token(token), std::move(audit)));
  co_await sync_broker_accounts(ctx);
  co_return http::json_response(req.raw, 200, {{"id", id}, {"token", token}});
}

awaitable<http::Response> ingest_telemetry(Context& ctx, http::Request& req) {
  const std::string id = req.params.at("id");
  const auto header = req.raw.find("X-Device-Token");
  const std::string presented = auth::sha256_hex(header == req.raw.end() ? "" : header->value());
  if (!core::valid_device_id(id)) throw http::Problem(404, "Not Found", "no such device");
  // The lookup runs in the device's tenant; an id the registry does not know
  // is looked up in none, finds no row and is refused like a wrong token.
  const devices::Device* dev = ctx.registry.find(id);
  const storage::Scope scope =
      dev != nullptr ? storage::Scope::tenant(dev->rec.tenant) : storage::Scope::none();
  const bool ok = co_await ctx.repos.devices.token_matches(scope, id, presented);
  // Unknown device and wrong token answer alike: the token is the secret.
  if (!ok) {
    auto p = http::Problem(401, "Unauthorized", "device token does not match this device");
    p.headers.emplace_back("WWW-Authenticate", R"(DeviceToken realm="peregrine")");
    throw p;
  }
  if (!ctx.ingest_http) throw http::Problem(503, "Service Unavailable", "HTTP ingest not wired");
  // The storage writer's queue is past its high mark: refuse now rather than
  // queue without bound. MQTT intake pauses at the same mark (the broker
  // holds its backlog); an HTTP device retries after Retry-After.
  if (ctx.ingest_pressure && ctx.ingest_pressure()) {
    ctx.metrics
        .counter("peregrine_http_ingest_refused_total",
                 "HTTP telemetry answered 503: the storage writer was under pressure")
        .inc();
    auto p = http::Problem(503, "Service Unavailable",
                           "storage is catching up; retry after the Retry-After delay");
    p.headers.emplace_back("Retry-After", "1");
    throw p;
  }
  const ingest::IngestOutcome out = ctx.ingest_http(id, ingest::make_padded(req.raw.body()));
  if (out.reject == ingest::RejectReason::internal)
    throw http::Problem(500, "Internal Server Error", "the reading could not be processed");
  if (out.reject == ingest::RejectReason::device_mismatch)
    throw http::Problem(400, "Bad Request", "'device_id' in the body names another device than the path");
  if (out.reject != ingest::RejectReason::none) {
    throw http::Problem(out.reject == ingest::RejectReason::too_large ? 413 : 400, "Bad Request",
                        "telemetry rejected: " + std::string(ingest::to_string(out.reject)));
  }
  co_return http::json_response(req.raw, 202,
                                {{"stored", out.stored}, {"duplicates", out.duplicates}});
}

}  // namespace

void add_device_credential_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::post, "/api/v1/devices", http::Access::admin, bind(ctx, create_device));
  router.add(bhttp::verb::post, "/api/v1/devices/{id}/token", http::Access::admin, bind(ctx, rotate_token));
  router.add(bhttp::verb::post, "/api/v1/devices/{id}/telemetry", http::Access::device,
             bind(ctx, ingest_telemetry));
}

}  // namespace peregrine::api
