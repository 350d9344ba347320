// Readings published over MQTT reach PostgreSQL, Redis, REST and WebSocket.
#include <map>
#include <set>
#include <vector>

#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

class IngestTest : public IntegrationTest {};

struct Sent {
  std::int64_t ts_ms;
  std::map<std::string, double> values;
};

// A frame's ts as epoch ms, whether the server sends RFC 3339 or a number.
std::optional<std::int64_t> frame_ts(const nlohmann::json& ts) {
  if (ts.is_number_integer()) return ts.get<std::int64_t>();
  if (ts.is_string()) return parse_rfc3339_ms(ts.get<std::string>());
  return std::nullopt;
}

TEST_F(IngestTest, MqttReadingsLandOnceInPostgresRedisRestAndWebSocket) {
  ASSERT_TRUE(start_server());
  constexpr int kDevices = 5;
  constexpr int kMessages = 200;
  const std::int64_t base = now_ms() - 3'600'000;
  std::vector<std::string> ids;
  for (int d = 0; d < kDevices; ++d) ids.push_back(device("d" + std::to_string(d)));
  const std::string watched = ids[2];

  WsClient ws;
  ws.connect("127.0.0.1", server_->http_port(), ws_target());
  ws.send(nlohmann::json{{"op", "subscribe"}, {"topics", {"readings:" + watched}}});
  ws.send(nlohmann::json{{"op", "ping"}});
  // The pong proves the subscription was handled before anything is published.
  bool pong = false;
  for (int i = 0; i < 10 && !pong; ++i) {
    const auto f = ws.read_json(std::chrono::seconds(5));
    ASSERT_TRUE(f.has_value()) << "no answer to ping on /ws";
    pong = f->value("type", "") == "pong";
  }
  ASSERT_TRUE(pong);

  std::map<std::string, std::vector<Sent>> sent;
  std::vector<MqttMessage> msgs;
  for (int i = 0; i < kMessages; ++i) {
    for (int d = 0; d < kDevices; ++d) {
      Sent s{base + i * 1000 + d * 7,
             {{"co", 3.1 + i * 0.01 + d}, {"temperature", 20.0 + d * 0.5 - i * 0.013},
              {"humidity", 40.123456789 + i}}};
      nlohmann::json m(s.values);
      msgs.push_back({telemetry_topic(ids[d]), telemetry(s.ts_ms, i + 1, m).dump()});
      sent[ids[d]].push_back(std::move(s));
    }
  }
  mqtt().publish_all(msgs, 1);

  constexpr std::int64_t kRows = kDevices * kMessages * 3;
  ASSERT_TRUE(wait_rows(kRows));
  ASSERT_TRUE(eventually([&] {
    return metric("peregrine_ingest_messages_total") >= kDevices * kMessages &&
           metric("peregrine_storage_queue_depth") == 0;
  })) << metrics_text();
  EXPECT_EQ(db_->count_readings(), kRows) << "every reading exactly once";

  // Every row, exactly: ts to the microsecond, values bit for bit.
  for (const auto& id : ids) {
    const auto& s = sent[id];
    for (const std::string metric_name : {"co", "humidity", "temperature"}) {
      const auto rows = db_->readings(id, metric_name);
      ASSERT_EQ(rows.size(), s.size()) << id << " " << metric_name;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        ASSERT_EQ(rows[i].ts_us, s[i].ts_ms * 1000) << id << " " << metric_name << " #" << i;
        ASSERT_EQ(rows[i].value, s[i].values.at(metric_name)) << id << " " << metric_name << " #" << i;
      }
    }
  }

  // Redis holds the latest value of every metric.
  for (const auto& id : ids) {
    const double last_co = sent[id].back().values.at("co");
    std::optional<std::string> raw;
    EXPECT_TRUE(eventually([&] {
      raw = redis_->hget("peregrine:state:" + id, "co");
      if (!raw) return false;
      const auto j = nlohmann::json::parse(*raw, nullptr, false);
      return j.is_object() && j.contains("v") && j["v"] == last_co;
    })) << "HGET peregrine:state:" << id << " co = " << raw.value_or("(nil)") << ", want v="
        << last_co;
  }

  // REST: live state, device list, readings over a range.
  const auto state = get("/api/v1/devices/" + watched + "/state");
  ASSERT_EQ(state.status, 200) << state.body;
  const auto sj = state.json();
  ASSERT_TRUE(sj.contains("metrics") && sj["metrics"].contains("co")) << state.body;
  EXPECT_EQ(sj["metrics"]["co"]["value"], sent[watched].back().values.at("co")) << state.body;
  EXPECT_EQ(frame_ts(sj["metrics"]["co"]["ts"]), sent[watched].back().ts_ms) << state.body;

  const auto list = get("/api/v1/devices");
  ASSERT_EQ(list.status, 200) << list.body;
  std::set<std::string> listed;
  for (const auto& item : list.json().value("items", nlohmann::json::array()))
    listed.insert(item.value("id", ""));
  for (const auto& id : ids) EXPECT_TRUE(listed.count(id)) << id << " missing from " << list.body;

  const auto& ws_sent = sent[watched];
  const auto range = [&](std::int64_t from, std::int64_t to) {
    return get("/api/v1/devices/" + watched + "/readings?metric=co&from=" + format_rfc3339(from) +
               "&to=" + format_rfc3339(to) + "&limit=1000");
  };
  const auto all = range(base - 1000, base + kMessages * 1000 + 1000);
  ASSERT_EQ(all.status, 200) << all.body;
  const auto points = all.json().value("points", nlohmann::json::array());
  ASSERT_EQ(points.size(), ws_sent.size()) << all.body.substr(0, 500);
  for (std::size_t i = 0; i < points.size(); ++i) {
    ASSERT_EQ(frame_ts(points[i]["ts"]), ws_sent[i].ts_ms) << "point #" << i << " (oldest first)";
    ASSERT_EQ(points[i]["value"], ws_sent[i].values.at("co")) << "point #" << i;
  }
  const auto part = range(ws_sent[100].ts_ms - 500, ws_sent[149].ts_ms + 500);
  ASSERT_EQ(part.status, 200) << part.body;
  EXPECT_EQ(part.json().value("points", nlohmann::json::array()).size(), 50u) << part.body;

  // WebSocket: every reading of the watched device, in order, nothing else.
  std::map<std::int64_t, const Sent*> by_ts;
  for (const auto& s : ws_sent) by_ts[s.ts_ms] = &s;
  std::size_t received = 0;
  std::int64_t last_seq = -1;
  bool saw_last = false;
  while (!saw_last) {
    const auto f = ws.read_json(std::chrono::seconds(10));
    ASSERT_TRUE(f.has_value()) << "WebSocket: no reading frame within 10 s after " << received;
    if (f->value("type", "") != "reading") continue;
    ASSERT_TRUE(f->contains("seq") && (*f)["seq"].is_number_integer()) << f->dump();
    EXPECT_GT((*f)["seq"].get<std::int64_t>(), last_seq) << f->dump();
    last_seq = (*f)["seq"].get<std::int64_t>();
    ASSERT_EQ(f->value("device", ""), watched) << f->dump();
    const auto ts = frame_ts((*f)["ts"]);
    ASSERT_TRUE(ts && by_ts.count(*ts)) << "reading with unknown ts: " << f->dump();
    for (const auto& [name, v] : by_ts[*ts]->values)
      EXPECT_EQ((*f)["values"][name], v) << f->dump();
    ++received;
    saw_last = *ts == ws_sent.back().ts_ms;
  }
  EXPECT_EQ(received, ws_sent.size()) << "a fast subscriber gets every reading (no coalescing)";
}

TEST_F(IngestTest, ArrayPayloadsRfc3339AndMissingTimestamps) {
  ASSERT_TRUE(start_server());
  const std::int64_t t0 = now_ms() - 7'200'000;
  const std::string arr = device("array"), rfc = device("rfc"), now_dev = device("nots"),
                    kinds = device("kinds");
  const nlohmann::json array_payload = nlohmann::json::array(
      {telemetry(t0, 1, {{"co", 1.5}}), telemetry(t0 + 1000, 2, {{"co", 2.5}, {"temperature", -4.25}}),
       telemetry(t0 + 2000, 3, {{"co", 3.5}})});
  const std::int64_t before = now_ms();
  mqtt().publish_all({
      {telemetry_topic(arr), array_payload.dump()},
      {telemetry_topic(rfc), nlohmann::json{{"ts", format_rfc3339(t0 + 123, 120)}, {"co", 10.0}}.dump()},
      {telemetry_topic(rfc), nlohmann::json{{"ts", format_rfc3339(t0 + 2456, -330)}, {"co", 11.0}}.dump()},
      {telemetry_topic(rfc), nlohmann::json{{"ts", format_rfc3339(t0 + 4789)}, {"co", 12.0}}.dump()},
      {telemetry_topic(now_dev), nlohmann::json{{"seq", 1}, {"co", 7.0}}.dump()},
      {telemetry_topic(kinds),
       nlohmann::json{{"ts", t0}, {"door_open", true}, {"fan", false}, {"label", "north"}, {"co", 0.25}}
           .dump()},
  });
  const std::int64_t after = now_ms();
  ASSERT_TRUE(wait_rows(4 + 3 + 1 + 3));

  const auto a = db_->readings(arr);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].metric, "co");
  EXPECT_EQ(a[0].ts_us, t0 * 1000);
  EXPECT_EQ(a[0].value, 1.5);
  EXPECT_EQ(a[1].ts_us, (t0 + 1000) * 1000);
  EXPECT_EQ(a[1].value, 2.5);
  EXPECT_EQ(a[2].ts_us, (t0 + 2000) * 1000);
  EXPECT_EQ(a[2].value, 3.5);
  EXPECT_EQ(a[3].metric, "temperature");
  EXPECT_EQ(a[3].ts_us, (t0 + 1000) * 1000);
  EXPECT_EQ(a[3].value, -4.25);

  const auto r = db_->readings(rfc);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].ts_us, (t0 + 123) * 1000) << "RFC 3339 with +02:00";
  EXPECT_EQ(r[0].value, 10.0);
  EXPECT_EQ(r[1].ts_us, (t0 + 2456) * 1000) << "RFC 3339 with -05:30";
  EXPECT_EQ(r[1].value, 11.0);
  EXPECT_EQ(r[2].ts_us, (t0 + 4789) * 1000) << "RFC 3339 with Z";
  EXPECT_EQ(r[2].value, 12.0);

  const auto n = db_->readings(now_dev);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].value, 7.0);
  // Arrival time: between publishing and the broker's ack, give or take a clock tick.
  EXPECT_GE(n[0].ts_us, (before - 1000) * 1000) << "missing ts → server time";
  EXPECT_LE(n[0].ts_us, (after + 5000) * 1000) << "missing ts → server time";

  const auto k = db_->readings(kinds);
  ASSERT_EQ(k.size(), 3u) << "booleans are metrics, strings are ignored";
  EXPECT_EQ(k[0].metric, "co");
  EXPECT_EQ(k[0].value, 0.25);
  EXPECT_EQ(k[1].metric, "door_open");
  EXPECT_EQ(k[1].value, 1.0);
  EXPECT_EQ(k[2].metric, "fan");
  EXPECT_EQ(k[2].value, 0.0);
}

}  // namespace
}  // namespace peregrine::test
