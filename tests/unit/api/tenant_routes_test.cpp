// Tenant handlers through the router with the real repository: the
// conflict names its field, and a refused write leaves no audit entry.
#include "api_fixture.hpp"

namespace peregrine::api {
namespace {

using http::bhttp::verb;

class TenantRoutesTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (IsSkipped()) return;
    add_tenant_routes(router_, *ctx_);
  }
  std::int64_t audits(const std::string& action) {
    return query_value<std::int64_t>("SELECT count(*) FROM audit_log WHERE action = '" + action + "'");
  }
};

TEST_F(TenantRoutesTest, CreateRenameListDelete) {
  const auto made = call(verb::post, "/api/v1/tenants", R"({"name":"north"})", as(auth::Role::superadmin));
  ASSERT_EQ(made.status, 201) << made.body;
  const std::int64_t id = made.body["id"];
  const std::string path = "/api/v1/tenants/" + std::to_string(id);
  EXPECT_EQ(call(verb::patch, path, R"({"name":"north-2"})", as(auth::Role::superadmin)).body["name"],
            "north-2");
  const auto list = call(verb::get, "/api/v1/tenants?limit=1", "", as(auth::Role::superadmin));
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["next"], "1");
  EXPECT_EQ(call(verb::delete_, path, "", as(auth::Role::superadmin)).status, 204);
  EXPECT_EQ(call(verb::get, path, "", as(auth::Role::superadmin)).status, 404);
  EXPECT_EQ(audits("tenant.create") + audits("tenant.update") + audits("tenant.delete"), 3);
}

TEST_F(TenantRoutesTest, ATakenNameIs409NamingTheFieldWithNoAuditEntry) {
  ASSERT_EQ(call(verb::post, "/api/v1/tenants", R"({"name":"south"})", as(auth::Role::superadmin)).status, 201);
  const auto dup = call(verb::post, "/api/v1/tenants", R"({"name":"south"})", as(auth::Role::superadmin));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.body["detail"], "name: a tenant with this name exists");
  EXPECT_EQ(audits("tenant.create"), 1);
}

TEST_F(TenantRoutesTest, ATenantThatStillOwnsDevicesIsNotDeleted) {
  const auto made = call(verb::post, "/api/v1/tenants", R"({"name":"east"})", as(auth::Role::superadmin));
  const std::int64_t id = made.body["id"];
  pqxx::connection c(url_);
  pqxx::work w(c);
  w.exec_params("INSERT INTO devices (id, tenant_id, name) VALUES ('e1', $1, 'e1')", id);
  w.commit();
  const auto r = call(verb::delete_, "/api/v1/tenants/" + std::to_string(id), "", as(auth::Role::superadmin));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(audits("tenant.delete"), 0);
  EXPECT_EQ(call(verb::delete_, "/api/v1/tenants/999999", "", as(auth::Role::superadmin)).status, 404);
}

}  // namespace
}  // namespace peregrine::api
