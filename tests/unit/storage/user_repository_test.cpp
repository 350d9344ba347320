#include <peregrine/storage/user_repository.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>

#include <peregrine/storage/query_pool.hpp>
#include <peregrine/storage/session_repository.hpp>

#include "pg_test.hpp"
#include "run_sync.hpp"

namespace peregrine::storage {
namespace {

namespace asio = boost::asio;
using auth::Role;
using testing::run_sync;

constexpr core::Micros kNow = 1'700'000'000'000'000;

AuditEntry audit(std::optional<std::int64_t> tenant, std::string action, std::string target = "") {
  AuditEntry e;
  e.tenant = tenant;
  e.actor_email = "admin@example.org";
  e.action = std::move(action);
  e.target = std::move(target);
  return e;
}

class UserRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
    pool_ = std::make_unique<QueryPool>(target(), 1);
    users_ = std::make_unique<UserRepository>(*pool_, auth::PasswordCost::minimum());
    sessions_ = std::make_unique<SessionRepository>(*pool_, auth::PasswordCost::minimum());
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    sessions_.reset();
    users_.reset();
    pool_.reset();
    PgTest::TearDown();
  }

  Outcome<UserRecord> try_create(const std::string& email, std::int64_t tenant = 1,
                                 Role role = Role::viewer) {
    return run_sync(io_, users_->create({tenant, email, role, "password-" + email},
                                        audit(tenant, "user.create")));
  }
  UserRecord create(const std::string& email, std::int64_t tenant = 1, Role role = Role::viewer) {
    auto o = try_create(email, tenant, role);
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.failure().detail);
    return o.ok() ? o.value() : UserRecord{};
  }
  /// The refresh token of a fresh login, or "" when refused.
  std::string login(const std::string& email, const std::string& password) {
    auto s = run_sync(io_, sessions_->login(email, password, kNow, AuditEntry{}));
    return s ? s->refresh_token : "";
  }
  std::string login(const std::string& email) { return login(email, "password-" + email); }
  auth::RefreshVerdict refresh(const std::string& token) {
    return run_sync(io_, sessions_->refresh(token, kNow, AuditEntry{})).verdict;
  }

  std::int64_t count(const std::string& sql) { return query_value<std::int64_t>(sql); }
  std::int64_t audit_rows(const std::string& action) {
    return count("SELECT count(*) FROM audit_log WHERE action = '" + action + "'");
  }
  void exec(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }

  const Reach admin_of_1{1, Role::admin};
  asio::io_context io_;
  std::unique_ptr<QueryPool> pool_;
  std::unique_ptr<UserRepository> users_;
  std::unique_ptr<SessionRepository> sessions_;
};

TEST_F(UserRepositoryTest, CreateThenGetAndListByPages) {
  const UserRecord a = create("a@example.org");
  const UserRecord b = create("b@example.org", 1, Role::operator_);
  const UserRecord c = create("c@example.org");
  const UserRecord north = create("n@example.org", 2);
  EXPECT_GT(a.user.id, 0);
  EXPECT_EQ(b.user.tenant, 1);
  EXPECT_EQ(b.user.email, "b@example.org");
  EXPECT_EQ(b.user.role, Role::operator_);
  EXPECT_GT(b.created_us, kNow);
  EXPECT_EQ(
      count("SELECT count(*) FROM audit_log WHERE action = 'user.create' AND target = 'user:" +
            std::to_string(b.user.id) + "' AND tenant_id = 1"),
      1);

  auto got = run_sync(io_, users_->get(b.user.id, 1));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value().user.email, "b@example.org");
  EXPECT_EQ(got.value().user.role, Role::operator_);
  EXPECT_EQ(got.value().created_us, b.created_us);

  const Page<UserRecord> first = run_sync(io_, users_->list(1, {2, 0}));
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_EQ(first.items[0].user.id, a.user.id);
  EXPECT_EQ(first.items[1].user.id, b.user.id);
  ASSERT_TRUE(first.next);
  EXPECT_EQ(*first.next, std::to_string(b.user.id));
  const Page<UserRecord> last = run_sync(io_, users_->list(1, {2, std::stoll(*first.next)}));
  ASSERT_EQ(last.items.size(), 1u);
  EXPECT_EQ(last.items[0].user.id, c.user.id);
  EXPECT_FALSE(last.next);

  const Page<UserRecord> everyone = run_sync(io_, users_->list(std::nullopt, {10, 0}));
  ASSERT_EQ(everyone.items.size(), 4u);
  EXPECT_EQ(everyone.items[3].user.id, north.user.id);
  EXPECT_FALSE(everyone.next);
}

TEST_F(UserRepositoryTest, ADuplicateEmailIsAConflictOnEmailAndWritesNothing) {
  create("dup@example.org");
  auto again = try_create("dup@example.org");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.failure().kind, Failure::Kind::conflict);
  EXPECT_EQ(again.failure().field, "email");
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE email = 'dup@example.org'"), 1);
  EXPECT_EQ(audit_rows("user.create"), 1);
  // The key is (tenant, email): another tenant may have the address.
  EXPECT_TRUE(try_create("dup@example.org", 2).ok());
}

TEST_F(UserRepositoryTest, AnUnknownTenantIsInvalid) {
  auto o = try_create("lost@example.org", 99);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().kind, Failure::Kind::invalid);
  EXPECT_EQ(o.failure().field, "tenant_id");
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE email = 'lost@example.org'"), 0);
  EXPECT_EQ(audit_rows("user.create"), 0);
}

TEST_F(UserRepositoryTest, WhenTheAuditRowCannotBeWrittenTheUserIsNotCreated) {
  // An audit entry naming a tenant the session may not write: the insert rolls back.
  EXPECT_ANY_THROW(run_sync(io_, users_->create({1, "ghost@example.org", Role::viewer, "password"},
                                                audit(999, "user.create"))));
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE email = 'ghost@example.org'"), 0);
  EXPECT_EQ(audit_rows("user.create"), 0);
}

TEST_F(UserRepositoryTest, AnotherTenantsUserIsNotFound) {
  const UserRecord theirs = create("theirs@example.org", 2, Role::viewer);
  const std::int64_t id = theirs.user.id;
  auto got = run_sync(io_, users_->get(id, 1));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.failure().kind, Failure::Kind::not_found);
  EXPECT_EQ(got.failure().detail, "no such user");

  auto patched =
      run_sync(io_, users_->update(id, admin_of_1, {Role::admin, std::nullopt, std::nullopt},
                                   audit(std::nullopt, "user.update")));
  EXPECT_FALSE(patched.above_caller);
  ASSERT_FALSE(patched.outcome.ok());
  EXPECT_EQ(patched.outcome.failure().kind, Failure::Kind::not_found);
  auto removed = run_sync(io_, users_->remove(id, admin_of_1, audit(std::nullopt, "user.delete")));
  ASSERT_FALSE(removed.outcome.ok());
  EXPECT_EQ(removed.outcome.failure().kind, Failure::Kind::not_found);

  EXPECT_TRUE(run_sync(io_, users_->list(1, {10, 0})).items.empty());
  EXPECT_EQ(query_value<std::string>("SELECT role FROM users WHERE id = " + std::to_string(id)),
            "viewer");
  EXPECT_EQ(audit_rows("user.update") + audit_rows("user.delete"), 0);
}

TEST_F(UserRepositoryTest, AUserAboveTheCallersRoleIsRefused) {
  const UserRecord boss = create("boss@example.org", 1, Role::superadmin);
  auto patched = run_sync(
      io_, users_->update(boss.user.id, admin_of_1, {Role::viewer, std::nullopt, std::nullopt},
                          audit(std::nullopt, "user.update")));
  EXPECT_TRUE(patched.above_caller);
  EXPECT_FALSE(patched.outcome.ok());
  auto removed =
      run_sync(io_, users_->remove(boss.user.id, admin_of_1, audit(std::nullopt, "user.delete")));
  EXPECT_TRUE(removed.above_caller);
  EXPECT_EQ(
      query_value<std::string>("SELECT role FROM users WHERE id = " + std::to_string(boss.user.id)),
      "superadmin");
  EXPECT_EQ(audit_rows("user.update") + audit_rows("user.delete"), 0);
}

TEST_F(UserRepositoryTest, ANewRoleOrPasswordRevokesTheUsersRefreshTokens) {
  const UserRecord u = create("u@example.org");
  const std::string uid = std::to_string(u.user.id);
  const std::string before_role = login("u@example.org");
  auto patched = run_sync(
      io_, users_->update(u.user.id, admin_of_1, {Role::operator_, std::nullopt, std::nullopt},
                          audit(std::nullopt, "user.update", "user:" + uid)));
  ASSERT_FALSE(patched.above_caller);
  ASSERT_TRUE(patched.outcome.ok());
  EXPECT_EQ(patched.outcome.value().user.role, Role::operator_);
  EXPECT_EQ(patched.outcome.value().created_us, u.created_us);
  EXPECT_EQ(refresh(before_role), auth::RefreshVerdict::revoked);
  // The audit row lands with the change, in the target's tenant.
  EXPECT_EQ(
      count("SELECT count(*) FROM audit_log WHERE action = 'user.update' AND target = 'user:" +
            uid + "' AND tenant_id = 1"),
      1);

  // An email change alone keeps the sessions.
  const std::string before_email = login("u@example.org");
  auto renamed = run_sync(
      io_, users_->update(u.user.id, admin_of_1, {std::nullopt, "u2@example.org", std::nullopt},
                          audit(std::nullopt, "user.update")));
  ASSERT_TRUE(renamed.outcome.ok());
  EXPECT_EQ(renamed.outcome.value().user.email, "u2@example.org");
  EXPECT_EQ(refresh(before_email), auth::RefreshVerdict::rotate);

  const std::string before_password = login("u2@example.org", "password-u@example.org");
  ASSERT_FALSE(before_password.empty());
  auto repassed = run_sync(
      io_, users_->update(u.user.id, admin_of_1, {std::nullopt, std::nullopt, "a-new-password"},
                          audit(std::nullopt, "user.update")));
  ASSERT_TRUE(repassed.outcome.ok());
  EXPECT_EQ(refresh(before_password), auth::RefreshVerdict::revoked);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = " + uid +
                  " AND revoked_at IS NULL"),
            0);
  EXPECT_TRUE(login("u2@example.org", "password-u@example.org").empty());
  EXPECT_FALSE(login("u2@example.org", "a-new-password").empty());
}

TEST_F(UserRepositoryTest, ATakenEmailIsAConflictAndChangesNothing) {
  create("a@example.org");
  const UserRecord b = create("b@example.org");
  auto o = run_sync(
      io_, users_->update(b.user.id, admin_of_1, {std::nullopt, "a@example.org", std::nullopt},
                          audit(std::nullopt, "user.update")));
  ASSERT_FALSE(o.outcome.ok());
  EXPECT_EQ(o.outcome.failure().kind, Failure::Kind::conflict);
  EXPECT_EQ(o.outcome.failure().field, "email");
  EXPECT_EQ(
      query_value<std::string>("SELECT email FROM users WHERE id = " + std::to_string(b.user.id)),
      "b@example.org");
  EXPECT_EQ(audit_rows("user.update"), 0);
}

TEST_F(UserRepositoryTest, RemoveDeletesTheUserAndAuditsItsEmail) {
  const UserRecord u = create("gone@example.org", 2);
  const std::string uid = std::to_string(u.user.id);
  ASSERT_FALSE(login("gone@example.org").empty());
  auto removed = run_sync(io_, users_->remove(u.user.id, {std::nullopt, Role::superadmin},
                                              audit(std::nullopt, "user.delete", "user:" + uid)));
  EXPECT_FALSE(removed.above_caller);
  ASSERT_TRUE(removed.outcome.ok());
  EXPECT_FALSE(run_sync(io_, users_->get(u.user.id, std::nullopt)).ok());
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = " + uid), 0);
  EXPECT_EQ(query_value<std::string>("SELECT detail->>'email' FROM audit_log WHERE action = "
                                     "'user.delete' AND target = 'user:" +
                                     uid + "' AND tenant_id = 2"),
            "gone@example.org");
}

TEST_F(UserRepositoryTest, BootstrapCreatesTheFirstSuperadminOnce) {
  EXPECT_THROW(bootstrap_admin(target(), "not-an-address", "long-enough"), std::invalid_argument);
  EXPECT_THROW(bootstrap_admin(target(), "root@example.org", "short"), std::invalid_argument);
  EXPECT_TRUE(bootstrap_admin(target(), " Root@Example.org ", "long-enough"));
  EXPECT_FALSE(bootstrap_admin(target(), "other@example.org", "long-enough"));
  EXPECT_EQ(count("SELECT count(*) FROM users"), 1);
  EXPECT_EQ(query_value<std::string>("SELECT role FROM users WHERE email = 'root@example.org' "
                                     "AND tenant_id = 1"),
            "superadmin");
  EXPECT_EQ(query_value<std::string>("SELECT detail->>'email' FROM audit_log "
                                     "WHERE action = 'user.bootstrap' AND tenant_id = 1"),
            "root@example.org");
  EXPECT_TRUE(
      run_sync(io_, sessions_->login("root@example.org", "long-enough", kNow, AuditEntry{})));
}

}  // namespace
}  // namespace peregrine::storage
