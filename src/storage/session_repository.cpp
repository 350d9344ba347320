#include <peregrine/storage/session_repository.hpp>

#include <string_view>

#include <spdlog/spdlog.h>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

constexpr std::size_t kMaxTokenBytes = 256;

auth::User user_from(const pqxx::row& r) {
  return {r["id"].as<std::int64_t>(), r["tenant_id"].as<std::int64_t>(),
          auth::parse_role(r["role"].as<std::string>()).value_or(auth::Role::viewer),
          r["email"].as<std::string>()};
}

const std::string& dummy_hash(auth::PasswordCost cost) {
  static const std::string h = auth::hash_password("peregrine-timing-equaliser", cost).value_or("");
  return h;
}

// Several tenants may hold the email: the first whose password matches wins.
std::optional<auth::User> check_login(pqxx::work& w, std::string_view email,
                                      std::string_view password, auth::PasswordCost cost) {
  const auto norm = auth::normalize_email(email);
  pqxx::result rows;
  if (norm) {
    rows = w.exec_params(
        "SELECT id, tenant_id, role, email, password_hash FROM users "
        "WHERE email = $1 ORDER BY id",
        *norm);
  }
  if (rows.empty()) {
    auth::verify_password(dummy_hash(cost), password);
    return std::nullopt;
  }
  for (const auto& r : rows) {
    const auto hash = r["password_hash"].as<std::string>();
    if (!auth::verify_password(hash, password)) continue;
    auth::User u = user_from(r);
    if (auth::needs_rehash(hash, cost)) {
      if (auto fresh = auth::hash_password(password, cost)) {
        w.exec_params("UPDATE users SET password_hash = $1 WHERE id = $2", *fresh, u.id);
      }
    }
    return u;
  }
  return std::nullopt;
}

std::string insert_refresh(pqxx::work& w, std::int64_t user_id, const std::string& family,
                           core::Micros now_us) {
  std::string token = "prt_" + auth::random_hex(32);
  static const std::string insert =
      "INSERT INTO refresh_tokens (token_hash, family, user_id, expires_at) "
      "VALUES ($1, $2, $3, " + sql::ts_param(4) + ")";
  w.exec_params(insert, auth::sha256_hex(token), family, user_id, now_us + auth::kRefreshTtlUs);
  return token;
}

Refreshed rotate_refresh(pqxx::work& w, std::string_view token, core::Micros now_us) {
  Refreshed out;
  if (token.empty() || token.size() > kMaxTokenBytes) return out;
  // FOR UPDATE: two concurrent refreshes with one token serialise here, and
  // the second sees it rotated (reuse) instead of both succeeding.
  static const std::string select =
      "SELECT t.id AS token_id, t.family, t.rotated_at IS NOT NULL AS rotated, "
      "t.revoked_at IS NOT NULL AS revoked, " + sql::micros("t.expires_at") + " AS expires_us, "
      "u.id, u.tenant_id, u.role, u.email "
      "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
      "WHERE t.token_hash = $1 FOR UPDATE OF t";
  const auto rows = w.exec_params(select, auth::sha256_hex(token));
  if (rows.empty()) return out;
  const auto& r = rows[0];
  const auth::RefreshRecord rec{r["rotated"].as<bool>(), r["revoked"].as<bool>(),
                                r["expires_us"].as<std::int64_t>()};
  out.verdict = auth::judge_refresh(rec, now_us);
  const auto family = r["family"].as<std::string>();
  switch (out.verdict) {
    case auth::RefreshVerdict::rotate:
      w.exec_params("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
                    r["token_id"].as<std::int64_t>());
      out.user = user_from(r);
      out.refresh_token = insert_refresh(w, out.user->id, family, now_us);
      break;
    case auth::RefreshVerdict::reused:
      w.exec_params(
          "UPDATE refresh_tokens SET revoked_at = now() "
          "WHERE family = $1 AND revoked_at IS NULL",
          family);
      spdlog::warn("refresh token reused: family of user {} revoked", r["id"].as<std::int64_t>());
      break;
    default:
      break;
  }
  return out;
}

bool revoke_refresh_family(pqxx::work& w, std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return false;
  const auto r = w.exec_params(
      "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = "
      "(SELECT family FROM refresh_tokens WHERE token_hash = $1)",
      auth::sha256_hex(token));
  return r.affected_rows() > 0;
}

}  // namespace

awaitable<std::optional<Session>> SessionRepository::login(std::string email, std::string password,
                                                           core::Micros now_us, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    std::optional<Session> out;
    audit.actor_email = auth::normalize_email(email).value_or(email.substr(0, 254));
    if (auto user = check_login(w, email, password, cost_)) {
      out = Session{*user, insert_refresh(w, user->id, auth::random_hex(16), now_us)};
      audit.tenant = user->tenant;
      audit.actor_id = user->id;
      audit.action = "login.success";
      audit.target = "user:" + std::to_string(user->id);
    } else {
      audit.action = "login.failure";
    }
    sql::write_audit(w, audit);
    w.commit();
    return out;
  });
}

awaitable<Refreshed> SessionRepository::refresh(std::string token, core::Micros now_us,
                                                AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    Refreshed out = rotate_refresh(w, token, now_us);
    if (out.verdict == auth::RefreshVerdict::reused) {
      audit.action = "refresh.reuse";
      sql::write_audit(w, audit);
    }
    w.commit();  // a family revoked for reuse must stay revoked
    return out;
  });
}

awaitable<bool> SessionRepository::logout(std::string token, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const bool revoked = revoke_refresh_family(w, token);
    if (revoked) {
      audit.action = "logout";
      sql::write_audit(w, audit);
    }
    w.commit();
    return revoked;
  });
}

}  // namespace peregrine::storage
