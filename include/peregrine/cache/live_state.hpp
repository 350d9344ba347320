#pragma once
/// Live device state in Redis: latest value and ts per device+metric
/// (`peregrine:state:{device}` hash, field = metric, value = `{"v":…,"ts":…}`)
/// and presence (`peregrine:presence:{device}` hash: online, last_seen).
/// set_value/set_presence are called on the event loop: they only merge into
/// a pending map under a mutex (coalescing: each key at most once per flush
/// tick). A Redis thread of its own flushes the pending map every tick as one
/// pipeline. Redis down ≠ ingest down: the thread reconnects with back-off,
/// `connected()` goes false for /readyz, and on reconnect the whole state is
/// re-written from its own copy.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/ingest/sinks.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::cache {

struct RedisTarget {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
};
/// Parses `redis://[:password@]host:port/db`. nullopt when malformed.
std::optional<RedisTarget> parse_redis_url(const std::string& url);

class LiveState final : public ingest::LiveStateSink {
 public:
  LiveState(RedisTarget target, std::chrono::milliseconds flush_every, metrics::Registry& metrics);
  ~LiveState() override;

  void start();
  /// Flushes what is pending (if Redis is up) and joins the thread.
  void stop();

  // ingest::LiveStateSink (event loop)
  void set_value(core::TenantId tenant, std::string_view device, std::string_view metric,
                 double value, core::Micros ts_us) override;
  void set_presence(core::TenantId tenant, std::string_view device, bool online,
                    core::Micros last_seen_us) override;

  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }

 private:
  void run();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> connected_{false};
};

/// Reads of live state for REST, on a thread of the reader's own with its
/// own Redis connection, so a read never holds the event loop nor a
/// PostgreSQL worker (it answers while PostgreSQL is down). `read` is awaited
/// on the loop; `device_state` is the blocking call it runs. Thread-safe.
class StateReader {
 public:
  explicit StateReader(RedisTarget target);
  ~StateReader();
  /// `{"metrics": {"co": {"value": 3.1, "ts": "…"}}, "online": true, "last_seen": "…"}`.
  /// Throws std::runtime_error when Redis is unreachable.
  nlohmann::json device_state(std::string_view device);
  /// device_state on the reader's thread; resumes the caller on its executor.
  boost::asio::awaitable<nlohmann::json> read(std::string device);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine::cache
