// The mosquitto_passwd hash format, checked against a hash written by
// Mosquitto 2.0.11's own mosquitto_passwd.
#include <peregrine/auth/mqtt_accounts.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

namespace peregrine::auth {
namespace {

// The password file: Peregrine's account first, the static lines next, then
// one line per device; a device named like Peregrine's account is left out.
TEST(MqttAccountsTest, SyncWritesOwnStaticAndDeviceAccounts) {
  const std::string dir = ::testing::TempDir() + "mqtt-accounts-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/passwd";
  std::ofstream(file + ".static") << "gateway:$7$static\n";
  MqttAccounts accounts({.passwd_file = file, .pid_file = "", .own_user = "peregrine",
                         .own_password = "secret-1"});
  ASSERT_TRUE(accounts.sync({{"d1", "$7$one"}, {"peregrine", "$7$impostor"}, {"d2", "$7$two"}}));
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("peregrine:$7$", 0), 0u);
  EXPECT_TRUE(mosquitto_verify("secret-1", lines[0].substr(lines[0].find(':') + 1)));
  EXPECT_EQ(lines[1], "gateway:$7$static");
  EXPECT_EQ(lines[2], "d1:$7$one");
  EXPECT_EQ(lines[3], "d2:$7$two");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace peregrine::auth
