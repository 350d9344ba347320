#pragma once
/// What the integration tests need from their environment, and small helpers
/// shared by every test: the servers' URLs (PEREGRINE_TEST_*, set by
/// scripts/test), bounded polling, unique names, timestamps. Test thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::test {

struct TestEnv {
  std::string pg_admin_url;  ///< PEREGRINE_TEST_PG_URL
  std::string redis_url;     ///< PEREGRINE_TEST_REDIS_URL
  std::string mqtt_url;      ///< PEREGRINE_TEST_MQTT_URL
  std::string pg_ctl;        ///< PEREGRINE_TEST_PG_CTL (may be empty)

  /// nullopt when any of the three server URLs is unset.
  static std::optional<TestEnv> from_environment();
};

inline constexpr std::string_view kSkipMessage =
    "integration servers not configured: set PEREGRINE_TEST_PG_URL, PEREGRINE_TEST_REDIS_URL "
    "and PEREGRINE_TEST_MQTT_URL (scripts/test does)";

/// Polls `pred` every `every` until it is true (→ true) or `timeout` passes
/// (→ false, after one last try).
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(50));

/// `n` random lowercase hex characters.
std::string random_hex(std::size_t n);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

/// Milliseconds since the Unix epoch, now.
std::int64_t now_ms();

/// `2025-11-22T10:00:00.250+02:00` for `ms` shown at `offset_minutes` from UTC.
std::string format_rfc3339(std::int64_t ms, int offset_minutes = 0);

/// Epoch ms of an RFC 3339 date-time (`Z` or ±hh:mm, optional fraction);
/// nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s);

/// The last `max_bytes` of a file (for failure output).
std::string file_tail(const std::string& path, std::size_t max_bytes = 6000);

}  // namespace peregrine::test
