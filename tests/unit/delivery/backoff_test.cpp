// The sender's back-off: doubling from the base, capped, with jitter that
// never shortens a wait below half.
#include <peregrine/delivery/sender.hpp>

#include <gtest/gtest.h>

namespace peregrine::delivery {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesPerAttemptWithJitterAndACap) {
  const SenderOptions o{.retry_base = milliseconds(200), .retry_max = milliseconds(1000)};
  EXPECT_EQ(Sender::backoff(o, 1, 1.0), milliseconds(200));
  EXPECT_EQ(Sender::backoff(o, 1, 0.0), milliseconds(100));
  EXPECT_EQ(Sender::backoff(o, 2, 1.0), milliseconds(400));
  EXPECT_EQ(Sender::backoff(o, 3, 1.0), milliseconds(800));
  EXPECT_EQ(Sender::backoff(o, 4, 1.0), milliseconds(1000));
  EXPECT_EQ(Sender::backoff(o, 40, 0.5), milliseconds(750));
  EXPECT_EQ(Sender::backoff(o, 0, 1.0), milliseconds(200));
}

}  // namespace
}  // namespace peregrine::delivery
