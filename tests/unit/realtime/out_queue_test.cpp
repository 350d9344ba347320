#include "realtime/out_queue.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace peregrine::realtime {
namespace {

Text text(const std::string& s) { return std::make_shared<const std::string>(s); }

std::vector<std::string> drain(OutQueue& q) {
  std::vector<std::string> out;
  while (!q.empty()) out.push_back(*q.pop());
  return out;
}

TEST(OutQueue, KeepsOrderWhileThereIsRoom) {
  OutQueue q(4);
  EXPECT_EQ(q.push_reading("d1", text("r1")), OutQueue::Result::queued);
  EXPECT_EQ(q.push(text("a1")), OutQueue::Result::queued);
  EXPECT_EQ(q.push_reading("d1", text("r2")), OutQueue::Result::queued);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"r1", "a1", "r2"}));
}

TEST(OutQueue, FullQueueCoalescesSameDevice) {
  OutQueue q(3);
  q.push_reading("d1", text("d1-1"));
  q.push_reading("d2", text("d2-1"));
  q.push_reading("d3", text("d3-1"));
  EXPECT_EQ(q.push_reading("d2", text("d2-2")), OutQueue::Result::coalesced);
  EXPECT_EQ(q.push_reading("d2", text("d2-3")), OutQueue::Result::coalesced);
  EXPECT_EQ(q.size(), 3u);
  // The newest reading moves to the back so the stream's seq stays increasing.
  EXPECT_EQ(drain(q), (std::vector<std::string>{"d1-1", "d3-1", "d2-3"}));
}

TEST(OutQueue, FullQueueDropsOldestReadingForNewDevice) {
  OutQueue q(3);
  q.push(text("a1"));
  q.push_reading("d1", text("d1-1"));
  q.push_reading("d2", text("d2-1"));
  EXPECT_EQ(q.push_reading("d3", text("d3-1")), OutQueue::Result::dropped);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"a1", "d2-1", "d3-1"}));
}

TEST(OutQueue, AlertEvictsReadingThenOverflows) {
  OutQueue q(2);
  q.push_reading("d1", text("d1-1"));
  q.push(text("a1"));
  EXPECT_EQ(q.push(text("a2")), OutQueue::Result::dropped);
  EXPECT_EQ(q.push(text("a3")), OutQueue::Result::overflow);
  // A reading cannot displace alerts: it is the one dropped.
  EXPECT_EQ(q.push_reading("d2", text("d2-1")), OutQueue::Result::dropped);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"a1", "a2"}));
}

TEST(OutQueue, StaysBoundedUnderFlood) {
  OutQueue q(8);
  for (int i = 0; i < 100000; ++i) {
    q.push_reading("d" + std::to_string(i % 20), text(std::to_string(i)));
    ASSERT_LE(q.size(), 8u);
  }
  const auto out = drain(q);
  ASSERT_EQ(out.size(), 8u);
  // Only the newest readings survive, in publish order.
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i], std::to_string(100000 - 8 + static_cast<int>(i)));
  }
}

TEST(OutQueue, RecoversAfterDrain) {
  OutQueue q(2);
  q.push_reading("d1", text("1"));
  q.push_reading("d2", text("2"));
  q.push_reading("d1", text("3"));
  EXPECT_EQ(drain(q), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(q.push_reading("d1", text("4")), OutQueue::Result::queued);
  EXPECT_EQ(q.push_reading("d1", text("5")), OutQueue::Result::queued);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"4", "5"}));
}

}  // namespace
}  // namespace peregrine::realtime
