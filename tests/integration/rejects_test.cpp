// Invalid messages are rejected and counted by reason; the good ones around
// them still land and the server carries on.
#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

class RejectsTest : public IntegrationTest {};

TEST_F(RejectsTest, EachInvalidMessageIsCountedByReasonAndGoodOnesStillLand) {
  ASSERT_TRUE(migrate());
  const std::string good = device("known");
  const std::string unknown = device("stranger");
  db_->insert_device(good);
  ASSERT_TRUE(start_server({{"PEREGRINE_AUTO_PROVISION", "false"},
                            {"PEREGRINE_MQTT_MAX_PAYLOAD", "1024"}}));
  const std::int64_t t0 = now_ms() - 600'000;
  int seq = 0;
  const auto good_msg = [&] {
    ++seq;
    return MqttMessage{telemetry_topic(good),
                       telemetry(t0 + seq * 1000, seq, {{"co", seq * 1.5}}).dump()};
  };
  const std::string ok_payload = telemetry(t0, -1, {{"co", 1.0}}).dump();
  const std::vector<MqttMessage> msgs{
      good_msg(),
      {telemetry_topic(good), R"({"ts": 1, "co": )"},                      // malformed_json
      good_msg(),
      {telemetry_topic(good), R"({"co": {"x": 1}})"},                      // bad_value
      good_msg(),
      {telemetry_topic(good), R"({"seq": "5", "co": 1})"},                 // bad_seq
      good_msg(),
      {telemetry_topic(good),
       nlohmann::json{{"co", 1}, {"note", std::string(1500, 'x')}}.dump()},  // too_large
      good_msg(),
      {"sensors/bad$id/telemetry", ok_payload},                            // bad_device_id
      good_msg(),
      {telemetry_topic(unknown), ok_payload},                              // unknown_device
      good_msg(),
  };
  mqtt().publish_all(msgs, 1);

  ASSERT_TRUE(wait_rows(seq, good));
  const auto rows = db_->readings(good, "co");
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(seq));
  for (int i = 0; i < seq; ++i) {
    EXPECT_EQ(rows[i].ts_us, (t0 + (i + 1) * 1000) * 1000);
    EXPECT_EQ(rows[i].value, (i + 1) * 1.5);
  }

  for (const std::string reason :
       {"malformed_json", "bad_value", "bad_seq", "too_large", "bad_device_id", "unknown_device"}) {
    EXPECT_TRUE(eventually([&] {
      return metric("peregrine_ingest_rejected_total", {{"reason", reason}}) >= 1;
    })) << "no rejection counted for reason=" << reason;
    EXPECT_EQ(metric("peregrine_ingest_rejected_total", {{"reason", reason}}), 1)
        << "reason=" << reason;
  }
  EXPECT_EQ(db_->count_readings(), seq) << "nothing of a rejected message was stored";
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM devices WHERE id = '" + unknown + "'"), 0)
      << "auto-provisioning is off: the unknown device must not be created";
  EXPECT_EQ(get("/api/v1/devices/" + unknown).status, 404);
  EXPECT_EQ(get("/readyz").status, 200) << "rejections do not affect the server";
  EXPECT_TRUE(server_->running());
}

}  // namespace
}  // namespace peregrine::test
