#pragma once
/// Rate limits kept in Redis, so that every Peregrine process behind one
/// Redis shares them: GCRA (generic cell rate algorithm) as one Lua script,
/// loaded with SCRIPT LOAD and run with EVALSHA (reloaded on NOSCRIPT). The
/// script reads Redis' own clock, so the processes' clocks do not matter.
///
/// Redis is blocking (hiredis): every call runs on the limiter's own thread
/// with its own connection, never on the event loop; `check()` is awaited
/// from a coroutine and resumes on the caller's executor. When Redis is down
/// the limiter fails open (allows), counts
/// `peregrine_rate_limit_errors_total` and logs at most every 10 s: losing
/// Redis must not lock operators out of the API during an incident; login
/// guessing is still bounded by the cost of argon2id.
/// `peregrine_rate_limited_total{scope}` counts refusals.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <peregrine/cache/live_state.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::auth {

/// `per_minute` requests per minute, up to `burst` of them at once.
/// per_minute 0 = unlimited.
struct Limit {
  std::uint32_t per_minute = 0;
  std::uint32_t burst = 1;
};

/// per_minute with a burst of `burst_seconds` worth of it (at least 1).
Limit limit_per_minute(std::uint32_t per_minute, std::uint32_t burst_seconds) noexcept;

struct RateDecision {
  bool allowed = true;
  std::chrono::milliseconds retry_after{0};  ///< when refused: until one more is allowed
};

/// The limits of the guard: login per client IP, HTTP ingest per device,
/// everything else that needs a user per user.
struct RateLimits {
  Limit login;
  Limit ingest;
  Limit api;
};

class RateLimiter {
 public:
  RateLimiter(cache::RedisTarget target, metrics::Registry& metrics);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// One request against `key`'s budget. Runs on the limiter's thread;
  /// resumes the caller on its executor.
  boost::asio::awaitable<RateDecision> check(const std::string& key, Limit limit);

  /// The same, blocking: limiter thread or tests only.
  RateDecision check_blocking(const std::string& key, Limit limit);

  /// Throws http::Problem 429 (with Retry-After in whole seconds, at least
  /// 1) when the request to a route with `access` is over its limit: login
  /// (`POST /api/v1/auth/login`) per remote IP, Access::device routes per
  /// `{id}`, user routes per principal. Other public routes are not limited.
  boost::asio::awaitable<void> admit(const http::Request& req, http::Access access,
                                     const RateLimits& limits);

  /// Waits for the limiter's thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Authenticator;

/// The server's guard: authenticates (Authenticator::authenticate), then
/// admits through `limiter`. Both must outlive the guard.
http::Guard limited_guard(const Authenticator& authenticator, RateLimiter& limiter,
                          RateLimits limits);

}  // namespace peregrine::auth
