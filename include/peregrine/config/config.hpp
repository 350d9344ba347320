#pragma once
/// Server configuration: `config/peregrine.toml` (commented defaults), each
/// key overridable by an environment variable. Loaded once at start, before
/// any thread runs; read-only afterwards.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace peregrine::config {

struct Config {
  // [http]
  std::string http_addr = "0.0.0.0:8080";  ///< PEREGRINE_HTTP_ADDR
  std::string web_root = "web";            ///< PEREGRINE_WEB_ROOT
  std::size_t http_body_limit = 1 << 20;   ///< PEREGRINE_HTTP_BODY_LIMIT (bytes)
  std::size_t http_max_connections = 4096; ///< PEREGRINE_HTTP_MAX_CONNECTIONS
  std::string cors_origins;                ///< PEREGRINE_CORS_ORIGINS (comma-separated)
  std::string tls_cert;                    ///< PEREGRINE_TLS_CERT (PEM chain; empty = plain HTTP)
  std::string tls_key;                     ///< PEREGRINE_TLS_KEY (PEM private key)
  // [postgres]
  std::string pg_url = "postgresql://peregrine@127.0.0.1:5432/peregrine";  ///< PEREGRINE_PG_URL
  std::string pg_app_role = "peregrine_app";  ///< PEREGRINE_PG_APP_ROLE
  std::string pg_app_url;  ///< PEREGRINE_PG_APP_URL (empty = PEREGRINE_PG_URL + SET ROLE)
  std::string migrations_dir = "migrations";  ///< PEREGRINE_MIGRATIONS_DIR
  int query_threads = 2;                   ///< PEREGRINE_QUERY_THREADS
  std::size_t query_queue = 256;           ///< PEREGRINE_QUERY_QUEUE
  // [redis]
  std::string redis_url = "redis://127.0.0.1:6379/0";  ///< PEREGRINE_REDIS_URL
  std::chrono::milliseconds redis_flush{50};            ///< PEREGRINE_REDIS_FLUSH_MS
  // [mqtt]
  std::string mqtt_url = "tcp://127.0.0.1:1883";  ///< PEREGRINE_MQTT_URL
  std::string mqtt_client_id;                     ///< PEREGRINE_MQTT_CLIENT_ID, default peregrine-<hostname>
  std::string mqtt_username;                      ///< PEREGRINE_MQTT_USERNAME
  std::string mqtt_password;                      ///< PEREGRINE_MQTT_PASSWORD
  std::size_t mqtt_max_payload = 64 * 1024;       ///< PEREGRINE_MQTT_MAX_PAYLOAD (bytes)
  std::string mqtt_ca_file;                       ///< PEREGRINE_MQTT_CA_FILE (for ssl://)
  std::string mqtt_passwd_file;                   ///< PEREGRINE_MQTT_PASSWD_FILE (written; empty = not)
  std::string mqtt_reload_pid_file;               ///< PEREGRINE_MQTT_RELOAD_PID_FILE (SIGHUP target)
  // [ingest]
  bool auto_provision = true;                     ///< PEREGRINE_AUTO_PROVISION
  int max_past_days = 400;                        ///< PEREGRINE_INGEST_MAX_PAST_DAYS
  std::size_t loop_backlog = 100'000;             ///< PEREGRINE_INGEST_LOOP_BACKLOG
  // [storage]
  std::size_t batch_rows = 5000;                  ///< PEREGRINE_STORAGE_BATCH_ROWS
  std::chrono::milliseconds batch_age{5};         ///< PEREGRINE_STORAGE_BATCH_MS
  std::chrono::milliseconds rollup_every{5'000};  ///< PEREGRINE_STORAGE_ROLLUP_EVERY_MS
  std::chrono::milliseconds rollup_lag{2'000};    ///< PEREGRINE_STORAGE_ROLLUP_LAG_MS
  std::size_t queue_rows = 2'000'000;             ///< PEREGRINE_STORAGE_QUEUE_ROWS
  int partitions_ahead_days = 3;                  ///< PEREGRINE_STORAGE_PARTITIONS_AHEAD
  int retention_days = 0;                         ///< PEREGRINE_STORAGE_RETENTION_DAYS (0 = keep)
  int rollup_1m_retention_days = 365;             ///< PEREGRINE_STORAGE_ROLLUP_1M_RETENTION_DAYS (0 = keep)
  int rollup_1h_retention_days = 0;               ///< PEREGRINE_STORAGE_ROLLUP_1H_RETENTION_DAYS (0 = keep)
  std::string spill_dir = "var/spill";            ///< PEREGRINE_STORAGE_SPILL_DIR (empty = no spill)
  std::uint64_t spill_max_mb = 1024;              ///< PEREGRINE_STORAGE_SPILL_MAX_MB
  // [realtime]
  std::size_t ws_queue_messages = 1024;           ///< PEREGRINE_WS_QUEUE
  // [auth]
  std::string admin_email;                        ///< PEREGRINE_ADMIN_EMAIL
  std::string admin_password;                     ///< PEREGRINE_ADMIN_PASSWORD
  std::string jwt_secret;                         ///< PEREGRINE_JWT_SECRET
  int access_ttl_s = 900;                         ///< PEREGRINE_ACCESS_TOKEN_TTL_S
  // [rate] (0 = no limit)
  int rate_login_per_min = 30;                    ///< PEREGRINE_RATE_LOGIN_PER_MIN (per IP)
  int rate_ingest_per_min = 600;                  ///< PEREGRINE_RATE_INGEST_PER_MIN (per device, HTTP)
  int rate_api_per_min = 1200;                    ///< PEREGRINE_RATE_API_PER_MIN (per user)
  int rate_burst_seconds = 10;                    ///< PEREGRINE_RATE_BURST_SECONDS
  // [notifications]
  std::string public_url = "http://localhost:8080";  ///< PEREGRINE_PUBLIC_URL (links in messages)
  int notify_max_attempts = 8;                    ///< PEREGRINE_NOTIFY_MAX_ATTEMPTS
  std::chrono::milliseconds notify_retry_base{2'000};  ///< PEREGRINE_NOTIFY_RETRY_BASE_MS
  std::chrono::milliseconds notify_retry_max{600'000}; ///< PEREGRINE_NOTIFY_RETRY_MAX_MS
  int notify_max_reminders = 10;                  ///< PEREGRINE_NOTIFY_MAX_REMINDERS
  std::chrono::milliseconds notify_timeout{10'000};    ///< PEREGRINE_NOTIFY_TIMEOUT_MS
  int notify_parallel = 32;                       ///< PEREGRINE_NOTIFY_PARALLEL
  // [log]
  std::string log_level = "info";                 ///< PEREGRINE_LOG_LEVEL
};

/// Either a Config or a message naming the offending key.
using LoadResult = std::variant<Config, std::string>;

/// Reads `file` (if given; a missing explicit file is an error), then applies
/// environment overrides looked up through `getenv` (an empty variable counts
/// as unset). Validates every value; a key in the file that is not in keys()
/// is an error. The message names the variable, or the TOML key and file.
LoadResult load(const std::optional<std::string>& file,
                const std::function<const char*(const char*)>& getenv);

/// The table of keys: TOML path, environment variable, default, help.
struct KeyInfo {
  const char* toml;
  const char* env;
  const char* help;
};
const std::vector<KeyInfo>& keys();

}  // namespace peregrine::config
