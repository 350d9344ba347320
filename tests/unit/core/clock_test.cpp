#include <peregrine/core/clock.hpp>

#include <gtest/gtest.h>

namespace peregrine::core {
namespace {

TEST(Clock, SystemClockIsAfter2020) {
  SystemClock c;
  EXPECT_GT(c.now_us(), 1'577'836'800'000'000);  // 2020-01-01
}

TEST(Clock, SteadyIsMonotonic) {
  const auto a = steady_ns();
  const auto b = steady_ns();
  EXPECT_LE(a, b);
}

TEST(Clock, ManualClockMovesByHand) {
  ManualClock c(1000);
  EXPECT_EQ(c.now_us(), 1000);
  c.advance(500);
  EXPECT_EQ(c.now_us(), 1500);
  c.set(7);
  EXPECT_EQ(c.now_us(), 7);
}

}  // namespace
}  // namespace peregrine::core
