// Password hashing (argon2id), rehash detection, opaque token helpers.
#include <peregrine/auth/secrets.hpp>

#include <gtest/gtest.h>

namespace peregrine::auth {
namespace {

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init()); }
};

TEST_F(SecretsTest, HashVerifies) {
  const auto h = hash_password("correct horse", PasswordCost::minimum());
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->starts_with("$argon2id$"));
  EXPECT_TRUE(verify_password(*h, "correct horse"));
  EXPECT_FALSE(verify_password(*h, "correct hors"));
  EXPECT_FALSE(verify_password(*h, ""));
  EXPECT_FALSE(verify_password("", "x"));
  EXPECT_FALSE(verify_password("$argon2id$garbage", "x"));
  EXPECT_NE(*h, *hash_password("correct horse", PasswordCost::minimum()));  // salted
}

TEST_F(SecretsTest, WeakerParametersNeedRehash) {
  const auto weak = hash_password("pw-12345678", PasswordCost::minimum());
  ASSERT_TRUE(weak);
  EXPECT_FALSE(needs_rehash(*weak, PasswordCost::minimum()));
  EXPECT_TRUE(needs_rehash(*weak, PasswordCost::interactive()));
  const auto strong = hash_password("pw-12345678", PasswordCost::interactive());
  ASSERT_TRUE(strong);
  EXPECT_FALSE(needs_rehash(*strong, PasswordCost::interactive()));
  EXPECT_TRUE(needs_rehash("not-a-hash"));
  EXPECT_TRUE(needs_rehash(""));
}

TEST_F(SecretsTest, TokensAndDigests) {
  const auto a = random_hex(32);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, random_hex(32));
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace peregrine::auth
