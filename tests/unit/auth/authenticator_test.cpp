// Route access: 401 with WWW-Authenticate for bad tokens, 403 for low roles.
#include <peregrine/auth/authenticator.hpp>

#include <gtest/gtest.h>

#include <peregrine/auth/secrets.hpp>

namespace peregrine::auth {
namespace {

using http::Access;

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init()); }

  http::RawRequest with_bearer(const std::string& token) {
    http::RawRequest r{boost::beast::http::verb::get, "/api/v1/x", 11};
    r.set(boost::beast::http::field::authorization, "Bearer " + token);
    return r;
  }
  unsigned status_of(const http::RawRequest& r, Access a, std::string* www = nullptr) {
    try {
      auth_.authenticate(r, a);
      return 200;
    } catch (const http::Problem& p) {
      for (const auto& [k, v] : p.headers)
        if (k == "WWW-Authenticate" && www) *www = v;
      return p.status;
    }
  }

  core::ManualClock clock_;
  TokenSigner signer_{"k", clock_};
  Authenticator auth_{signer_};
};

TEST_F(AuthenticatorTest, PublicNeedsNothing) {
  http::RawRequest r{boost::beast::http::verb::get, "/livez", 11};
  EXPECT_FALSE(auth_.authenticate(r, Access::public_).has_value());
}

TEST_F(AuthenticatorTest, MissingTokenIs401WithChallenge) {
  http::RawRequest r{boost::beast::http::verb::get, "/api/v1/devices", 11};
  std::string www;
  EXPECT_EQ(status_of(r, Access::viewer, &www), 401u);
  EXPECT_TRUE(www.starts_with("Bearer")) << www;
  r.set(boost::beast::http::field::authorization, "Basic dXNlcjpwdw==");
  EXPECT_EQ(status_of(r, Access::viewer), 401u);
}

TEST_F(AuthenticatorTest, ExpiredAndGarbageAre401) {
  const auto t = signer_.issue({1, 1, Role::superadmin, "a@b"});
  clock_.advance(16 * 60 * 1'000'000LL);
  std::string www;
  EXPECT_EQ(status_of(with_bearer(t), Access::viewer, &www), 401u);
  EXPECT_NE(www.find("invalid_token"), std::string::npos);
  EXPECT_EQ(status_of(with_bearer("garbage"), Access::viewer), 401u);
}

TEST_F(AuthenticatorTest, RolesAreOrdered) {
  const Access levels[] = {Access::viewer, Access::operator_, Access::admin, Access::superadmin};
  const Role roles[] = {Role::viewer, Role::operator_, Role::admin, Role::superadmin};
  for (int r = 0; r < 4; ++r) {
    const auto req = with_bearer(signer_.issue({5, 2, roles[r], "u@t"}));
    for (int a = 0; a < 4; ++a) {
      EXPECT_EQ(status_of(req, levels[a]), r >= a ? 200u : 403u) << r << " on " << a;
    }
  }
  const auto p = auth_.authenticate(with_bearer(signer_.issue({5, 2, Role::admin, "u@t"})),
                                    Access::viewer);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->user_id, 5);
  EXPECT_EQ(p->tenant, 2);
  EXPECT_EQ(role_of(*p), Role::admin);
}

TEST_F(AuthenticatorTest, DeviceRoutesNeedDeviceToken) {
  http::RawRequest r{boost::beast::http::verb::post, "/api/v1/devices/d/telemetry", 11};
  EXPECT_EQ(status_of(r, Access::device), 401u);
  r.set("X-Device-Token", "pdt_x");
  EXPECT_EQ(status_of(r, Access::device), 200u);
}

TEST_F(AuthenticatorTest, InvalidAccessIsRefused) {
  EXPECT_EQ(status_of(with_bearer(signer_.issue({1, 1, Role::superadmin, "a@b"})),
                      static_cast<Access>(99)),
            403u);
  EXPECT_FALSE(valid_access(static_cast<Access>(99)));
}

TEST_F(AuthenticatorTest, StreamGrantCarriesTheTokenExpiry) {
  const auto now_s = clock_.now_us() / 1'000'000;
  const auto t = signer_.issue({5, 2, Role::viewer, "v@t"});
  auto g = auth_.stream_tenant(t, std::nullopt);
  ASSERT_EQ(g.tenant, 2);
  EXPECT_EQ(g.expires_us, (now_s + 15 * 60) * 1'000'000);
  // A later token expires later: what a renewal moves the deadline to.
  clock_.advance(60'000'000);
  g = auth_.stream_tenant(signer_.issue({5, 2, Role::viewer, "v@t"}), 2);
  EXPECT_EQ(g.expires_us, (now_s + 16 * 60) * 1'000'000);
  g = auth_.stream_tenant(t, 3);
  EXPECT_FALSE(g.tenant);
  EXPECT_EQ(g.status, 403u);
  clock_.advance(15 * 60 * 1'000'000LL);
  g = auth_.stream_tenant(t, std::nullopt);
  EXPECT_FALSE(g.tenant);
  EXPECT_EQ(g.status, 401u);
  EXPECT_EQ(g.detail, "token expired");
}

}  // namespace
}  // namespace peregrine::auth
