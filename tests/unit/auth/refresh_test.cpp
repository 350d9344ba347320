// The refresh-token decision: rotate once, reuse burns the family.
#include <peregrine/auth/refresh.hpp>

#include <gtest/gtest.h>

namespace peregrine::auth {
namespace {

constexpr core::Micros kNow = 1'700'000'000'000'000;

TEST(RefreshTest, FreshTokenRotates) {
  EXPECT_EQ(judge_refresh({false, false, kNow + 1}, kNow), RefreshVerdict::rotate);
}

TEST(RefreshTest, RotatedTokenPresentedAgainIsReuse) {
  EXPECT_EQ(judge_refresh({true, false, kNow + kRefreshTtlUs}, kNow), RefreshVerdict::reused);
  // Even after it expired: an old stolen token still burns the family.
  EXPECT_EQ(judge_refresh({true, false, kNow - 1}, kNow), RefreshVerdict::reused);
}

TEST(RefreshTest, RevokedWinsOverEverything) {
  EXPECT_EQ(judge_refresh({true, true, kNow + 1}, kNow), RefreshVerdict::revoked);
  EXPECT_EQ(judge_refresh({false, true, kNow + 1}, kNow), RefreshVerdict::revoked);
  EXPECT_EQ(judge_refresh({false, true, kNow - 1}, kNow), RefreshVerdict::revoked);
}

TEST(RefreshTest, ExpiredTokenIsRefused) {
  EXPECT_EQ(judge_refresh({false, false, kNow}, kNow), RefreshVerdict::expired);
  EXPECT_EQ(judge_refresh({false, false, kNow - 1}, kNow), RefreshVerdict::expired);
}

}  // namespace
}  // namespace peregrine::auth
