// Device and device-credential handlers through the router, against the
// real database: what a client sees (status, body) and what lands (rows,
// audit entries), and HTTP ingest refused while storage is under pressure.
#include "api_fixture.hpp"

namespace peregrine::api {
namespace {

using http::bhttp::verb;
using nlohmann::json;

class DeviceRoutesTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (IsSkipped()) return;
    add_device_routes(router_, *ctx_);
    add_device_credential_routes(router_, *ctx_);
  }
  std::int64_t count(const std::string& sql) { return query_value<std::int64_t>(sql); }
};

TEST_F(DeviceRoutesTest, CreateShowsTheTokenOnceAndAuditsInTheSameTransaction) {
  const auto r = call(verb::post, "/api/v1/devices",
                      R"({"id":"boiler-1","name":"Boiler","type":"co","location":{"lat":52.5,"lon":13.4},"metadata":{"room":"cellar"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body["id"], "boiler-1");
  EXPECT_EQ(r.body["location"]["lat"], 52.5);
  EXPECT_EQ(r.body["metadata"]["room"], "cellar");
  ASSERT_TRUE(r.body["token"].is_string());
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE id = 'boiler-1' AND token_hash IS NOT NULL"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'device.create' AND target = 'device:boiler-1'"), 1);

  const auto again = call(verb::get, "/api/v1/devices/boiler-1");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(again.body.contains("token"));
  EXPECT_EQ(again.body["name"], "Boiler");
}

TEST_F(DeviceRoutesTest, ListPagesByCursorAndFilters) {
  for (const char* id : {"a1", "a2", "b1"}) {
    ASSERT_EQ(call(verb::post, "/api/v1/devices",
                   json{{"id", id}, {"type", id[0] == 'a' ? "co" : "o2"}}.dump()).status, 201);
  }
  auto page = call(verb::get, "/api/v1/devices?limit=2");
  ASSERT_EQ(page.status, 200);
  ASSERT_EQ(page.body["items"].size(), 2u);
  EXPECT_EQ(page.body["next"], "a2");
  page = call(verb::get, "/api/v1/devices?limit=2&cursor=a2");
  ASSERT_EQ(page.body["items"].size(), 1u);
  EXPECT_EQ(page.body["items"][0]["id"], "b1");
  EXPECT_TRUE(page.body["next"].is_null());
  EXPECT_EQ(call(verb::get, "/api/v1/devices?type=o2").body["items"].size(), 1u);
}

TEST_F(DeviceRoutesTest, PatchChangesOnlyWhatIsGivenAndAnotherTenantGets404) {
  ASSERT_EQ(call(verb::post, "/api/v1/devices", R"({"id":"d1","name":"One","type":"co"})").status, 201);
  const auto r = call(verb::patch, "/api/v1/devices/d1", R"({"name":"Uno","location":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["name"], "Uno");
  EXPECT_EQ(r.body["type"], "co");
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'device.update'"), 1);

  const auto other = call(verb::patch, "/api/v1/devices/d1", R"({"name":"x"})",
                          as(auth::Role::admin, 2));
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(call(verb::get, "/api/v1/devices/d1", "", as(auth::Role::viewer, 2)).status, 404);
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE name = 'Uno'"), 1);
}

TEST_F(DeviceRoutesTest, ATakenIdIsAConflict) {
  ASSERT_EQ(call(verb::post, "/api/v1/devices", R"({"id":"dup"})").status, 201);
  registry_.remove("dup");  // as if another instance had created it: the key decides
  const auto r = call(verb::post, "/api/v1/devices", R"({"id":"dup"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body["detail"].get<std::string>().find("id"), std::string::npos);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'device.create'"), 1);
}

TEST_F(DeviceRoutesTest, HttpIngestAnswers503WithRetryAfterWhileStorageIsUnderPressure) {
  const auto created = call(verb::post, "/api/v1/devices", R"({"id":"esp32"})");
  ASSERT_EQ(created.status, 201);
  const std::string token = created.body["token"];
  bool pressure = true;
  int ingested = 0;
  ctx_->ingest_pressure = [&] { return pressure; };
  ctx_->ingest_http = [&](std::string_view, const std::string&) {
    ++ingested;
    ingest::IngestOutcome out;
    out.stored = 1;
    return out;
  };
  const auto refused = call(verb::post, "/api/v1/devices/esp32/telemetry", R"({"co":3})",
                            std::nullopt, {{"X-Device-Token", token}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.retry_after, "1");
  EXPECT_EQ(ingested, 0);
  EXPECT_NE(metrics_.render().find("peregrine_http_ingest_refused_total 1"), std::string::npos);

  pressure = false;
  const auto taken = call(verb::post, "/api/v1/devices/esp32/telemetry", R"({"co":3})",
                          std::nullopt, {{"X-Device-Token", token}});
  EXPECT_EQ(taken.status, 202) << taken.body;
  EXPECT_EQ(ingested, 1);
}

TEST_F(DeviceRoutesTest, AWrongDeviceTokenIs401LikeAnUnknownDevice) {
  ASSERT_EQ(call(verb::post, "/api/v1/devices", R"({"id":"esp32"})").status, 201);
  EXPECT_EQ(call(verb::post, "/api/v1/devices/esp32/telemetry", R"({"co":3})", std::nullopt,
                 {{"X-Device-Token", "pdt_wrong"}}).status, 401);
  EXPECT_EQ(call(verb::post, "/api/v1/devices/nobody/telemetry", R"({"co":3})", std::nullopt,
                 {{"X-Device-Token", "pdt_wrong"}}).status, 401);
}

}  // namespace
}  // namespace peregrine::api
