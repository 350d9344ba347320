// The limiter's arithmetic and its fail-open behaviour when Redis is not
// there (GCRA against the real Redis: tests/integration/rate_limit_test.cpp).
#include <peregrine/auth/rate_limiter.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

namespace peregrine::auth {
namespace {

TEST(RateLimiterTest, BurstIsSecondsWorthOfTheRateAndAtLeastOne) {
  EXPECT_EQ(limit_per_minute(60, 2).burst, 2u);
  EXPECT_EQ(limit_per_minute(30, 10).burst, 5u);
  EXPECT_EQ(limit_per_minute(1, 1).burst, 1u);
  EXPECT_EQ(limit_per_minute(1200, 10).burst, 200u);
  EXPECT_EQ(limit_per_minute(0, 10).per_minute, 0u);
}

TEST(RateLimiterTest, FailsOpenAndCountsWhenRedisIsDown) {
  // A port that was free a moment ago: nothing listens there.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = probe.local_endpoint().port();
  probe.close();

  metrics::Registry metrics;
  cache::RedisTarget target;
  target.port = port;
  RateLimiter limiter(target, metrics);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.check_blocking("peregrine:rate:test", {60, 1}).allowed);
  }
  EXPECT_EQ(metrics.counter("peregrine_rate_limit_errors_total", "").value(), 3u);
  // Unlimited never asks Redis.
  EXPECT_TRUE(limiter.check_blocking("peregrine:rate:test", {0, 1}).allowed);
  EXPECT_EQ(metrics.counter("peregrine_rate_limit_errors_total", "").value(), 3u);
}

}  // namespace
}  // namespace peregrine::auth
