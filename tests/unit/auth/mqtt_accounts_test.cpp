// The mosquitto_passwd hash format, checked against a hash written by
// Mosquitto 2.0.11's own mosquitto_passwd.
#include <peregrine/auth/mqtt_accounts.hpp>

#include <gtest/gtest.h>

#include <peregrine/auth/secrets.hpp>

namespace peregrine::auth {
namespace {

TEST(MqttAccountsTest, VerifiesWhatMosquittoPasswdWrote) {
  ASSERT_TRUE(init());
  const std::string from_mosquitto =
      "$7$101$WsE9bRhgJJptRDJu$g1NqgI6wR1OiAjM7NGrMi3TsKI02Uw4Xt9TsuCQvt3pN/3jXkEZS/UVQGDWHdbW0vD"
      "NksbyjLXds8wb+O9PbpA==";
  EXPECT_TRUE(mosquitto_verify("secret", from_mosquitto));
  EXPECT_FALSE(mosquitto_verify("Secret", from_mosquitto));
  EXPECT_FALSE(mosquitto_verify("secret", "$6$101$x$y"));
  EXPECT_FALSE(mosquitto_verify("secret", "$7$abc$WsE9bRhgJJptRDJu$g1Nq"));
}

TEST(MqttAccountsTest, HashesInMosquittoFormatWithAFreshSalt) {
  ASSERT_TRUE(init());
  const std::string h = mosquitto_hash("pdt_token");
  ASSERT_TRUE(h.starts_with("$7$101$")) << h;
  EXPECT_EQ(h.size(), 7 + 16 + 1 + 88u);  // 12-byte salt, 64-byte hash, base64
  EXPECT_TRUE(mosquitto_verify("pdt_token", h));
  EXPECT_FALSE(mosquitto_verify("pdt_tokem", h));
  EXPECT_NE(mosquitto_hash("pdt_token"), h);
}

}  // namespace
}  // namespace peregrine::auth
