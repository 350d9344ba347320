#include <peregrine/rules/backtest.hpp>

#include <gtest/gtest.h>

namespace peregrine::rules {
namespace {

constexpr core::Micros kSec = 1'000'000;
constexpr core::Micros kT0 = 1'763'800'000'000'000;

Rule parse(const char* body) {
  auto r = parse_rule(nlohmann::json::parse(body), 1);
  EXPECT_TRUE(std::holds_alternative<Rule>(r));
  return std::get<Rule>(r);
}

TEST(Backtest, CountsOpeningsAndResolutions) {
  Rule r = parse(R"({"name": "co", "metric": "co", "scope": {"device": "x"}, "kind": "threshold",
    "params": {"op": ">", "value": 50, "clear": 40}})");
  std::vector<BacktestPoint> pts;
  // d1: two episodes (second still open at the end); d2: one episode.
  double d1[] = {10, 60, 55, 45, 39, 70, 65};
  double d2[] = {10, 10, 51, 30, 10, 10, 10};
  for (int i = 0; i < 7; ++i) {
    pts.push_back({"d1", kT0 + i * 60 * kSec, d1[i]});
    pts.push_back({"d2", kT0 + i * 60 * kSec + 1, d2[i]});
  }
  auto res = backtest(r, pts);
  EXPECT_EQ(res.evaluated, 14u);
  ASSERT_EQ(res.alerts.size(), 3u);
  EXPECT_EQ(res.alerts[0].device, "d1");
  EXPECT_EQ(res.alerts[0].opened_at, kT0 + 60 * kSec);
  EXPECT_EQ(res.alerts[0].resolved_at, kT0 + 4 * 60 * kSec);
  EXPECT_EQ(res.alerts[0].value, 60);
  EXPECT_EQ(res.alerts[1].device, "d2");
  EXPECT_EQ(res.alerts[2].device, "d1");
  EXPECT_FALSE(res.alerts[2].resolved_at);

  auto j = to_json(res);
  EXPECT_EQ(j["evaluated"], 14);
  EXPECT_TRUE(j["alerts"][2]["resolved_at"].is_null());
  EXPECT_EQ(j["alerts"][0]["metric"], "co");
  EXPECT_TRUE(j["alerts"][0]["opened_at"].is_string());
}

TEST(Backtest, AbsenceAndHoldsFireBetweenReadings) {
  Rule a = parse(R"({"name": "s", "metric": "co", "scope": {"all": true}, "kind": "absence",
    "params": {"timeout_s": 300}})");
  std::vector<BacktestPoint> pts = {{"d1", kT0, 1}, {"d1", kT0 + 100 * kSec, 1},
                                    {"d1", kT0 + 1000 * kSec, 1}};
  auto res = backtest(a, pts, kT0 + 2000 * kSec);
  ASSERT_EQ(res.alerts.size(), 2u);
  EXPECT_EQ(res.alerts[0].opened_at, kT0 + 400 * kSec);  // at the deadline, not at the next reading
  EXPECT_EQ(res.alerts[0].resolved_at, kT0 + 1000 * kSec);
  EXPECT_EQ(res.alerts[1].opened_at, kT0 + 1300 * kSec);
  EXPECT_FALSE(res.alerts[1].resolved_at);

  Rule h = parse(R"({"name": "h", "metric": "co", "scope": {"all": true}, "kind": "threshold",
    "params": {"op": ">", "value": 50, "for_s": 120}})");
  std::vector<BacktestPoint> hp = {{"d1", kT0, 60}, {"d1", kT0 + 60 * kSec, 60},
                                   {"d1", kT0 + 100 * kSec, 10},  // breaks the hold
                                   {"d1", kT0 + 200 * kSec, 60}, {"d1", kT0 + 400 * kSec, 60}};
  auto hr = backtest(h, hp);
  ASSERT_EQ(hr.alerts.size(), 1u);
  EXPECT_EQ(hr.alerts[0].opened_at, kT0 + 320 * kSec);
}

}  // namespace
}  // namespace peregrine::rules
