// Invalid rules are rejected with problem+json naming the field; CRUD
// round-trips; roles apply; backtest over readings stored for last week.
#include <vector>

#include "support/alerting_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class RulesValidationTest : public AlertingTest {
 protected:
  void expect_problem(const HttpResponse& r, int status, const std::string& field) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body;
    const json p = r.json();
    EXPECT_EQ(p.value("status", 0), status) << r.body;
    EXPECT_EQ(p.value("detail", "").rfind(field + ":", 0), 0u)
        << "detail should start with '" << field << ":': " << r.body;
  }
};

TEST_F(RulesValidationTest, InvalidRulesAreRejectedNamingTheField) {
  ASSERT_TRUE(start_server());
  const json good = threshold_rule("co", "co", "dev-1", {{"op", ">"}, {"value", 50}, {"clear", 45}});

  json bad_op = good;
  bad_op["params"]["op"] = "=>";
  expect_problem(call("POST", "/api/v1/rules", bad_op), 400, "params.op");
  json bad_clear = good;
  bad_clear["params"]["clear"] = 55;
  expect_problem(call("POST", "/api/v1/rules", bad_clear), 422, "params.clear");
  json typo = good;
  typo["params"]["for"] = 30;
  expect_problem(call("POST", "/api/v1/rules", typo), 400, "params.for");
  json bad_scope = good;
  bad_scope["scope"] = {{"device", "no spaces allowed"}};
  expect_problem(call("POST", "/api/v1/rules", bad_scope), 400, "scope.device");
  json bad_window = {{"name", "r"}, {"metric", "co"}, {"scope", {{"all", true}}}, {"kind", "rate"},
                     {"params", {{"rise", 5}}}};
  expect_problem(call("POST", "/api/v1/rules", bad_window), 400, "params.window_s");
  EXPECT_EQ(call("POST", "/api/v1/rules", std::string("{not json")).status, 400);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM rules"), 0);

  // A valid rule round-trips; PATCH is a merge patch and is validated too.
  const auto created = call("POST", "/api/v1/rules", good);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string path = "/api/v1/rules/" + std::to_string(created.json()["id"].get<std::int64_t>());
  const auto got = call("GET", path);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json()["params"]["clear"], 45);
  EXPECT_EQ(got.json()["scope"]["device"], "dev-1");
  expect_problem(call("PATCH", path, json{{"params", {{"value", 40}}}}), 422, "params.clear");
  expect_problem(call("PATCH", path, json{{"kind", "rate"}}), 400, "params");
  expect_problem(call("PATCH", path, json{{"escalate", {{"after_s", 60}, {"to", "info"}}}}), 422, "escalate.to");
  const auto renamed = call("PATCH", path, json{{"name", "CO, renamed"}, {"enabled", false}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json()["params"]["value"], 50);
  EXPECT_EQ(call("GET", "/api/v1/rules").json()["items"][0]["name"], "CO, renamed");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM rules WHERE NOT enabled"), 1);
  EXPECT_EQ(call("GET", "/api/v1/rules/99999").status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/rules/99999", json{{"name", "x"}}).status, 404);
}

TEST_F(RulesValidationTest, BacktestOverLastWeekReturnsTheOpenings) {
  ASSERT_TRUE(start_server());
  const std::string dev = device("mine");
  const std::string other = device("other");
  // Readings a minute apart, a week ago; threshold > 50 with clear 45.
  const std::vector<double> values = {40, 55, 56, 40, 40, 60, 40, 58, 44, 40};
  const std::int64_t base = now_ms() - 7 * 86'400'000LL;
  std::vector<MqttMessage> msgs;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int64_t ts = base + static_cast<std::int64_t>(i) * 60'000;
    msgs.push_back({telemetry_topic(dev), telemetry(ts, -1, {{"co", values[i]}}).dump()});
    msgs.push_back({telemetry_topic(other), telemetry(ts, -1, {{"co", 99}}).dump()});
  }
  mqtt().publish_all(msgs, 1);
  ASSERT_TRUE(wait_rows(20));

  json body = threshold_rule("bt", "co", dev, {{"op", ">"}, {"value", 50}, {"clear", 45}});
  body["from"] = format_rfc3339(base - 86'400'000);
  body["to"] = format_rfc3339(base + 86'400'000);
  const auto r = call("POST", "/api/v1/rules/backtest", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const json out = r.json();
  EXPECT_EQ(out["evaluated"], 10);
  ASSERT_EQ(out["alerts"].size(), 3u) << r.body;
  const std::vector<std::size_t> opened_at = {1, 5, 7};
  const std::vector<std::size_t> resolved_at = {3, 6, 8};
  for (std::size_t k = 0; k < 3; ++k) {
    const json& a = out["alerts"][k];
    EXPECT_EQ(a["device"], dev);
    EXPECT_EQ(a["metric"], "co");
    EXPECT_EQ(parse_rfc3339_ms(a["opened_at"].get<std::string>()),
              base + static_cast<std::int64_t>(opened_at[k]) * 60'000);
    EXPECT_EQ(parse_rfc3339_ms(a["resolved_at"].get<std::string>()),
              base + static_cast<std::int64_t>(resolved_at[k]) * 60'000);
    EXPECT_DOUBLE_EQ(a["value"].get<double>(), values[opened_at[k]]);
  }
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM rules"), 0) << "a backtest stores nothing";

  // Scope all: the other device's readings count too (it breaches once, never clears).
  body["scope"] = {{"all", true}};
  const auto all = call("POST", "/api/v1/rules/backtest", body);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json()["evaluated"], 20);
  EXPECT_EQ(all.json()["alerts"].size(), 4u);

  body.erase("from");
  expect_problem(call("POST", "/api/v1/rules/backtest", body), 400, "from");
}

}  // namespace
}  // namespace peregrine::test
