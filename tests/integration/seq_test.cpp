// The device's own `seq`: gaps are counted, redeliveries stored once, a
// restarted counter is not mistaken for duplicates.
#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

class SeqTest : public IntegrationTest {};

TEST_F(SeqTest, GapsAreCountedDuplicatesDroppedAndResetsStored) {
  ASSERT_TRUE(start_server());
  const std::string gap = device("gap"), dup = device("dup"), reset = device("reset");
  const std::int64_t t0 = now_ms() - 900'000;
  std::vector<MqttMessage> msgs;
  const auto add = [&](const std::string& id, std::int64_t ts, int seq, double v) {
    msgs.push_back({telemetry_topic(id), telemetry(ts, seq, {{"co", v}}).dump()});
  };
  // 1, 2, 3, 10: six readings (4..9) lost.
  add(gap, t0, 1, 1);
  add(gap, t0 + 1000, 2, 2);
  add(gap, t0 + 2000, 3, 3);
  add(gap, t0 + 3000, 10, 10);
  // A QoS 1 redelivery repeats a message exactly: seq 2 twice, then seq 1 again.
  add(dup, t0, 1, 1);
  add(dup, t0 + 1000, 2, 2);
  add(dup, t0 + 1000, 2, 2);
  add(dup, t0 + 2000, 3, 3);
  add(dup, t0, 1, 1);
  // The device reboots and counts from 1 again, with newer timestamps.
  for (int i = 1; i <= 5; ++i) add(reset, t0 + i * 1000, i, i);
  for (int i = 1; i <= 5; ++i) add(reset, t0 + 60'000 + i * 1000, i, 100 + i);
  mqtt().publish_all(msgs, 1);

  ASSERT_TRUE(eventually([&] {
    return metric("peregrine_ingest_messages_total") >= static_cast<double>(msgs.size()) &&
           metric("peregrine_storage_queue_depth") == 0;
  })) << metrics_text();
  EXPECT_TRUE(wait_rows(4 + 3 + 10));
  EXPECT_EQ(db_->count_readings(gap), 4);
  EXPECT_EQ(db_->count_readings(dup), 3) << "redelivered messages are stored once";
  EXPECT_EQ(db_->count_readings(reset), 10) << "a restarted counter is not a duplicate";

  EXPECT_EQ(metric("peregrine_ingest_gaps_total"), 6);
  const auto g = get("/api/v1/devices/" + gap);
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.json().value("seq_gaps", -1), 6) << g.body;
  const auto d = get("/api/v1/devices/" + dup);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json().value("seq_gaps", -1), 0) << d.body;
  const auto r = get("/api/v1/devices/" + reset);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("seq_gaps", -1), 0) << "a reset is not a gap: " << r.body;
}

}  // namespace
}  // namespace peregrine::test
