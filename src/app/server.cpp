// Start-up and shutdown order of the server. Start: migrate, create the
// first admin, replay the spill, load the registry, build the modules and
// connect them, start the writer and Redis threads, the HTTP listener, the
// alerts service, then MQTT intake last (so nothing arrives before there is
// somewhere to put it). Shutdown reverses it: intake stops first, the loop
// finishes what was already posted to it, then the alert store and the
// writer drain to PostgreSQL. An exception out of the loop drains the same
// way and exits non-zero.

#include <peregrine/app/server.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <peregrine/alerts/service.hpp>
#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/api/control.hpp>
#include <peregrine/api/response.hpp>
#include <peregrine/delivery/sender.hpp>
#include <peregrine/notifications/notify.hpp>
#include <peregrine/storage/response_repository.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/mqtt_accounts.hpp>
#include <peregrine/auth/rate_limiter.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/token_signer.hpp>
#include <peregrine/cache/live_state.hpp>
#include <peregrine/commands/command_action.hpp>
#include <peregrine/commands/service.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/core/loop_timers.hpp>
#include <peregrine/http/server.hpp>
#include <peregrine/ingest/pipeline.hpp>
#include <peregrine/jobs/service.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/mqtt/subscriber.hpp>
#include <peregrine/realtime/hub.hpp>
#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/device_loader.hpp>
#include <peregrine/storage/device_repository.hpp>
#include <peregrine/storage/migrator.hpp>
#include <peregrine/storage/pg.hpp>
#include <peregrine/storage/query_pool.hpp>
#include <peregrine/storage/reading_writer.hpp>
#include <peregrine/storage/repositories.hpp>
#include <peregrine/storage/user_repository.hpp>

#include "app/adapters.hpp"

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

bool bootstrap_first_admin(const config::Config& cfg, const storage::PgTarget& pg) {
  if (cfg.admin_email.empty()) return true;
  try {
    if (storage::bootstrap_admin(pg, cfg.admin_email, cfg.admin_password))
      spdlog::info("created the first superadmin from PEREGRINE_ADMIN_EMAIL");
    return true;
  } catch (const std::exception& e) {
    spdlog::error("PEREGRINE_ADMIN_EMAIL: cannot create the first user: {}", e.what());
    return false;
  }
}

// Spilled series must be in the database before the registry hands out
// keys. Returns the spill directory to use ("" = spill off), or nullopt
// when the spill exists and cannot be replayed.
std::optional<std::string> replay_spill(const config::Config& cfg, const storage::PgTarget& pg,
                                        metrics::Registry& metrics) {
  if (cfg.spill_dir.empty()) return std::string();
  const auto r = storage::replay_spill(pg, cfg.spill_dir, &metrics);
  if (!r.usable) {
    spdlog::error("storage spill off (PEREGRINE_STORAGE_SPILL_DIR): {}", r.error);
    return std::string();
  }
  if (!r.ok) {
    spdlog::error("cannot replay the spill in {}: {}", cfg.spill_dir, r.error);
    return std::nullopt;
  }
  if (r.rows > 0 || r.dropped > 0)
    spdlog::info("replayed {} spilled rows from {} ({} dropped)", r.rows, cfg.spill_dir, r.dropped);
  return cfg.spill_dir;
}

bool load_devices(const storage::PgTarget& pg, devices::Registry& registry) {
  try {
    spdlog::info("loaded {} devices", storage::load_registry(pg, registry));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("cannot load devices from PostgreSQL: {}", e.what());
    return false;
  }
}

struct ControlState {
  alerts::StartState alerting;
  storage::CommandStartState commands;
  jobs::JobStartState jobs;
};

bool load_control(const storage::PgTarget& pg, ControlState& out) {
  try {
    out.alerting = storage::load_alerting_state(pg);
    out.commands = storage::load_command_state(pg);
    out.jobs = storage::load_job_state(pg);
    return true;
  } catch (const std::exception& e) {
    spdlog::error("cannot load rules, alerts, commands and jobs from PostgreSQL: {}", e.what());
    return false;
  }
}

// Before MQTT intake starts, so the broker knows Peregrine's own account.
bool sync_broker_accounts(auth::MqttAccounts& accounts, const storage::PgTarget& pg) {
  if (!accounts.enabled()) return true;
  try {
    return accounts.sync(storage::load_broker_accounts(pg));
  } catch (const std::exception& e) {
    spdlog::error("PEREGRINE_MQTT_PASSWD_FILE: cannot read device accounts: {}", e.what());
    return false;
  }
}

storage::WriterOptions writer_options(const config::Config& cfg, const storage::PgTarget& pg,
                                               std::string spill_dir) {
  return {.target = pg,
          .batch_rows = cfg.batch_rows,
          .batch_age = cfg.batch_age,
          .queue_rows = cfg.queue_rows,
          .partitions_ahead_days = cfg.partitions_ahead_days,
          .retention_days = cfg.retention_days,
          .rollup_1m_retention_days = cfg.rollup_1m_retention_days,
          .rollup_1h_retention_days = cfg.rollup_1h_retention_days,
          .spill_dir = std::move(spill_dir),
          // 1 TiB at most: MiB → bytes cannot overflow.
          .spill_max_bytes = std::min<std::uint64_t>(cfg.spill_max_mb, 1ULL << 20) << 20,
          .rollup_every = cfg.rollup_every,
          .rollup_lag = cfg.rollup_lag};
}

void add_api_routes(http::Router& router, api::Context& ctx, api::AlertingContext& alerting,
                    api::ControlContext& control, api::ResponseContext& response,
                    const auth::TokenSigner& signer) {
  api::add_health_routes(router, ctx);
  api::add_device_routes(router, ctx);
  api::add_auth_routes(router, ctx, signer);
  api::add_user_routes(router, ctx);
  api::add_tenant_routes(router, ctx);
  api::add_audit_routes(router, ctx);
  api::add_device_credential_routes(router, ctx);
  api::add_rule_routes(router, alerting);
  api::add_alert_routes(router, alerting);
  api::add_chart_routes(router, alerting);
  api::add_group_routes(router, ctx);
  api::add_aggregate_routes(router, ctx);
  api::add_oee_routes(router, ctx);
  api::add_command_routes(router, control);
  api::add_job_routes(router, control);
  api::add_config_routes(router, control);
  api::add_bulk_routes(router, control);
  api::add_response_routes(router, response);
  api::add_incident_routes(router, response);
}

auth::RateLimits rate_limits(const config::Config& cfg) {
  const auto burst = static_cast<std::uint32_t>(cfg.rate_burst_seconds);
  return {.login = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_login_per_min), burst),
          .ingest = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_ingest_per_min), burst),
          .api = auth::limit_per_minute(static_cast<std::uint32_t>(cfg.rate_api_per_min), burst)};
}

// WebSocket upgrades go to the hub, which authenticates with the same tokens.
void connect_websockets(http::Server& http_server, realtime::Hub& hub,
                        const auth::Authenticator& authenticator) {
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
}

// MQTT messages posted to the loop and not yet run: Paho's thread adds, the
// loop takes away. Past `limit` intake waits (back-pressure to the broker),
// as it does while the storage writer is under pressure.
class LoopBacklog {
 public:
  // The gauge reads the count when scraped: nothing but the counter itself
  // is touched per message.
  LoopBacklog(std::size_t limit, metrics::Registry& metrics) : limit_(limit) {
    metrics.gauge_fn("peregrine_ingest_loop_backlog",
                     "MQTT messages handed to the event loop and not yet processed",
                     [this] { return static_cast<double>(n_.load(std::memory_order_relaxed)); });
  }
  void added() noexcept { n_.fetch_add(1, std::memory_order_relaxed); }
  void taken() noexcept { n_.fetch_sub(1, std::memory_order_relaxed); }
  bool full() const noexcept { return n_.load(std::memory_order_relaxed) >= limit_; }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> n_{0};
};

}  // namespace

int migrate(const config::Config& cfg) { return migrate_and_prepare(cfg) ? 0 : 1; }

int serve(const config::Config& cfg) {
  const std::optional<std::string> role = migrate_and_prepare(cfg);
  if (!role) return 1;
  const storage::PgTarget pg{cfg.pg_url, *role, cfg.pg_app_url};
  if (!auth::init()) {
    spdlog::error("libsodium cannot initialise");
    return 1;
  }
  if (!bootstrap_first_admin(cfg, pg)) return 1;

  const core::SystemClock clock;
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

  const std::optional<std::string> spill_dir = replay_spill(cfg, pg, metrics);
  if (!spill_dir) return 1;
  devices::Registry registry;
  if (!load_devices(pg, registry)) return 1;
  // Alerts an earlier run spilled must be rows before the open ones are loaded.
  storage::AlertStore alert_store(
      pg, metrics,
      {.spill_dir = spill_dir->empty() ? std::string() : *spill_dir + "/alerts",
       .spill_max_bytes = std::min<std::uint64_t>(cfg.spill_max_mb, 1ULL << 20) << 20});
  if (!alert_store.replay_spill()) return 1;
  ControlState control_state;
  if (!load_control(pg, control_state)) return 1;
  const auto redis_target = cache::parse_redis_url(cfg.redis_url);
  if (!redis_target) {
    spdlog::error("PEREGRINE_REDIS_URL: cannot parse '{}'", cfg.redis_url);
    return 1;
  }
  auth::MqttAccounts mqtt_accounts({.passwd_file = cfg.mqtt_passwd_file,
                                    .pid_file = cfg.mqtt_reload_pid_file,
                                    .own_user = cfg.mqtt_username,
                                    .own_password = cfg.mqtt_password});
  if (!sync_broker_accounts(mqtt_accounts, pg)) return 1;

  // The modules, each connected to what it feeds.
  asio::io_context ioc(1);
  storage::ReadingWriter writer(writer_options(cfg, pg, *spill_dir), metrics);
  cache::LiveState live(*redis_target, cfg.redis_flush, metrics);
  cache::StateReader state_reader(*redis_target);
  realtime::Hub hub(ioc, {.session_queue = cfg.ws_queue_messages}, metrics);
  alerts::Service alerts(ioc, clock, alert_store, hub, metrics);
  ingest::Pipeline pipeline({.auto_provision = cfg.auto_provision,
                             .max_payload_bytes = cfg.mqtt_max_payload,
                             .max_past_us = cfg.max_past_days * 86400LL * 1'000'000},
                            clock, registry, writer, live, hub, alerts, metrics);

  LoopBacklog backlog(cfg.loop_backlog, metrics);
  mqtt::Subscriber subscriber(
      {.url = cfg.mqtt_url,
       .client_id = cfg.mqtt_client_id,
       .username = cfg.mqtt_username,
       .password = cfg.mqtt_password,
       .ca_file = cfg.mqtt_ca_file,
       .max_payload = cfg.mqtt_max_payload},
      [&ioc, &pipeline, &backlog](mqtt::Inbound&& m) {
        backlog.added();
        asio::post(ioc, [&pipeline, &backlog, m = std::move(m)] {
          backlog.taken();
          if (m.too_large)
            pipeline.on_oversized(m.topic);
          else
            pipeline.on_mqtt(m.topic, m.payload, m.arrival_us, m.arrival_ns);
        });
      },
      [&writer, &backlog] { return writer.pressure() || backlog.full(); }, metrics);

  // Commands and jobs: what alerts and operators set in motion.
  MqttCommandPublisher command_publisher(subscriber);
  alert_store.set_publisher([&subscriber](const std::string& topic, const std::string& payload) {
    return subscriber.publish(topic, payload, 1, false);
  });
  commands::Service command_service(ioc, clock, registry, alert_store, command_publisher, hub, metrics);
  HubJobFrames job_frames(hub);
  jobs::Service job_service(ioc, clock, alert_store, job_frames, command_service, metrics);
  command_service.add_observer(job_service);
  commands::CommandAction command_action(command_service, registry, alerts.control());
  command_service.add_observer(command_action);
  command_action.restore_fallen_back(std::move(control_state.commands.fallen_back_runs));
  alerts.add_executor("command", command_action);
  // Alert response: notify steps go to the outbox in the alert store's
  // transactions; the sender works it off the loop.
  notifications::Silences silences(registry);
  try {
    silences.load(storage::load_silences(pg));
  } catch (const std::exception& e) {
    spdlog::error("cannot load silences: {}", e.what());
    return 1;
  }
  alerts.set_silences(silences);
  notifications::NotifyAction notify_action(alert_store, registry, clock, {.public_url = cfg.public_url});
  alerts.add_executor("notify", notify_action);
  alerts.add_listener(notify_action);
  delivery::Sender sender(pg, metrics,
                          {.max_attempts = cfg.notify_max_attempts,
                           .retry_base = cfg.notify_retry_base,
                           .retry_max = cfg.notify_retry_max,
                           .max_reminders = cfg.notify_max_reminders,
                           .request_timeout = cfg.notify_timeout,
                           .max_in_flight = static_cast<std::size_t>(cfg.notify_parallel)});
  alert_store.set_on_notified([&sender] { sender.kick(); });
  boost::asio::thread_pool channel_tests(1);
  storage::QueryPool pool(pg, cfg.query_threads, cfg.query_queue, &metrics);
  storage::Repositories repos(pool);
  // Device configuration: retained devices/{id}/config out, config/applied in.
  fleet::ConfigService config_service(
      ioc, repos.configs,
      [&subscriber](const std::string& topic, const std::string& payload, std::function<void()> on_published) {
        return subscriber.publish(topic, payload, 1, true, std::move(on_published));
      },
      [&hub](core::TenantId tenant, const nlohmann::json& state) { hub.publish_config(tenant, state); }, job_service,
      metrics);
  CommandDeviceEvents device_events(command_service, config_service);
  pipeline.set_device_events(&device_events);


  http::Router router;
  api::Context api_ctx{registry, repos, state_reader, metrics,
                       {.postgres = [&writer] { return writer.connected(); },
                        .redis = [&live] { return live.connected(); },
                        .mqtt = [&subscriber] { return subscriber.connected(); }},
                       [&pipeline, &clock](std::string_view device, const std::string& payload) {
                         return pipeline.on_telemetry(device, payload, clock.now_us(),
                                                      core::steady_ns());
                       },
                       [&writer] { return writer.pressure(); },
                       mqtt_accounts.enabled() ? &mqtt_accounts : nullptr,
                       [&pipeline](std::string_view device) { return pipeline.remove_device(device); },
                       [&alerts](const devices::Device& dev) { alerts.engine().rescope(dev); }};
  api::AlertingContext alerting_ctx{repos,           registry, alerts.engine(), alerts.manager(),
                                    alerts.clock(), [&alerts] { alerts.changed(); }};
  boost::asio::thread_pool chart_renders(1);
  alerting_ctx.render = &chart_renders;
  api::ControlContext control_ctx{api_ctx, command_service, job_service, config_service};
  api::ResponseContext response_ctx{api_ctx,          silences, hub, channel_tests, cfg.public_url,
                                    cfg.notify_timeout};
  add_api_routes(router, api_ctx, alerting_ctx, control_ctx, response_ctx, signer);

  http::Server http_server(ioc, {.addr = cfg.http_addr, .web_root = cfg.web_root,
                                 .body_limit = cfg.http_body_limit,
                                 .max_connections = cfg.http_max_connections,
                                 .cors_origins = split_list(cfg.cors_origins),
                                 .tls_cert = cfg.tls_cert,
                                 .tls_key = cfg.tls_key},
                           router, metrics);
  auth::RateLimiter limiter(*redis_target, metrics);
  http_server.set_guard(auth::limited_guard(authenticator, limiter, rate_limits(cfg)));
  connect_websockets(http_server, hub, authenticator);

  // Start, in order.
  writer.start();
  live.start();
  alert_store.start();
  sender.start();
  const auto stop_threads = [&] {
    sender.stop();  // transfers in flight get a few seconds; the rest are sent after the restart
    limiter.stop();
    pool.stop();
    alert_store.stop();  // everything the service handed it, bounded while PostgreSQL is away
    writer.stop();
    live.stop();
  };
  try {
    http_server.start();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve http on {} (PEREGRINE_HTTP_ADDR, PEREGRINE_TLS_*): {}",
                  cfg.http_addr, e.what());
    stop_threads();
    return 1;
  }
  alerts.start(std::move(control_state.alerting));
  // Jobs first: a queued command sent at start moves its job's item.
  const std::vector<jobs::Job> running_jobs = control_state.jobs.running;
  job_service.start(std::move(control_state.jobs));
  config_service.start(running_jobs);
  command_service.start(std::move(control_state.commands.pending));
  core::Periodic live_flush(ioc, cfg.redis_flush, [&] { pipeline.flush_live(); });
  core::Periodic state_flush(ioc, std::chrono::seconds(1), [&] { pipeline.flush_device_states(); });
  subscriber.start();
  spdlog::info("peregrine {} serving http on {} (port {}), mqtt {}", PEREGRINE_VERSION_STRING,
               cfg.http_addr, http_server.port(), cfg.mqtt_url);

  // What the loop does last, after intake stopped: flush and stop.
  const auto finish_on_loop = [&] {
    pipeline.flush_live();
    pipeline.flush_device_states();
    config_service.stop();
    job_service.stop();
    command_service.stop();
    alerts.stop();
    live_flush.cancel();
    state_flush.cancel();
    hub.close_all();
  };
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
        finish_on_loop();
        ioc.stop();
      });
    });
  });

  int rc = 0;
  try {
    ioc.run();
  } catch (const std::exception& e) {
    // A bug let an exception out of a handler: the loop is gone, so this
    // thread owns its state now. Stop intake, keep what was taken, exit 1.
    spdlog::critical("event loop failed: {}; draining and exiting", e.what());
    rc = 1;
    signals.cancel();
    http_server.stop();
    if (!stopper.joinable()) subscriber.stop();
    finish_on_loop();
  }
  if (stopper.joinable()) stopper.join();
  stop_threads();
  spdlog::info("stopped");
  return rc;
}

}  // namespace peregrine::app
