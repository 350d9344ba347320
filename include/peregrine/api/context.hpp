#pragma once
/// What the REST handlers reach: the event loop's registry, the storage
/// repositories, the live-state reader and readiness probes. Handlers run as
/// coroutines on the event loop; every database call goes through a
/// repository (which runs it on the query pool), never SQL of their own.

#include <functional>
#include <string>
#include <string_view>

#include <peregrine/cache/live_state.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/auth/mqtt_accounts.hpp>
#include <peregrine/auth/token_signer.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/ingest/pipeline.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/storage/repositories.hpp>

namespace peregrine::api {

/// Whether each backing server is connected right now (any thread).
struct Readiness {
  std::function<bool()> postgres;
  std::function<bool()> redis;
  std::function<bool()> mqtt;
};

struct Context {
  devices::Registry& registry;  ///< loop thread only
  storage::Repositories& repos;
  cache::StateReader& state;
  metrics::Registry& metrics;
  Readiness readiness;
  /// HTTP telemetry into ingest::Pipeline::on_telemetry (loop thread only);
  /// `payload` comes from ingest::make_padded. Wired by the app.
  std::function<ingest::IngestOutcome(std::string_view device, const std::string& payload)>
      ingest_http;
  /// True while the storage writer is under pressure (its queue past the
  /// high mark): HTTP ingest then answers 503 with Retry-After. Any thread.
  std::function<bool()> ingest_pressure;
  /// Broker accounts to resync (on a pool thread) after a device's token
  /// changed; null when the password file is not managed.
  auth::MqttAccounts* mqtt_accounts = nullptr;
  /// ingest::Pipeline::remove_device (loop thread only). Wired by the app.
  std::function<bool(std::string_view device)> remove_device;
  /// rules::Engine::rescope (loop thread only): after a device's groups
  /// changed in the registry. Wired by the app.
  std::function<void(const devices::Device&)> rescope;
};

/// After a membership change committed: sets the device's groups in the
/// registry and re-binds its rules at once (loop thread).
void apply_groups(Context& ctx, std::string_view device, std::vector<std::int64_t> groups);
/// The same for a group's members that joined or left it.
void apply_membership(Context& ctx, std::int64_t group, const std::vector<std::string>& joined,
                      const std::vector<std::string>& left);

/// The caller's tenant: the authenticated principal's (a superadmin may act
/// in another with `X-Peregrine-Tenant: <id>`). Throws Problem 401 when the
/// request carries no principal. Handlers must scope every query by it.
core::TenantId caller_tenant(const http::Request& req);

/// `/livez`, `/healthz`, `/readyz`, `/metrics`.
void add_health_routes(http::Router& router, Context& ctx);
/// `/api/v1/devices…` reads: list, one, live state, readings.
void add_device_routes(http::Router& router, Context& ctx);
/// `GET /api/v1/devices/{id}/aggregates`, `GET /api/v1/groups/{id}/aggregates`,
/// `GET /api/v1/export/readings.csv` (viewer).
void add_aggregate_routes(http::Router& router, Context& ctx);
/// `/api/v1/shifts…` (viewer reads, admin writes), `GET /api/v1/devices/{id}/oee`,
/// `GET /api/v1/groups/{id}/oee` (viewer).
void add_oee_routes(http::Router& router, Context& ctx);
/// `/api/v1/groups…`: list and read (viewer), create, patch, delete (admin).
void add_group_routes(http::Router& router, Context& ctx);


/// `/api/v1/auth/login|refresh|logout|me` (login, refresh and logout are
/// public) and `GET /api/v1/routes` (superadmin: the route table with access levels).
void add_auth_routes(http::Router& router, Context& ctx, const auth::TokenSigner& signer);
/// `/api/v1/users…` (admin: own tenant; superadmin: any).
void add_user_routes(http::Router& router, Context& ctx);
/// `/api/v1/tenants…` (superadmin).
void add_tenant_routes(http::Router& router, Context& ctx);
/// `GET /api/v1/audit` (admin: own tenant; superadmin: all).
void add_audit_routes(http::Router& router, Context& ctx);
/// `POST /api/v1/devices` (token shown once), `POST /api/v1/devices/{id}/token`
/// (rotation), `POST /api/v1/devices/{id}/telemetry` (X-Device-Token ingest).
void add_device_credential_routes(http::Router& router, Context& ctx);

}  // namespace peregrine::api
