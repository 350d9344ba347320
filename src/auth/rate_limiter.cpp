#include <peregrine/auth/rate_limiter.hpp>

#include <algorithm>
#include <mutex>

#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <peregrine/auth/authenticator.hpp>

#include "cache/redis_connection.hpp"

namespace peregrine::auth {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// GCRA. KEYS[1]: the budget; ARGV[1]: emission interval T (µs per request);
// ARGV[2]: tolerance T*(burst-1). The key holds the theoretical arrival time
// (TAT) in µs of Redis' clock; a request is allowed while TAT - now <= tolerance.
// Returns {allowed, µs until the next request would be allowed}.
constexpr std::string_view kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - tolerance - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
)lua";

constexpr auto kReconnectPause = std::chrono::seconds(1);
constexpr auto kLogEvery = std::chrono::seconds(10);

}  // namespace

Limit limit_per_minute(std::uint32_t per_minute, std::uint32_t burst_seconds) noexcept {
  const std::uint64_t burst = (std::uint64_t{per_minute} * burst_seconds + 59) / 60;
  return {per_minute, static_cast<std::uint32_t>(std::max<std::uint64_t>(1, burst))};
}

struct RateLimiter::Impl {
  Impl(cache::RedisTarget t, metrics::Registry& m)
      : target(std::move(t)),
        errors(m.counter("peregrine_rate_limit_errors_total",
                         "Rate-limit checks that could not reach Redis (allowed: fail open)")),
        limited_login(m.counter("peregrine_rate_limited_total", "Requests refused with 429",
                                {{"scope", "login"}})),
        limited_ingest(m.counter("peregrine_rate_limited_total", "Requests refused with 429",
                                 {{"scope", "ingest"}})),
        limited_api(m.counter("peregrine_rate_limited_total", "Requests refused with 429",
                              {{"scope", "api"}})) {}

  // Asio 1.74 hands the initiation to a coroutine by value and GCC 12
  // double-destroys closure-type coroutine parameters: a plain struct that owns
  // the key through a raw pointer until the task takes it.
  struct CheckOp {
    Impl* impl;
    std::string* key;
    Limit limit;
    template <class Handler>
    void operator()(Handler&& handler) const {
      asio::post(impl->pool, [impl = impl, key = std::unique_ptr<std::string>(key), limit = limit,
                              h = std::forward<Handler>(handler)]() mutable {
        const RateDecision d = impl->run(*key, limit);
        auto ex = asio::get_associated_executor(h);
        asio::post(ex, [h = std::move(h), d]() mutable { h(d); });
      });
    }
  };

  RateDecision run(const std::string& key, Limit limit);
  RateDecision fail_open(const std::string& why);
  cache::detail::ReplyPtr evalsha(const std::string& key, Limit limit);

  cache::RedisTarget target;
  asio::thread_pool pool{1};
  // Touched only on the pool's thread, except under the mutex in tests.
  std::mutex mutex;
  cache::detail::ContextPtr ctx;
  std::string sha;
  Clock::time_point retry_at{};
  Clock::time_point logged_at{};
  metrics::Counter& errors;
  metrics::Counter& limited_login;
  metrics::Counter& limited_ingest;
  metrics::Counter& limited_api;
};

RateDecision RateLimiter::Impl::fail_open(const std::string& why) {
  errors.inc();
  const auto now = Clock::now();
  if (now - logged_at >= kLogEvery) {
    logged_at = now;
    spdlog::warn("rate limits not enforced (Redis unavailable: {})", why);
  }
  return {};
}

cache::detail::ReplyPtr RateLimiter::Impl::evalsha(const std::string& key, Limit limit) {
  const std::uint64_t interval_us = 60'000'000ULL / limit.per_minute;
  const std::uint64_t tolerance_us = interval_us * (limit.burst - 1);
  return cache::detail::command(ctx.get(), {"EVALSHA", sha, "1", key, std::to_string(interval_us),
                                            std::to_string(tolerance_us)});
}

RateDecision RateLimiter::Impl::run(const std::string& key, Limit limit) {
  if (limit.per_minute == 0) return {};
  std::lock_guard lock(mutex);
  if (!ctx) {
    if (Clock::now() < retry_at) return fail_open("reconnecting");
    std::string error;
    ctx = cache::detail::connect(target, error);
    if (!ctx) {
      retry_at = Clock::now() + kReconnectPause;
      return fail_open(error);
    }
    sha.clear();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha.empty()) {
      const auto loaded = cache::detail::command(ctx.get(), {"SCRIPT", "LOAD", kScript});
      if (!loaded || loaded->type != REDIS_REPLY_STRING) {
        const std::string why = loaded ? std::string(loaded->str, loaded->len) : ctx->errstr;
        if (!loaded) ctx.reset();
        return fail_open(why);
      }
      sha.assign(loaded->str, loaded->len);
    }
    const auto r = evalsha(key, limit);
    if (!r) {
      const std::string why = ctx->errstr;
      ctx.reset();
      retry_at = Clock::now() + kReconnectPause;
      return fail_open(why);
    }
    if (r->type == REDIS_REPLY_ERROR) {
      const std::string_view err(r->str, r->len);
      // The script cache is empty after a Redis restart or SCRIPT FLUSH.
      if (err.starts_with("NOSCRIPT") && attempt == 0) {
        sha.clear();
        continue;
      }
      return fail_open(std::string(err));
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
      return fail_open("unexpected reply from the rate-limit script");
    }
    if (r->element[0]->integer == 1) return {};
    const auto wait_us = std::max<long long>(0, r->element[1]->integer);
    return {false, std::chrono::milliseconds((wait_us + 999) / 1000)};
  }
  return fail_open("script reload failed");
}

RateLimiter::RateLimiter(cache::RedisTarget target, metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(target), metrics)) {}

RateLimiter::~RateLimiter() { stop(); }

void RateLimiter::stop() { impl_->pool.join(); }

asio::awaitable<RateDecision> RateLimiter::check(const std::string& key, Limit limit) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(RateDecision)>(
      Impl::CheckOp{impl_.get(), new std::string(key), limit}, asio::use_awaitable);
}

RateDecision RateLimiter::check_blocking(const std::string& key, Limit limit) {
  return impl_->run(key, limit);
}

asio::awaitable<void> RateLimiter::admit(const http::Request& req, http::Access access,
                                         const RateLimits& limits) {
  std::string key;
  Limit limit;
  metrics::Counter* refused = nullptr;
  if (access == http::Access::public_) {
    if (req.raw.method() != http::bhttp::verb::post || req.route != "/api/v1/auth/login") co_return;
    key = "peregrine:rate:login:" + req.remote.address().to_string();
    limit = limits.login;
    refused = &impl_->limited_login;
  } else if (access == http::Access::device) {
    const auto id = req.params.find("id");
    if (id == req.params.end()) co_return;
    key = "peregrine:rate:ingest:" + id->second;
    limit = limits.ingest;
    refused = &impl_->limited_ingest;
  } else if (req.principal) {
    key = "peregrine:rate:api:" + std::to_string(req.principal->user_id);
    limit = limits.api;
    refused = &impl_->limited_api;
  } else {
    co_return;
  }
  if (limit.per_minute == 0) co_return;
  const RateDecision d = co_await check(key, limit);
  if (d.allowed) co_return;
  refused->inc();
  const auto seconds = std::max<long long>(1, (d.retry_after.count() + 999) / 1000);
  http::Problem p(429, "Too Many Requests",
                  "rate limit exceeded; retry after " + std::to_string(seconds) + " s");
  p.headers.emplace_back("Retry-After", std::to_string(seconds));
  throw p;
}

http::Guard limited_guard(const Authenticator& authenticator, RateLimiter& limiter,
                          RateLimits limits) {
  // A coroutine lambda kept in the std::function: its captures live in the
  // closure there, which outlives every call (nothing is copied into frames).
  return [&authenticator, &limiter, limits](http::Request& req,
                                            http::Access access) -> asio::awaitable<void> {
    req.principal = authenticator.authenticate(req.raw, access);
    co_await limiter.admit(req, access, limits);
  };
}

}  // namespace peregrine::auth
