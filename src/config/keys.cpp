#include "config/keys.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace peregrine::config::detail {
namespace {

std::string got(std::string_view text) { return ", got \"" + std::string(text) + "\""; }

// Decimal digits only: no sign, no spaces, no "0x", no trailing junk.
std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto res = std::from_chars(text.data(), end, v);
  if (text.empty() || res.ec != std::errc{} || res.ptr != end) return std::nullopt;
  return v;
}

template <typename T>
Setter count(T Config::*field, std::uint64_t min) {
  return [field, min](Config& c, std::string_view text) -> std::optional<std::string> {
    const auto v = parse_uint(text);
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (!v || *v < min || *v > max) {
      return std::string(min > 0 ? "must be a positive integer" : "must be a non-negative integer") +
             got(text);
    }
    c.*field = static_cast<T>(*v);
    return std::nullopt;
  };
}

Setter millis(std::chrono::milliseconds Config::*field) {
  return [field](Config& c, std::string_view text) -> std::optional<std::string> {
    const auto v = parse_uint(text);
    if (!v || *v == 0 || *v > 86'400'000) {
      return "must be a positive number of milliseconds" + got(text);
    }
    c.*field = std::chrono::milliseconds(*v);
    return std::nullopt;
  };
}

Setter text_field(std::string Config::*field, bool required) {
  return [field, required](Config& c, std::string_view text) -> std::optional<std::string> {
    if (required && text.empty()) return "must not be empty";
    c.*field = text;
    return std::nullopt;
  };
}

Setter address(std::string Config::*field) {
  return [field](Config& c, std::string_view text) -> std::optional<std::string> {
    const auto colon = text.rfind(':');
    const auto fail = "expected host:port" + got(text);
    if (colon == std::string_view::npos || colon == 0) return fail;
    const auto host = text.substr(0, colon);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (!bracketed && host.find_first_of(":[] ") != std::string_view::npos) return fail;
    const auto port = parse_uint(text.substr(colon + 1));
    if (!port || *port > 65535) return fail;
    c.*field = text;
    return std::nullopt;
  };
}

Setter url(std::string Config::*field, std::vector<std::string_view> schemes) {
  return [field, schemes](Config& c, std::string_view text) -> std::optional<std::string> {
    for (std::string_view s : schemes) {
      if (text.size() > s.size() && text.starts_with(s)) {
        c.*field = text;
        return std::nullopt;
      }
    }
    std::string want;
    for (std::string_view s : schemes) {
      if (!want.empty()) want += " or ";
      want += s;
    }
    return "expected a URL starting with " + want + got(text);
  };
}

Setter flag(bool Config::*field) {
  return [field](Config& c, std::string_view text) -> std::optional<std::string> {
    std::string v(text);
    for (char& ch : v) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    if (v == "true" || v == "1" || v == "yes") {
      c.*field = true;
    } else if (v == "false" || v == "0" || v == "no") {
      c.*field = false;
    } else {
      return "expected true/false/1/0/yes/no" + got(text);
    }
    return std::nullopt;
  };
}

Setter log_level() {
  return [](Config& c, std::string_view text) -> std::optional<std::string> {
    for (std::string_view l : {"trace", "debug", "info", "warn", "error"}) {
      if (text == l) {
        c.log_level = text;
        return std::nullopt;
      }
    }
    return "expected trace, debug, info, warn or error" + got(text);
  };
}

using K = ValueKind;

}  // namespace

const std::vector<KeyDef>& key_defs() {
  static const std::vector<KeyDef> defs = {
      {{"http.addr", "PEREGRINE_HTTP_ADDR", "REST + WebSocket + dashboard listen address"},
       K::string, address(&Config::http_addr)},
      {{"http.web_root", "PEREGRINE_WEB_ROOT", "directory the dashboard is served from"},
       K::string, text_field(&Config::web_root, true)},
      {{"http.body_limit", "PEREGRINE_HTTP_BODY_LIMIT", "largest request body accepted, bytes"},
       K::integer, count(&Config::http_body_limit, 1)},
      {{"http.max_connections", "PEREGRINE_HTTP_MAX_CONNECTIONS",
        "HTTP connections served at once; more are answered 503 and closed"},
       K::integer, count(&Config::http_max_connections, 1)},
      {{"http.cors_origins", "PEREGRINE_CORS_ORIGINS",
        "origins allowed to call the API from a browser, comma-separated (empty = none)"},
       K::string, text_field(&Config::cors_origins, false)},
      {{"http.tls_cert", "PEREGRINE_TLS_CERT",
        "PEM certificate chain: serve HTTPS/WSS (empty = plain HTTP)"},
       K::string, text_field(&Config::tls_cert, false)},
      {{"http.tls_key", "PEREGRINE_TLS_KEY", "PEM private key of that certificate"},
       K::string, text_field(&Config::tls_key, false)},
      {{"postgres.url", "PEREGRINE_PG_URL", "PostgreSQL URI"},
       K::string, url(&Config::pg_url, {"postgresql://", "postgres://"})},
      {{"postgres.app_role", "PEREGRINE_PG_APP_ROLE",
        "role the server's runtime connections switch to (owns nothing; row-level security)"},
       K::string, text_field(&Config::pg_app_role, true)},
      {{"postgres.app_url", "PEREGRINE_PG_APP_URL",
        "login for runtime connections (that role or a member); empty = the owner's URL"},
       K::string, text_field(&Config::pg_app_url, false)},
      {{"postgres.migrations_dir", "PEREGRINE_MIGRATIONS_DIR",
        "directory of the NNNN_*.sql migrations applied at start"},
       K::string, text_field(&Config::migrations_dir, true)},
      {{"postgres.query_threads", "PEREGRINE_QUERY_THREADS", "connections serving REST queries"},
       K::integer, count(&Config::query_threads, 1)},
      {{"postgres.query_queue", "PEREGRINE_QUERY_QUEUE",
        "REST queries waiting for a connection at most; more are answered 503"},
       K::integer, count(&Config::query_queue, 1)},
      {{"redis.url", "PEREGRINE_REDIS_URL", "Redis URI"},
       K::string, url(&Config::redis_url, {"redis://"})},
      {{"redis.flush_ms", "PEREGRINE_REDIS_FLUSH_MS", "live-state flush interval, ms"},
       K::integer, millis(&Config::redis_flush)},
      {{"mqtt.url", "PEREGRINE_MQTT_URL", "MQTT broker URI"},
       K::string, url(&Config::mqtt_url, {"tcp://", "ssl://", "mqtt://", "mqtts://"})},
      {{"mqtt.client_id", "PEREGRINE_MQTT_CLIENT_ID",
        "MQTT client id (persistent session key); empty = peregrine-<hostname>"},
       K::string, text_field(&Config::mqtt_client_id, false)},
      {{"mqtt.username", "PEREGRINE_MQTT_USERNAME", "MQTT user name (empty = anonymous)"},
       K::string, text_field(&Config::mqtt_username, false)},
      {{"mqtt.password", "PEREGRINE_MQTT_PASSWORD", "MQTT password"},
       K::string, text_field(&Config::mqtt_password, false)},
      {{"mqtt.max_payload", "PEREGRINE_MQTT_MAX_PAYLOAD", "largest MQTT payload accepted, bytes"},
       K::integer, count(&Config::mqtt_max_payload, 1)},
      {{"mqtt.ca_file", "PEREGRINE_MQTT_CA_FILE",
        "CA certificates (PEM) that verify the broker of an ssl:// URL (empty = system CAs)"},
       K::string, text_field(&Config::mqtt_ca_file, false)},
      {{"mqtt.passwd_file", "PEREGRINE_MQTT_PASSWD_FILE",
        "Mosquitto password file written from the device registry (empty = not written)"},
       K::string, text_field(&Config::mqtt_passwd_file, false)},
      {{"mqtt.reload_pid_file", "PEREGRINE_MQTT_RELOAD_PID_FILE",
        "pid file of the Mosquitto to send SIGHUP after the password file changed"},
       K::string, text_field(&Config::mqtt_reload_pid_file, false)},
      {{"ingest.auto_provision", "PEREGRINE_AUTO_PROVISION",
        "create unknown devices that publish telemetry (false: reject and count)"},
       K::boolean, flag(&Config::auto_provision)},
      {{"ingest.max_past_days", "PEREGRINE_INGEST_MAX_PAST_DAYS",
        "readings older than this many days are rejected"},
       K::integer, count(&Config::max_past_days, 1)},
      {{"ingest.loop_backlog", "PEREGRINE_INGEST_LOOP_BACKLOG",
        "MQTT messages handed to the event loop and not yet processed, at most; past it intake pauses"},
       K::integer, count(&Config::loop_backlog, 1)},
      {{"storage.batch_rows", "PEREGRINE_STORAGE_BATCH_ROWS", "rows per COPY batch, at most"},
       K::integer, count(&Config::batch_rows, 1)},
      {{"storage.batch_ms", "PEREGRINE_STORAGE_BATCH_MS", "oldest row waits this long, ms"},
       K::integer, millis(&Config::batch_age)},
      {{"storage.rollup_every_ms", "PEREGRINE_STORAGE_ROLLUP_EVERY_MS",
        "how often the 1 min / 1 h rollups take in the newest raw rows, ms"},
       K::integer, millis(&Config::rollup_every)},
      {{"storage.rollup_lag_ms", "PEREGRINE_STORAGE_ROLLUP_LAG_MS",
        "rollups take in rows older than this, ms (newer rows are read raw)"},
       K::integer, millis(&Config::rollup_lag)},
      {{"storage.queue_rows", "PEREGRINE_STORAGE_QUEUE_ROWS",
        "rows queued for the writer before ingest sheds load"},
       K::integer, count(&Config::queue_rows, 1)},
      {{"storage.partitions_ahead_days", "PEREGRINE_STORAGE_PARTITIONS_AHEAD",
        "daily partitions created ahead of time"},
       K::integer, count(&Config::partitions_ahead_days, 1)},
      {{"storage.retention_days", "PEREGRINE_STORAGE_RETENTION_DAYS",
        "drop partitions older than this many days (0 = keep everything)"},
       K::integer, count(&Config::retention_days, 0)},
      {{"storage.rollup_1m_retention_days", "PEREGRINE_STORAGE_ROLLUP_1M_RETENTION_DAYS",
        "delete 1-minute rollups older than this many days (0 = keep everything)"},
       K::integer, count(&Config::rollup_1m_retention_days, 0)},
      {{"storage.rollup_1h_retention_days", "PEREGRINE_STORAGE_ROLLUP_1H_RETENTION_DAYS",
        "delete 1-hour rollups older than this many days (0 = keep everything)"},
       K::integer, count(&Config::rollup_1h_retention_days, 0)},
      {{"storage.spill_dir", "PEREGRINE_STORAGE_SPILL_DIR",
        "spill file directory for rows PostgreSQL cannot take (empty = no spill)"},
       K::string, text_field(&Config::spill_dir, false)},
      {{"storage.spill_max_mb", "PEREGRINE_STORAGE_SPILL_MAX_MB",
        "spill file size cap, MiB (then MQTT intake pauses)"},
       K::integer, count(&Config::spill_max_mb, 1)},
      {{"realtime.ws_queue_messages", "PEREGRINE_WS_QUEUE",
        "messages queued per WebSocket client before coalescing"},
       K::integer, count(&Config::ws_queue_messages, 1)},
      {{"auth.admin_email", "PEREGRINE_ADMIN_EMAIL",
        "first superadmin, created at start when no user exists (empty = none)"},
       K::string, text_field(&Config::admin_email, false)},
      {{"auth.admin_password", "PEREGRINE_ADMIN_PASSWORD", "password of that first user"},
       K::string, text_field(&Config::admin_password, false)},
      {{"auth.jwt_secret", "PEREGRINE_JWT_SECRET",
        "HMAC key for access tokens (empty = random per start)"},
       K::string, text_field(&Config::jwt_secret, false)},
      {{"auth.access_ttl_s", "PEREGRINE_ACCESS_TOKEN_TTL_S",
        "lifetime of an access token, seconds (also how long a WebSocket lives without renewal)"},
       K::integer, count(&Config::access_ttl_s, 30)},
      {{"rate.login_per_min", "PEREGRINE_RATE_LOGIN_PER_MIN",
        "logins per minute per client IP (0 = unlimited)"},
       K::integer, count(&Config::rate_login_per_min, 0)},
      {{"rate.ingest_per_min", "PEREGRINE_RATE_INGEST_PER_MIN",
        "HTTP telemetry posts per minute per device (0 = unlimited)"},
       K::integer, count(&Config::rate_ingest_per_min, 0)},
      {{"rate.api_per_min", "PEREGRINE_RATE_API_PER_MIN",
        "API calls per minute per user (0 = unlimited)"},
       K::integer, count(&Config::rate_api_per_min, 0)},
      {{"rate.burst_seconds", "PEREGRINE_RATE_BURST_SECONDS",
        "a burst may use this many seconds' worth of a limit at once"},
       K::integer, count(&Config::rate_burst_seconds, 1)},
      {{"notifications.public_url", "PEREGRINE_PUBLIC_URL",
        "the dashboard's address as users reach it: links to alerts in messages"},
       K::string, url(&Config::public_url, {"http://", "https://"})},
      {{"notifications.max_attempts", "PEREGRINE_NOTIFY_MAX_ATTEMPTS",
        "attempts per delivery before it is marked failed"},
       K::integer, count(&Config::notify_max_attempts, 1)},
      {{"notifications.retry_base_ms", "PEREGRINE_NOTIFY_RETRY_BASE_MS",
        "back-off before the second attempt, ms; doubles per attempt, with jitter"},
       K::integer, millis(&Config::notify_retry_base)},
      {{"notifications.retry_max_ms", "PEREGRINE_NOTIFY_RETRY_MAX_MS",
        "longest back-off between attempts (also caps Retry-After), ms"},
       K::integer, millis(&Config::notify_retry_max)},
      {{"notifications.max_reminders", "PEREGRINE_NOTIFY_MAX_REMINDERS",
        "reminders of one notify step (repeat_s) before they stop"},
       K::integer, count(&Config::notify_max_reminders, 0)},
      {{"notifications.timeout_ms", "PEREGRINE_NOTIFY_TIMEOUT_MS",
        "time one delivery attempt may take (connect and answer), ms"},
       K::integer, millis(&Config::notify_timeout)},
      {{"notifications.parallel", "PEREGRINE_NOTIFY_PARALLEL",
        "deliveries in flight at once"},
       K::integer, count(&Config::notify_parallel, 1)},
      {{"log.level", "PEREGRINE_LOG_LEVEL", "trace, debug, info, warn or error"},
       K::string, log_level()},
  };
  return defs;
}

std::optional<std::string> check_consistency(const Config& c) {
  if (c.admin_email.empty() != c.admin_password.empty()) {
    return "PEREGRINE_ADMIN_EMAIL / PEREGRINE_ADMIN_PASSWORD (auth.admin_email / "
           "auth.admin_password): set both or neither";
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return "PEREGRINE_TLS_CERT / PEREGRINE_TLS_KEY (http.tls_cert / http.tls_key): set both or "
           "neither";
  }
  return std::nullopt;
}

}  // namespace peregrine::config::detail
