// The device's own `seq`: gaps are counted, late arrivals fill them,
// redeliveries are stored once, a restarted counter is not mistaken for
// duplicates, and after a hard kill the stored seq matches the stored rows.
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
  // 1, 2, 3, 10, then 5 and 7 arriving late (reordered): four readings
  // (4, 6, 8, 9) lost; the two that came late are not.
  add(gap, t0, 1, 1);
  add(gap, t0 + 1000, 2, 2);
  add(gap, t0 + 2000, 3, 3);
  add(gap, t0 + 3000, 10, 10);
  add(gap, t0 + 1500, 5, 5);
  add(gap, t0 + 1700, 7, 7);
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
  EXPECT_TRUE(wait_rows(6 + 3 + 10));
  EXPECT_EQ(db_->count_readings(gap), 6);
  EXPECT_EQ(db_->count_readings(dup), 3) << "redelivered messages are stored once";
  EXPECT_EQ(db_->count_readings(reset), 10) << "a restarted counter is not a duplicate";

  EXPECT_EQ(metric("peregrine_ingest_gaps_total"), 6) << "the jump from 3 to 10";
  EXPECT_EQ(metric("peregrine_ingest_gaps_filled_total"), 2) << "5 and 7 came late";
  const auto g = get("/api/v1/devices/" + gap);
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.json().value("seq_gaps", -1), 4) << "what is really missing: " << g.body;
  const auto d = get("/api/v1/devices/" + dup);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json().value("seq_gaps", -1), 0) << d.body;
  const auto r = get("/api/v1/devices/" + reset);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("seq_gaps", -1), 0) << "a reset is not a gap: " << r.body;
}

// A hard kill right after the rows were stored: the device's seq was
// written with them (one transaction), so the next message after the
// restart is not mistaken for a gap of readings that are in the table.
TEST_F(SeqTest, AfterAKillTheStoredSeqMatchesTheStoredRows) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("killed");
  const std::int64_t t0 = now_ms() - 60'000;
  const auto send = [&](int from, int to) {
    std::vector<MqttMessage> msgs;
    for (int i = from; i <= to; ++i)
      msgs.push_back({telemetry_topic(dev), telemetry(t0 + i * 10, i, {{"co", i}}).dump()});
    mqtt().publish_all(msgs, 1);
  };
  // A first stretch whose seq is stored, then a second one killed right
  // after its rows landed (before the once-a-second flush of device state).
  send(1, 100);
  ASSERT_TRUE(eventually([&] {
    return db_->scalar("SELECT coalesce(max(last_seq), 0) FROM devices WHERE id = '" + dev + "'") == 100;
  }));
  send(101, 200);
  ASSERT_TRUE(wait_rows(200, dev));
  server_.reset();  // SIGKILL: no drain, no last flush of device states
  ASSERT_TRUE(start_server());
  mqtt().publish(telemetry_topic(dev), telemetry(t0 + 3000, 201, {{"co", 1}}).dump());
  ASSERT_TRUE(wait_rows(201, dev));
  EXPECT_EQ(metric("peregrine_ingest_gaps_total"), 0);
  const auto d = get("/api/v1/devices/" + dev);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json().value("seq_gaps", -1), 0) << d.body;
}

}  // namespace
}  // namespace peregrine::test
