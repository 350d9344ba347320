#include <peregrine/storage/user_repository.hpp>

#include <stdexcept>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

constexpr const char* kNoSuchUser = "no such user";

const std::string& columns() {
  static const std::string c = "id, tenant_id, role, email, " + sql::micros("created_at");
  return c;
}

UserRecord user_from(const pqxx::row& r) {
  return {{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(),
           auth::parse_role(r[2].as<std::string>()).value_or(auth::Role::viewer),
           r[3].as<std::string>()},
          r[4].as<std::int64_t>()};
}

Scope scope_of(std::optional<std::int64_t> tenant) {
  return tenant ? Scope::tenant(*tenant) : Scope::all();
}

std::string hash_of(const std::string& password, auth::PasswordCost cost) {
  auto hash = auth::hash_password(password, cost);
  if (!hash) throw std::runtime_error("password hashing failed");
  return std::move(*hash);
}

const std::vector<sql::Violation>& violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "users_tenant_id_email_key",
       Failure::conflict("email", "a user with this email exists in this tenant")},
      {sql::Violation::Class::foreign_key, "users_tenant_id_fkey",
       Failure::invalid("tenant_id", "no such tenant")},
  };
  return v;
}

// New role or password: the sessions issued under the old ones end.
void revoke_user_tokens(pqxx::work& w, std::int64_t user_id) {
  w.exec_params(
      "UPDATE refresh_tokens SET revoked_at = now() "
      "WHERE user_id = $1 AND revoked_at IS NULL",
      user_id);
}

// The target, locked, if `reach` covers it: not found outside its tenant; a
// role that cannot be read counts as the highest. `above` is set when its
// role is above the caller's, and the failure then stops the transaction.
Outcome<auth::User> reachable(pqxx::work& w, std::int64_t id, const Reach& reach, bool& above) {
  const auto r = w.exec_params(
      "SELECT id, tenant_id, role, email FROM users "
      "WHERE id = $1 AND ($2::bigint = 0 OR tenant_id = $2) FOR UPDATE",
      id, reach.tenant.value_or(0));
  if (r.empty()) return Failure::not_found(kNoSuchUser);
  auth::User u{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>(),
               auth::parse_role(r[0][2].as<std::string>()).value_or(auth::Role::superadmin),
               r[0][3].as<std::string>()};
  if (static_cast<int>(u.role) > static_cast<int>(reach.role)) {
    above = true;
    return Failure::conflict("role", "cannot change a user above your role");
  }
  return u;
}

}  // namespace

awaitable<Page<UserRecord>> UserRepository::list(std::optional<std::int64_t> tenant,
                                                 PageRequest<std::int64_t> page) {
  std::vector<UserRecord> rows = co_await pool_.run(scope_of(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<UserRecord> out;
    const std::string query = "SELECT " + columns() +
                              " FROM users WHERE id > $1 AND ($2::bigint = 0 OR tenant_id = $2) "
                              "ORDER BY id LIMIT $3";
    for (const auto& r : w.exec_params(query, page.after, tenant.value_or(0), page.limit + 1))
      out.push_back(user_from(r));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const UserRecord& u) { return std::to_string(u.user.id); });
}

awaitable<Outcome<UserRecord>> UserRepository::get(std::int64_t id,
                                                   std::optional<std::int64_t> tenant) {
  co_return co_await pool_.run(scope_of(tenant), [&](pqxx::connection& c) -> Outcome<UserRecord> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT " + columns() + " FROM users WHERE id = $1 AND ($2::bigint = 0 OR tenant_id = $2)",
        id, tenant.value_or(0));
    if (r.empty()) return Failure::not_found(kNoSuchUser);
    return user_from(r[0]);
  });
}

awaitable<Outcome<UserRecord>> UserRepository::create(NewUser user, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(user.tenant), [&](pqxx::connection& c) {
    const std::string hash = hash_of(user.password, cost_);
    return sql::audited<UserRecord>(
        c, audit, violations(), [&](pqxx::work& w) -> Outcome<UserRecord> {
          const auto r = w.exec_params(
              "INSERT INTO users (tenant_id, email, role, password_hash) "
              "VALUES ($1, $2, $3, $4) RETURNING " + columns(),
              user.tenant, user.email, std::string(auth::to_string(user.role)), hash);
          audit.target = "user:" + r[0][0].as<std::string>();
          return user_from(r[0]);
        });
  });
}

awaitable<UserWrite<UserRecord>> UserRepository::update(std::int64_t id, Reach reach,
                                                        UserChange change, AuditEntry audit) {
  co_return co_await pool_.run(scope_of(reach.tenant), [&](pqxx::connection& c) {
    UserWrite<UserRecord> out;
    out.outcome =
        sql::audited<UserRecord>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<UserRecord> {
          const Outcome<auth::User> target = reachable(w, id, reach, out.above_caller);
          if (!target.ok()) return target.failure();
          if (change.role) {
            w.exec_params("UPDATE users SET role = $1, updated_at = now() WHERE id = $2",
                          std::string(auth::to_string(*change.role)), id);
          }
          if (change.email) {
            w.exec_params("UPDATE users SET email = $1, updated_at = now() WHERE id = $2",
                          *change.email, id);
          }
          if (change.password) {
            w.exec_params("UPDATE users SET password_hash = $1, updated_at = now() WHERE id = $2",
                          hash_of(*change.password, cost_), id);
          }
          if (change.role || change.password) revoke_user_tokens(w, id);
          audit.tenant = target.value().tenant;
          return user_from(
              w.exec_params("SELECT " + columns() + " FROM users WHERE id = $1", id)[0]);
        });
    return out;
  });
}

awaitable<UserWrite<Done>> UserRepository::remove(std::int64_t id, Reach reach, AuditEntry audit) {
  co_return co_await pool_.run(scope_of(reach.tenant), [&](pqxx::connection& c) {
    UserWrite<Done> out;
    out.outcome = sql::audited<Done>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Done> {
      const Outcome<auth::User> target = reachable(w, id, reach, out.above_caller);
      if (!target.ok()) return target.failure();
      w.exec_params("DELETE FROM users WHERE id = $1", id);
      audit.tenant = target.value().tenant;
      audit.detail = {{"email", target.value().email}};
      return Done{};
    });
    return out;
  });
}

bool bootstrap_admin(const PgTarget& target, const std::string& email,
                     const std::string& password) {
  const auto norm = auth::normalize_email(email);
  if (!norm) throw std::invalid_argument("PEREGRINE_ADMIN_EMAIL is not an email address");
  if (password.size() < 8)
    throw std::invalid_argument("PEREGRINE_ADMIN_PASSWORD: at least 8 characters");
  const auto conn = connect(target, Scope::all());
  pqxx::work w(*conn);
  // Two servers starting at once must not both create one.
  w.exec("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");
  if (w.exec("SELECT 1 FROM users LIMIT 1").size() > 0) return false;
  const auto hash = auth::hash_password(password);
  if (!hash) throw std::runtime_error("cannot hash the admin password (out of memory)");
  const auto r = w.exec_params(
      "INSERT INTO users (tenant_id, email, role, password_hash) "
      "VALUES ($1, $2, 'superadmin', $3) RETURNING id",
      core::kDefaultTenant, *norm, *hash);
  sql::write_audit(w, {.tenant = core::kDefaultTenant,
                       .actor_id = std::nullopt,
                       .actor_email = "",
                       .action = "user.bootstrap",
                       .target = "user:" + r[0][0].as<std::string>(),
                       .detail = {{"email", *norm}, {"role", "superadmin"}},
                       .remote = ""});
  w.commit();
  return true;
}

}  // namespace peregrine::storage
