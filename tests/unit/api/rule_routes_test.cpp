// Rule handlers through the router: a change is committed (with its audit
// entry) before the running engine sees it, and a refused one changes neither.
#include <peregrine/api/alerting.hpp>
#include <peregrine/alerts/manager.hpp>
#include <peregrine/rules/engine.hpp>

#include "api_fixture.hpp"

namespace peregrine::api {
namespace {

using http::bhttp::verb;
using nlohmann::json;

struct NoObserver final : alerts::AlertObserver {
  void on_alert(const alerts::Alert&, const alerts::AlertEvent&, const rules::Rule*) override {}
};

class RuleRoutesTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (IsSkipped()) return;
    alerting_ = std::make_unique<AlertingContext>(
        AlertingContext{*repos_, registry_, engine_, manager_, clock_, [this] { ++changed_; }});
    add_rule_routes(router_, *alerting_);
  }
  std::int64_t audits(const std::string& action) {
    return query_value<std::int64_t>("SELECT count(*) FROM audit_log WHERE action = '" + action + "'");
  }

  core::ManualClock clock_;
  NoObserver observer_;
  alerts::Manager manager_{clock_, observer_, metrics_};
  rules::Engine engine_{clock_, manager_, metrics_};
  std::unique_ptr<AlertingContext> alerting_;
  int changed_ = 0;
};

const char* kRule =
    R"({"name":"co high","metric":"co","scope":{"all":true},"kind":"threshold",)"
    R"("params":{"op":">","value":50},"severity":"warning"})";

TEST_F(RuleRoutesTest, CreatePatchDeleteReachTheEngineAfterTheDatabase) {
  const auto made = call(verb::post, "/api/v1/rules", kRule);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::int64_t id = made.body["id"];
  ASSERT_NE(engine_.find_rule(id), nullptr);
  EXPECT_EQ(audits("rule.create"), 1);

  const auto patched = call(verb::patch, "/api/v1/rules/" + std::to_string(id), R"({"name":"co very high"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(engine_.find_rule(id)->name, "co very high");
  EXPECT_EQ(query_value<std::string>("SELECT name FROM rules WHERE id = " + std::to_string(id)),
            "co very high");

  EXPECT_EQ(call(verb::delete_, "/api/v1/rules/" + std::to_string(id)).status, 204);
  EXPECT_EQ(engine_.find_rule(id), nullptr);
  EXPECT_EQ(changed_, 3);
  EXPECT_EQ(call(verb::get, "/api/v1/rules/" + std::to_string(id)).status, 404);
}

TEST_F(RuleRoutesTest, ARefusedPatchChangesNeitherTheRowNorTheEngine) {
  const std::int64_t id = call(verb::post, "/api/v1/rules", kRule).body["id"];
  const auto bad = call(verb::patch, "/api/v1/rules/" + std::to_string(id), R"({"kind":"nonsense"})");
  EXPECT_GE(bad.status, 400u);
  EXPECT_LT(bad.status, 500u);
  EXPECT_EQ(engine_.find_rule(id)->kind, rules::Kind::threshold);
  EXPECT_EQ(audits("rule.update"), 0);
  EXPECT_EQ(call(verb::get, "/api/v1/rules/" + std::to_string(id), "", as(auth::Role::viewer, 2)).status,
            404);
}

}  // namespace
}  // namespace peregrine::api
