// User handlers through the router with the real repository: an admin stays
// within its tenant and below its role; problem details name what is wrong.
#include "api_fixture.hpp"

namespace peregrine::api {
namespace {

using http::bhttp::verb;
using nlohmann::json;

class UserRoutesTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (IsSkipped()) return;
    add_user_routes(router_, *ctx_);
    owner_exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
  }
  std::int64_t create(const std::string& email, const std::string& role,
                      http::Principal who = as(auth::Role::admin)) {
    const auto r = call(verb::post, "/api/v1/users",
                        json{{"email", email}, {"password", "password-123"}, {"role", role}}.dump(), who);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.body["id"].get<std::int64_t>() : 0;
  }
};

TEST_F(UserRoutesTest, CreateListAndATakenEmailIs409) {
  ASSERT_GT(create("Ops@Example.org", "operator"), 0);
  const auto list = call(verb::get, "/api/v1/users");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["email"], "ops@example.org");
  EXPECT_EQ(list.body["items"][0]["role"], "operator");
  const auto dup = call(verb::post, "/api/v1/users",
                        R"({"email":"ops@example.org","password":"password-123"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.body["detail"], "a user with this email exists in this tenant");
  EXPECT_EQ(query_value<std::int64_t>("SELECT count(*) FROM audit_log WHERE action = 'user.create'"), 1);
}

TEST_F(UserRoutesTest, AnAdminCannotGrantOrReachAboveItsRole) {
  const auto up = call(verb::post, "/api/v1/users",
                       R"({"email":"boss@example.org","password":"password-123","role":"superadmin"})");
  EXPECT_EQ(up.status, 403) << up.body;
  const std::int64_t root = create("root@example.org", "superadmin", as(auth::Role::superadmin));
  ASSERT_GT(root, 0);
  const auto patch = call(verb::patch, "/api/v1/users/" + std::to_string(root), R"({"role":"viewer"})");
  EXPECT_EQ(patch.status, 403) << patch.body;
  EXPECT_EQ(query_value<std::string>("SELECT role FROM users WHERE id = " + std::to_string(root)),
            "superadmin");
}

TEST_F(UserRoutesTest, AnotherTenantsUserIsNotFound) {
  ASSERT_EQ(create("me@example.org", "admin"), 1);  // the caller of as() is user 1
  const std::int64_t north = create("n@example.org", "viewer", as(auth::Role::superadmin, 2));
  ASSERT_GT(north, 0);
  const std::string path = "/api/v1/users/" + std::to_string(north);
  EXPECT_EQ(call(verb::get, path).status, 404);
  EXPECT_EQ(call(verb::patch, path, R"({"role":"operator"})").status, 404);
  EXPECT_EQ(call(verb::delete_, path).status, 404);
  EXPECT_EQ(call(verb::get, path, "", as(auth::Role::admin, 2)).status, 200);
}

TEST_F(UserRoutesTest, DeletingYourselfIs409) {
  EXPECT_EQ(call(verb::delete_, "/api/v1/users/1").status, 409);  // as() is user 1
}

}  // namespace
}  // namespace peregrine::api
