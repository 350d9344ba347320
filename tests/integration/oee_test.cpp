// OEE against the real servers: a machine's readings over yesterday's shift
// (published out of order, the way a buffered backlog arrives) give the
// factors computed by hand in this test; a line is its machines' totals;
// shift calendars validate what they store.
#include <peregrine/core/time_format.hpp>

#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class OeeTest : public AlertingTest {};

TEST_F(OeeTest, AShiftByHandAndALineFromItsMachinesTotals) {
  ASSERT_TRUE(start_server());
  const std::string machine = device("press"), idle = device("idle-press");
  const std::int64_t day = (now_ms() / 86'400'000 - 1) * 86'400'000;  // yesterday 00:00 UTC
  const auto at = [&](int h, int m) { return day + (h * 60 + m) * 60'000; };

  // Newest first: the order the readings arrive in must not matter.
  const json readings = json::array({
      {{"ts", at(17, 0)}, {"count_total", 400}},
      {{"ts", at(15, 0)}, {"state", 0}},
      {{"ts", at(14, 0)}, {"count_total", 320}, {"count_good", 1300}},
      {{"ts", at(11, 0)}, {"count_total", 20}},  // the counter restarted
      {{"ts", at(10, 30)}, {"state", 1}},
      {{"ts", at(10, 0)}, {"state", 0}},
      {{"ts", at(9, 0)}, {"count_total", 1100}},
      {{"ts", at(8, 0)}, {"state", 1}},
      {{"ts", at(7, 30)}, {"count_total", 1000}, {"count_good", 990}},
      {{"ts", at(7, 0)}, {"state", 0}},
  });
  mqtt().publish(telemetry_topic(machine), readings.dump());
  mqtt().publish(telemetry_topic(idle), json::array({{{"ts", at(7, 0)}, {"state", 0}}}).dump());
  ASSERT_TRUE(wait_rows(12, machine));
  ASSERT_TRUE(wait_rows(1, idle));

  const auto g = call("POST", "/api/v1/groups", json{{"name", "line-" + tag_}, {"device_ids", {machine, idle}}});
  ASSERT_EQ(g.status, 201) << g.body;
  const std::int64_t group = g.json()["id"].get<std::int64_t>();
  const auto shift = call("POST", "/api/v1/shifts",
                          json{{"name", "Day"}, {"start", "08:00"}, {"end", "16:00"}, {"tz", "UTC"},
                               {"breaks", {{{"start", "12:00"}, {"end", "12:30"}}}}, {"group", group}});
  ASSERT_EQ(shift.status, 201) << shift.body;
  EXPECT_EQ(shift.json()["weekdays"], json({1, 2, 3, 4, 5, 6, 7})) << "every day unless told";

  // By hand. Planned: 08:00–16:00 less the break = 450 min. Ran 08:00–10:00
  // and 10:30–15:00 less the break = 120 + 270 − 30 = 360 min. Units:
  // 1000 → 1100 (+100), a reset to 20 (+20), 20 → 320 (+300) = 420; 17:00 is
  // after the shift. Good: 990 → 1300 = 310. 90 an hour is 40 s a unit.
  const double planned = 450 * 60, run = 360 * 60, total = 420, good = 310, ideal = total * 40;
  const std::string range = "&from=" + std::to_string(day) + "&to=" + std::to_string(day + 86'400'000) +
                            "&ideal_rate=90";
  const auto r = get("/api/v1/devices/" + machine + "/oee?by=shift" + range);
  ASSERT_EQ(r.status, 200) << r.body;
  const json o = r.json();
  ASSERT_EQ(o["rows"].size(), 1u) << o.dump();
  const json& row = o["rows"][0];
  EXPECT_EQ(row["label"], core::format_rfc3339(day * 1000).substr(0, 10) + " Day");
  EXPECT_EQ(row["shift"], shift.json()["id"]);
  EXPECT_DOUBLE_EQ(row["planned_s"].get<double>(), planned);
  EXPECT_DOUBLE_EQ(row["run_s"].get<double>(), run);
  EXPECT_DOUBLE_EQ(row["downtime_s"].get<double>(), planned - run);
  EXPECT_DOUBLE_EQ(row["total_count"].get<double>(), total);
  EXPECT_DOUBLE_EQ(row["good_count"].get<double>(), good);
  EXPECT_DOUBLE_EQ(row["availability"].get<double>(), run / planned);
  EXPECT_DOUBLE_EQ(row["performance"].get<double>(), ideal / run);
  EXPECT_DOUBLE_EQ(row["quality"].get<double>(), good / total);
  EXPECT_NEAR(row["oee"].get<double>(), (run / planned) * (ideal / run) * (good / total), 1e-12);
  EXPECT_NEAR(o["oee"].get<double>(), row["oee"].get<double>(), 1e-12) << "one shift: the total is that shift";

  // The same by day: one day whose planned time is the shift's.
  const auto byday = get("/api/v1/devices/" + machine + "/oee?by=day" + range);
  ASSERT_EQ(byday.status, 200) << byday.body;
  const json d = byday.json();
  ASSERT_EQ(d["rows"].size(), 1u);
  EXPECT_DOUBLE_EQ(d["rows"][0]["planned_s"].get<double>(), planned);

  // The line: its machines' totals added, then the factors.
  const auto line = get("/api/v1/groups/" + std::to_string(group) + "/oee?by=shift" + range);
  ASSERT_EQ(line.status, 200) << line.body;
  const json l = line.json();
  ASSERT_EQ(l["machines"].size(), 2u);
  EXPECT_DOUBLE_EQ(l["planned_s"].get<double>(), 2 * planned);
  EXPECT_DOUBLE_EQ(l["availability"].get<double>(), run / (2 * planned));
  EXPECT_DOUBLE_EQ(l["performance"].get<double>(), ideal / run);
  EXPECT_DOUBLE_EQ(l["quality"].get<double>(), good / total);

  // Without a calendar: by=shift is refused, by=day plans around the clock.
  const auto lone = device("lone");
  mqtt().publish(telemetry_topic(lone), json::array({{{"ts", at(6, 0)}, {"state", 1}}}).dump());
  ASSERT_TRUE(wait_rows(1, lone));
  EXPECT_EQ(get("/api/v1/devices/" + lone + "/oee?by=shift" + range).status, 422);
  const auto clock = get("/api/v1/devices/" + lone + "/oee?by=day" + range);
  ASSERT_EQ(clock.status, 200) << clock.body;
  EXPECT_DOUBLE_EQ(clock.json()["planned_s"].get<double>(), 86'400);
  EXPECT_DOUBLE_EQ(clock.json()["run_s"].get<double>(), 18 * 3600) << "running from 06:00 to the end of the day";

  // Planned time ends now: a range into the future plans only up to now.
  const auto ahead = get("/api/v1/devices/" + lone + "/oee?by=day&ideal_rate=1&from=" + std::to_string(day) +
                         "&to=" + std::to_string(day + 3 * 86'400'000LL));
  ASSERT_EQ(ahead.status, 200) << ahead.body;
  EXPECT_EQ(ahead.json()["rows"].size(), 2u) << "yesterday and today so far: " << ahead.body;
  EXPECT_LE(ahead.json()["planned_s"].get<double>(), static_cast<double>(now_ms() - day) / 1000);
  EXPECT_GT(ahead.json()["planned_s"].get<double>(), 86'400);

  // A second shift overlapping the first: each is a row, their time counts once.
  const auto late = call("POST", "/api/v1/shifts",
                         json{{"name", "Late"}, {"start", "15:00"}, {"end", "18:00"}, {"tz", "UTC"}, {"group", group}});
  ASSERT_EQ(late.status, 201) << late.body;
  const auto both = get("/api/v1/devices/" + machine + "/oee?by=shift" + range);
  ASSERT_EQ(both.status, 200) << both.body;
  ASSERT_EQ(both.json()["rows"].size(), 2u) << both.body;
  EXPECT_DOUBLE_EQ(both.json()["rows"][1]["planned_s"].get<double>(), 3 * 3600);
  EXPECT_DOUBLE_EQ(both.json()["planned_s"].get<double>(), planned + 2 * 3600) << "08:00–18:00 less the break";
  const auto whole = get("/api/v1/devices/" + machine + "/oee?by=none" + range);
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_DOUBLE_EQ(whole.json()["rows"][0]["planned_s"].get<double>(), planned + 2 * 3600);

  // Bad parameters name themselves.
  EXPECT_EQ(get("/api/v1/devices/" + machine + "/oee?from=" + std::to_string(day)).status, 400) << "ideal_rate";
  const auto too_long = get("/api/v1/devices/" + machine + "/oee?ideal_rate=1&from=" +
                            std::to_string(day - 40 * 86'400'000LL) + "&to=" + std::to_string(day));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("31 days"), std::string::npos) << too_long.body;
  EXPECT_EQ(get("/api/v1/devices/" + machine + "/oee?ideal_rate=1&by=week").status, 400);
  EXPECT_EQ(get("/api/v1/devices/" + machine + "/oee?ideal_rate=1&tz=Mars/Base").status, 400);
}

TEST_F(OeeTest, ShiftCalendarsValidateWhatTheyStore) {
  ASSERT_TRUE(start_server());
  const json good = {{"name", "Night"}, {"start", "22:00"}, {"end", "06:00"}, {"weekdays", {1, 2, 3, 4, 5}},
                     {"tz", "Europe/Berlin"}, {"breaks", {{{"start", "02:00"}, {"end", "02:30"}}}}};
  const auto created = call("POST", "/api/v1/shifts", good);
  ASSERT_EQ(created.status, 201) << created.body;
  const json s = created.json();
  EXPECT_EQ(s["group"], nullptr);
  EXPECT_EQ(s["breaks"][0]["start"], "02:00");
  const std::string path = "/api/v1/shifts/" + std::to_string(s["id"].get<std::int64_t>());
  EXPECT_EQ(call("POST", "/api/v1/shifts", good).status, 409) << "same name in the same calendar";

  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"tz", "Mars/Base"}, {"start", "25:00"}, {"end", "6:00"}, {"weekdays", json::array({0})},
           {"weekdays", json::array()}, {"breaks", json::array({{{"start", "12:00"}, {"end", "12:30"}}})},
           {"group", 999999999}, {"name", ""}}) {
    json bad = good;
    bad["name"] = "x-" + field;
    bad[field] = value;
    const auto r = call("POST", "/api/v1/shifts", bad);
    EXPECT_EQ(r.status, 422) << field << " = " << value.dump() << ": " << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << r.body;
  }

  const auto patched = call("PATCH", path, json{{"end", "05:30"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["end"], "05:30");
  EXPECT_EQ(patched.json()["start"], "22:00") << "members not sent are kept";
  EXPECT_EQ(call("PATCH", path, json{{"breaks", {{{"start", "05:00"}, {"end", "06:00"}}}}}).status, 422)
      << "a break past the shift's new end";
  const auto listed = get("/api/v1/shifts");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json()["items"].size(), 1u);
  EXPECT_EQ(call("DELETE", path).status, 204);
  EXPECT_EQ(get(path).status, 404);
}

}  // namespace
}  // namespace peregrine::test
