// PATCH and DELETE /api/v1/devices/{id}: edits show in the device and in the
// audit log; deletion removes the device, its readings from the `readings`
// view, and a device publishing again is provisioned anew.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "auth_helpers.hpp"
#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class DeviceAdminTest : public IntegrationTest {
 protected:
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return authit::request(server_->http_port(), method, target,
                           {{"Authorization", "Bearer " + token_},
                            {"Content-Type", "application/json"}},
                           body);
  }
};

TEST_F(DeviceAdminTest, PatchEditsAndDeleteRemovesTheDevice) {
  ASSERT_TRUE(start_server());
  const std::string id = device("edit");
  mqtt().publish("sensors/" + id + "/telemetry", R"({"seq":1,"co":2.5})");
  ASSERT_TRUE(wait_rows(1, id));

  auto r = call("PATCH", "/api/v1/devices/" + id,
                R"({"name":"Boiler room","type":"co-sensor","location":{"lat":52.5,"lon":13.4},)"
                R"("metadata":{"floor":2}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json d = json::parse(r.body);
  EXPECT_EQ(d["name"], "Boiler room");
  EXPECT_EQ(d["type"], "co-sensor");
  EXPECT_DOUBLE_EQ(d["location"]["lat"].get<double>(), 52.5);
  EXPECT_EQ(d["metadata"]["floor"], 2);

  r = get("/api/v1/devices/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["name"], "Boiler room");

  EXPECT_EQ(call("PATCH", "/api/v1/devices/" + id, R"({"location":{"lat":99,"lon":0}})").status,
            422);
  EXPECT_EQ(call("PATCH", "/api/v1/devices/" + id, R"({})").status, 422);
  EXPECT_EQ(call("PATCH", "/api/v1/devices/nope-" + id, R"({"name":"x"})").status, 404);

  r = call("PATCH", "/api/v1/devices/" + id, R"({"location":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["location"].is_null());

  r = call("DELETE", "/api/v1/devices/" + id);
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(get("/api/v1/devices/" + id).status, 404);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM devices WHERE id = '" + id + "'"), 0);
  EXPECT_EQ(db_->count_readings(id), 0);
  EXPECT_GE(db_->scalar("SELECT count(*) FROM audit_log WHERE action IN "
                        "('device.update', 'device.delete')"),
            2);

  // Publishing again provisions it anew, with fresh series.
  mqtt().publish("sensors/" + id + "/telemetry", R"({"seq":1,"co":3.5})");
  ASSERT_TRUE(wait_rows(1, id));
  EXPECT_EQ(get("/api/v1/devices/" + id).status, 200);
}

}  // namespace
}  // namespace peregrine::test
