#include <peregrine/storage/session_repository.hpp>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include <peregrine/storage/query_pool.hpp>
#include <peregrine/storage/user_repository.hpp>

#include "pg_test.hpp"
#include "run_sync.hpp"

namespace peregrine::storage {
namespace {

namespace asio = boost::asio;
using auth::RefreshVerdict;
using testing::run_sync;

constexpr core::Micros kNow = 1'700'000'000'000'000;

AuditEntry created_in(std::int64_t tenant) {
  AuditEntry e;
  e.tenant = tenant;
  e.action = "user.create";
  return e;
}

AuditEntry from_remote() {
  AuditEntry e;
  e.remote = "192.0.2.7:5000";
  return e;
}

class SessionRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    owner_exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
    pool_ = std::make_unique<QueryPool>(target(), 1);
    users_ = std::make_unique<UserRepository>(*pool_, auth::PasswordCost::minimum());
    sessions_ = std::make_unique<SessionRepository>(*pool_, auth::PasswordCost::minimum());
    alice_ = create_user(2, "alice@example.org", "correct horse");
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    sessions_.reset();
    users_.reset();
    pool_.reset();
    PgTest::TearDown();
  }

  auth::User create_user(std::int64_t tenant, const std::string& email,
                         const std::string& password) {
    auto o = run_sync(
        io_, users_->create({tenant, email, auth::Role::operator_, password}, created_in(tenant)));
    EXPECT_TRUE(o.ok());
    return o.ok() ? o.value().user : auth::User{};
  }

  std::optional<Session> login(const std::string& email, const std::string& password,
                               core::Micros now = kNow) {
    return run_sync(io_, sessions_->login(email, password, now, from_remote()));
  }
  std::string token(core::Micros now = kNow) {
    auto s = login("alice@example.org", "correct horse", now);
    EXPECT_TRUE(s);
    return s ? s->refresh_token : "";
  }
  Refreshed refresh(const std::string& t, core::Micros now = kNow) {
    return run_sync(io_, sessions_->refresh(t, now, from_remote()));
  }

  std::int64_t count(const std::string& sql) { return query_value<std::int64_t>(sql); }
  std::int64_t audit_rows(const std::string& action) {
    return count("SELECT count(*) FROM audit_log WHERE action = '" + action + "'");
  }

  asio::io_context io_;
  std::unique_ptr<QueryPool> pool_;
  std::unique_ptr<UserRepository> users_;
  std::unique_ptr<SessionRepository> sessions_;
  auth::User alice_;
};

TEST_F(SessionRepositoryTest, ALoginAndAFailedOneAreBothAudited) {
  const auto s = login("  Alice@Example.ORG ", "correct horse");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->user.id, alice_.id);
  EXPECT_EQ(s->user.tenant, 2);
  EXPECT_EQ(s->user.role, auth::Role::operator_);
  EXPECT_EQ(s->user.email, "alice@example.org");
  EXPECT_EQ(s->refresh_token.rfind("prt_", 0), 0u);
  EXPECT_EQ(
      count("SELECT count(*) FROM refresh_tokens WHERE user_id = " + std::to_string(alice_.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'login.success' "
                  "AND actor_email = 'alice@example.org' AND tenant_id = 2 AND actor_id = " +
                  std::to_string(alice_.id) + " AND target = 'user:" + std::to_string(alice_.id) +
                  "' AND remote = '192.0.2.7:5000'"),
            1);

  EXPECT_FALSE(login("alice@example.org", "wrong horse"));
  EXPECT_FALSE(login("nobody@example.org", "correct horse"));
  EXPECT_FALSE(login("not an address", "correct horse"));
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'login.failure' "
                  "AND tenant_id IS NULL AND actor_id IS NULL AND actor_email IN "
                  "('alice@example.org', 'nobody@example.org', 'not an address')"),
            3);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens"), 1);
}

TEST_F(SessionRepositoryTest, AHashOfAnotherCostIsReplacedAtLogin) {
  UserRepository strong(*pool_);  // the server's default cost
  const auth::User bob = [&] {
    auto o = run_sync(io_, strong.create({1, "bob@example.org", auth::Role::viewer, "bobs-secret"},
                                         created_in(1)));
    EXPECT_TRUE(o.ok());
    return o.ok() ? o.value().user : auth::User{};
  }();
  const std::string query = "SELECT password_hash FROM users WHERE id = " + std::to_string(bob.id);
  const auto before = query_value<std::string>(query);
  ASSERT_TRUE(login("bob@example.org", "bobs-secret"));
  const auto after = query_value<std::string>(query);
  EXPECT_NE(after, before);
  ASSERT_TRUE(login("bob@example.org", "bobs-secret"));
  EXPECT_EQ(query_value<std::string>(query), after);  // now at the login's cost: kept
}

TEST_F(SessionRepositoryTest, ARefreshRotatesTheToken) {
  const std::string first = token();
  const Refreshed r = refresh(first);
  EXPECT_EQ(r.verdict, RefreshVerdict::rotate);
  ASSERT_TRUE(r.user);
  EXPECT_EQ(r.user->id, alice_.id);
  EXPECT_EQ(r.user->tenant, 2);
  EXPECT_EQ(r.user->email, "alice@example.org");
  EXPECT_NE(r.refresh_token, first);
  EXPECT_EQ(refresh(r.refresh_token).verdict, RefreshVerdict::rotate);
  EXPECT_EQ(refresh("prt_unknown").verdict, RefreshVerdict::unknown);
  EXPECT_EQ(refresh("").verdict, RefreshVerdict::unknown);
  EXPECT_EQ(audit_rows("refresh.reuse"), 0);
}

TEST_F(SessionRepositoryTest, AReusedTokenRevokesItsWholeFamilyOnly) {
  const std::string first = token();
  const std::string other_login = token();
  const Refreshed second = refresh(first);
  ASSERT_EQ(second.verdict, RefreshVerdict::rotate);

  const Refreshed reuse = refresh(first);
  EXPECT_EQ(reuse.verdict, RefreshVerdict::reused);
  EXPECT_FALSE(reuse.user);
  EXPECT_TRUE(reuse.refresh_token.empty());
  EXPECT_EQ(audit_rows("refresh.reuse"), 1);
  // The revocation is committed: the family's newest token is refused too.
  EXPECT_EQ(refresh(second.refresh_token).verdict, RefreshVerdict::revoked);
  EXPECT_EQ(refresh(other_login).verdict, RefreshVerdict::rotate);
}

TEST_F(SessionRepositoryTest, AnExpiredTokenIsRefused) {
  const std::string t = token(kNow);
  EXPECT_EQ(refresh(t, kNow + auth::kRefreshTtlUs).verdict, RefreshVerdict::expired);
  EXPECT_EQ(refresh(t, kNow + auth::kRefreshTtlUs - 1).verdict, RefreshVerdict::rotate);
}

TEST_F(SessionRepositoryTest, LogoutRevokesTheFamilyAndAuditsOnlyWhenThereWasOne) {
  const std::string first = token();
  const Refreshed second = refresh(first);
  ASSERT_EQ(second.verdict, RefreshVerdict::rotate);
  EXPECT_TRUE(run_sync(io_, sessions_->logout(second.refresh_token, from_remote())));
  EXPECT_EQ(audit_rows("logout"), 1);
  EXPECT_EQ(refresh(second.refresh_token).verdict, RefreshVerdict::revoked);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL"), 0);

  EXPECT_FALSE(run_sync(io_, sessions_->logout("prt_unknown", from_remote())));
  EXPECT_FALSE(run_sync(io_, sessions_->logout("", from_remote())));
  EXPECT_EQ(audit_rows("logout"), 1);
}

}  // namespace
}  // namespace peregrine::storage
