// Start-up and shutdown order of the server. Start: migrate, load the
// registry, start the writer and Redis threads, the HTTP listener, then MQTT
// intake last (so nothing arrives before there is somewhere to put it).
// Shutdown reverses it: intake stops first, the loop finishes what was
// already posted to it, then the writer drains to PostgreSQL.

#include <peregrine/app/server.hpp>

#include <algorithm>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <peregrine/api/context.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/mqtt_accounts.hpp>
#include <peregrine/auth/rate_limiter.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/store.hpp>
#include <peregrine/auth/token_signer.hpp>
#include <peregrine/cache/live_state.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/http/server.hpp>
#include <peregrine/ingest/pipeline.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/mqtt/subscriber.hpp>
#include <peregrine/realtime/hub.hpp>
#include <peregrine/storage/device_loader.hpp>
#include <peregrine/storage/migrator.hpp>
#include <peregrine/storage/pg.hpp>
#include <peregrine/storage/reading_writer.hpp>

#include "app/periodic.hpp"
#include "app/rules_wiring.hpp"

namespace peregrine::app {

namespace asio = boost::asio;

namespace {

// "a, b,,c" → {"a", "b", "c"}.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

namespace {

// Applies migrations and prepares the runtime role. The role runtime
// connections take: PEREGRINE_PG_APP_ROLE, or "" (stay the owner) when this
// database login cannot have it; nullopt on failure.
std::optional<std::string> migrate_and_prepare(const config::Config& cfg) {
  try {
    const auto r = storage::migrate(cfg.pg_url, cfg.migrations_dir);
    for (const auto& name : r.applied) spdlog::info("applied migration {}", name);
    spdlog::info("migrations: {} applied, {} already applied", r.applied.size(), r.already);
    if (const auto why = storage::prepare_app_role({cfg.pg_url, cfg.pg_app_role, cfg.pg_app_url})) {
      // Refusing to start would take the whole service down for what the
      // per-query tenant filter still covers; the log says how to fix it.
      spdlog::error("PEREGRINE_PG_APP_ROLE: {}; running as the schema owner, so row-level "
                    "security is not fail-closed. Fix: CREATE ROLE {} NOLOGIN; GRANT {} TO "
                    "<owner> (docs/security.md, \"The database role\")",
                    *why, cfg.pg_app_role, cfg.pg_app_role);
      return std::string();
    }
    return cfg.pg_app_role;
  } catch (const std::exception& e) {
    spdlog::error("migration failed: {}", e.what());
    return std::nullopt;
  }
}

}  // namespace

int migrate(const config::Config& cfg) { return migrate_and_prepare(cfg) ? 0 : 1; }

int serve(const config::Config& cfg) {
  const std::optional<std::string> role = migrate_and_prepare(cfg);
  if (!role) return 1;
  const storage::PgTarget pg{cfg.pg_url, *role, cfg.pg_app_url};

  const core::SystemClock clock;
  if (!auth::init()) {
    spdlog::error("libsodium cannot initialise");
    return 1;
  }
  if (!cfg.admin_email.empty()) {
    try {
      if (auth::bootstrap_admin(*storage::connect(pg, storage::Scope::all()), cfg.admin_email,
                                cfg.admin_password))
        spdlog::info("created the first superadmin from PEREGRINE_ADMIN_EMAIL");
    } catch (const std::exception& e) {
      spdlog::error("PEREGRINE_ADMIN_EMAIL: cannot create the first user: {}", e.what());
      return 1;
    }
  }
  std::string jwt_secret = cfg.jwt_secret;
  if (jwt_secret.empty()) {
    spdlog::warn("PEREGRINE_JWT_SECRET is empty: using a random key, tokens end at restart");
    jwt_secret = auth::TokenSigner::random_secret();
  }
  const auth::TokenSigner signer(std::move(jwt_secret), clock,
                                 std::chrono::seconds(cfg.access_ttl_s));
  const auth::Authenticator authenticator(signer);
  metrics::Registry metrics;
  metrics::register_process_metrics(metrics);
  metrics
      .gauge("peregrine_pg_tenant_wall",
             "1 when queries run as PEREGRINE_PG_APP_ROLE (row-level security fail-closed), "
             "0 when the server fell back to the schema owner")
      .set(role->empty() ? 0 : 1);

  // Spilled series must be in the database before the registry hands out keys.
  std::string spill_dir = cfg.spill_dir;
  if (!spill_dir.empty()) {
    const auto r = storage::replay_spill(pg, spill_dir, &metrics);
    if (!r.usable) {
      spdlog::error("storage spill off (PEREGRINE_STORAGE_SPILL_DIR): {}", r.error);
      spill_dir.clear();
    } else if (!r.ok) {
      spdlog::error("cannot replay the spill in {}: {}", spill_dir, r.error);
      return 1;
    } else if (r.rows > 0 || r.dropped > 0) {
      spdlog::info("replayed {} spilled rows from {} ({} dropped)", r.rows, spill_dir, r.dropped);
    }
  }

  devices::Registry registry;
  try {
    const std::size_t n = storage::load_registry(pg, registry);
    spdlog::info("loaded {} devices", n);
  } catch (const std::exception& e) {
    spdlog::error("cannot load devices from PostgreSQL: {}", e.what());
    return 1;
  }

  asio::io_context ioc(1);

  storage::ReadingWriter writer({.target = pg,
                                 .batch_rows = cfg.batch_rows,
                                 .batch_age = cfg.batch_age,
                                 .queue_rows = cfg.queue_rows,
                                 .partitions_ahead_days = cfg.partitions_ahead_days,
                                 .retention_days = cfg.retention_days,
                                 .spill_dir = spill_dir,
                                 // 1 TiB at most: MiB → bytes cannot overflow.
                                 .spill_max_bytes =
                                     std::min<std::uint64_t>(cfg.spill_max_mb, 1ULL << 20) << 20},
                                metrics);
  const auto redis_target = cache::parse_redis_url(cfg.redis_url);
  if (!redis_target) {
    spdlog::error("PEREGRINE_REDIS_URL: cannot parse '{}'", cfg.redis_url);
    return 1;
  }
  cache::LiveState live(*redis_target, cfg.redis_flush, metrics);
  cache::StateReader state_reader(*redis_target);
  realtime::Hub hub(ioc, {.session_queue = cfg.ws_queue_messages}, metrics);
  RulesWiring rules(ioc, clock, registry, hub, metrics, pg);

  ingest::Pipeline pipeline({.auto_provision = cfg.auto_provision,
                             .max_payload_bytes = cfg.mqtt_max_payload,
                             .max_past_us = cfg.max_past_days * 86400LL * 1'000'000},
                            clock, registry, writer, live, hub, rules.hook(), metrics);

  storage::QueryPool pool(pg, cfg.query_threads);
  mqtt::Subscriber subscriber(
      {.url = cfg.mqtt_url,
       .client_id = cfg.mqtt_client_id,
       .username = cfg.mqtt_username,
       .password = cfg.mqtt_password,
       .ca_file = cfg.mqtt_ca_file,
       .max_payload = cfg.mqtt_max_payload},
      [&](mqtt::Inbound&& m) {
        asio::post(ioc, [&pipeline, m = std::move(m)] {
          if (m.too_large)
            pipeline.on_oversized(m.topic);
          else
            pipeline.on_mqtt(m.topic, m.payload, m.arrival_us, m.arrival_ns);
        });
      },
      [&writer] { return writer.pressure(); }, metrics);

  auth::MqttAccounts mqtt_accounts({.passwd_file = cfg.mqtt_passwd_file,
                                    .pid_file = cfg.mqtt_reload_pid_file,
                                    .own_user = cfg.mqtt_username,
                                    .own_password = cfg.mqtt_password});
  if (mqtt_accounts.enabled()) {
    // Before MQTT intake starts, so the broker knows Peregrine's own account.
    try {
      if (!mqtt_accounts.sync(*storage::connect(pg, storage::Scope::all()))) return 1;
    } catch (const std::exception& e) {
      spdlog::error("PEREGRINE_MQTT_PASSWD_FILE: cannot read device accounts: {}", e.what());
      return 1;
    }
  }

  http::Router router;
  api::Context api_ctx{registry, pool, state_reader, metrics,
                       {.postgres = [&writer] { return writer.connected(); },
                        .redis = [&live] { return live.connected(); },
                        .mqtt = [&subscriber] { return subscriber.connected(); }},
                       [&pipeline, &clock](std::string_view device, const std::string& payload) {
                         return pipeline.on_telemetry(device, payload, clock.now_us(),
                                                      core::steady_ns());
                       },
                       mqtt_accounts.enabled() ? &mqtt_accounts : nullptr,
                       [&pipeline](std::string_view device) { return pipeline.remove_device(device); }};
  api::add_health_routes(router, api_ctx);
  api::add_device_routes(router, api_ctx);
  api::add_auth_routes(router, api_ctx, signer);
  api::add_user_routes(router, api_ctx);
  api::add_tenant_routes(router, api_ctx);
  api::add_audit_routes(router, api_ctx);
  api::add_device_credential_routes(router, api_ctx);
  rules.add_routes(router, pool);

  http::Server http_server(ioc, {.addr = cfg.http_addr, .web_root = cfg.web_root,
                                 .body_limit = cfg.http_body_limit,
                                 .cors_origins = split_list(cfg.cors_origins),
                                 .tls_cert = cfg.tls_cert,
                                 .tls_key = cfg.tls_key},
                           router, metrics);
  auth::RateLimiter limiter(*redis_target, metrics);
  const auto burst = static_cast<std::uint32_t>(cfg.rate_burst_seconds);
  http_server.set_guard(auth::limited_guard(
      authenticator, limiter,
      {.login = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_login_per_min), burst),
       .ingest = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_ingest_per_min), burst),
       .api = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_api_per_min), burst)}));
  hub.set_authenticator([&authenticator](std::string_view token,
                                         std::optional<core::TenantId> requested) {
    auto grant = authenticator.stream_tenant(token, requested);
    return realtime::WsAuth{grant.tenant, grant.status, std::move(grant.detail),
                            grant.expires_us};
  });
  http_server.set_upgrade_handler([&hub](asio::ip::tcp::socket s, http::RawRequest r) {
    hub.accept(std::move(s), std::move(r));
  });
  http_server.set_tls_upgrade_handler(
      [&hub](std::shared_ptr<http::TlsSocket> s, http::RawRequest r) {
        hub.accept_tls(std::move(s), std::move(r));
      });

  writer.start();
  live.start();
  try {
    http_server.start();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve http on {} (PEREGRINE_HTTP_ADDR, PEREGRINE_TLS_*): {}",
                  cfg.http_addr, e.what());
    writer.stop();
    live.stop();
    return 1;
  }
  if (!rules.start()) {
    http_server.stop();
    writer.stop();
    live.stop();
    return 1;
  }
  Periodic live_flush(ioc, cfg.redis_flush, [&] { pipeline.flush_live(); });
  Periodic state_flush(ioc, std::chrono::seconds(1), [&] { pipeline.flush_device_states(); });
  subscriber.start();
  spdlog::info("peregrine {} serving http on {} (port {}), mqtt {}", PEREGRINE_VERSION_STRING,
               cfg.http_addr, http_server.port(), cfg.mqtt_url);

  std::thread stopper;
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping intake and draining readings", sig);
    http_server.stop();
    // Disconnecting Paho joins its delivery thread, which may be waiting on
    // back-pressure; do it off the loop so the loop keeps draining.
    stopper = std::thread([&] {
      subscriber.stop();
      // Runs after every message the subscriber posted before it stopped.
      asio::post(ioc, [&] {
        pipeline.flush_live();
        pipeline.flush_device_states();
        rules.stop();
        live_flush.cancel();
        state_flush.cancel();
        hub.close_all();
        ioc.stop();
      });
    });
  });

  ioc.run();
  if (stopper.joinable()) stopper.join();

  limiter.stop();
  pool.stop();
  writer.stop();
  live.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace peregrine::app
