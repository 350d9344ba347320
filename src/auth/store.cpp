#include <peregrine/auth/store.hpp>

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include <peregrine/core/types.hpp>

namespace peregrine::auth {

namespace {

// `'epoch' + n µs` keeps timestamps in the server's clock, so tests can drive
// expiry with a ManualClock-like offset without touching the database clock.
constexpr const char* kMicrosToTs = "'epoch'::timestamptz + $%d * interval '1 microsecond'";

std::string ts_param(int n) {
  char buf[96];
  std::snprintf(buf, sizeof buf, kMicrosToTs, n);
  return buf;
}

User user_from(const pqxx::row& r) {
  return User{r["id"].as<std::int64_t>(), r["tenant_id"].as<std::int64_t>(),
              parse_role(r["role"].as<std::string>()).value_or(Role::viewer),
              r["email"].as<std::string>()};
}

const std::string& dummy_hash(PasswordCost cost) {
  static const std::string h = hash_password("peregrine-timing-equaliser", cost).value_or("");
  return h;
}

std::string insert_refresh(pqxx::work& w, std::int64_t user_id, const std::string& family,
                           core::Micros now_us) {
  std::string token = "prt_" + random_hex(32);
  w.exec_params("INSERT INTO refresh_tokens (token_hash, family, user_id, expires_at) VALUES "
                "($1, $2, $3, " + ts_param(4) + ")",
                sha256_hex(token), family, user_id, now_us + kRefreshTtlUs);
  return token;
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view email) {
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.front()))) email.remove_prefix(1);
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.back()))) email.remove_suffix(1);
  const auto at = email.find('@');
  if (email.size() < 3 || email.size() > 254 || at == 0 || at == std::string_view::npos ||
      at + 1 == email.size() || email.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out(email);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f) return std::nullopt;
    c = static_cast<char>(std::tolower(u));
  }
  return out;
}

std::optional<User> check_login(pqxx::work& w, std::string_view email, std::string_view password,
                                PasswordCost cost) {
  const auto norm = normalize_email(email);
  pqxx::result rows;
  if (norm) {
    rows = w.exec_params("SELECT id, tenant_id, role, email, password_hash FROM users "
                         "WHERE email = $1 ORDER BY id", *norm);
  }
  if (rows.empty()) {
    verify_password(dummy_hash(cost), password);
    return std::nullopt;
  }
  for (const auto& r : rows) {
    const auto hash = r["password_hash"].as<std::string>();
    if (!verify_password(hash, password)) continue;
    User u = user_from(r);
    if (needs_rehash(hash, cost)) {
      if (auto fresh = hash_password(password, cost)) {
        w.exec_params("UPDATE users SET password_hash = $1 WHERE id = $2", *fresh, u.id);
      }
    }
    return u;
  }
  return std::nullopt;
}

std::string start_refresh_family(pqxx::work& w, std::int64_t user_id, core::Micros now_us) {
  return insert_refresh(w, user_id, random_hex(16), now_us);
}

RefreshResult rotate_refresh(pqxx::work& w, std::string_view token, core::Micros now_us) {
  RefreshResult out;
  if (token.empty() || token.size() > 256) return out;
  // FOR UPDATE: two concurrent refreshes with one token serialise here, and
  // the second sees it rotated (reuse) instead of both succeeding.
  const auto rows = w.exec_params(
      "SELECT t.id, t.family, t.rotated_at IS NOT NULL AS rotated, "
      "t.revoked_at IS NOT NULL AS revoked, "
      "(extract(epoch from t.expires_at) * 1000000)::bigint AS expires_us, "
      "u.id AS uid, u.tenant_id, u.role, u.email "
      "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
      "WHERE t.token_hash = $1 FOR UPDATE OF t",
      sha256_hex(token));
  if (rows.empty()) return out;
  const auto& r = rows[0];
  const RefreshRecord rec{r["rotated"].as<bool>(), r["revoked"].as<bool>(),
                          r["expires_us"].as<std::int64_t>()};
  out.verdict = judge_refresh(rec, now_us);
  const auto family = r["family"].as<std::string>();
  switch (out.verdict) {
    case RefreshVerdict::rotate:
      w.exec_params("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
                    r["id"].as<std::int64_t>());
      out.user = User{r["uid"].as<std::int64_t>(), r["tenant_id"].as<std::int64_t>(),
                      parse_role(r["role"].as<std::string>()).value_or(Role::viewer),
                      r["email"].as<std::string>()};
      out.token = insert_refresh(w, out.user->id, family, now_us);
      break;
    case RefreshVerdict::reused:
      w.exec_params("UPDATE refresh_tokens SET revoked_at = now() "
                    "WHERE family = $1 AND revoked_at IS NULL", family);
      spdlog::warn("refresh token reused: family of user {} revoked", r["uid"].as<std::int64_t>());
      break;
    default:
      break;
  }
  return out;
}

bool revoke_refresh_family(pqxx::work& w, std::string_view token) {
  if (token.empty() || token.size() > 256) return false;
  const auto r = w.exec_params(
      "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = "
      "(SELECT family FROM refresh_tokens WHERE token_hash = $1)",
      sha256_hex(token));
  return r.affected_rows() > 0;
}

void revoke_user_tokens(pqxx::work& w, std::int64_t user_id) {
  w.exec_params("UPDATE refresh_tokens SET revoked_at = now() "
                "WHERE user_id = $1 AND revoked_at IS NULL", user_id);
}

void write_audit(pqxx::work& w, const AuditEntry& e) {
  w.exec_params("INSERT INTO audit_log (tenant_id, actor_id, actor_email, action, target, "
                "detail, remote) VALUES (NULLIF($1, 0), NULLIF($2, 0), $3, $4, $5, $6::jsonb, $7)",
                e.tenant.value_or(0), e.actor_id.value_or(0), e.actor_email, e.action, e.target,
                e.detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), e.remote);
}

bool bootstrap_admin(pqxx::connection& c, const std::string& email, const std::string& password) {
  const auto norm = normalize_email(email);
  if (!norm) throw std::invalid_argument("PEREGRINE_ADMIN_EMAIL is not an email address");
  if (password.size() < 8) throw std::invalid_argument("PEREGRINE_ADMIN_PASSWORD: at least 8 characters");
  pqxx::work w(c);
  // Two servers starting at once must not both create one.
  w.exec("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");
  if (w.exec("SELECT 1 FROM users LIMIT 1").size() > 0) return false;
  const auto hash = hash_password(password);
  if (!hash) throw std::runtime_error("cannot hash the admin password (out of memory)");
  const auto r = w.exec_params("INSERT INTO users (tenant_id, email, role, password_hash) "
                               "VALUES ($1, $2, 'superadmin', $3) RETURNING id",
                               core::kDefaultTenant, *norm, *hash);
  write_audit(w, {.tenant = core::kDefaultTenant, .actor_id = std::nullopt, .actor_email = "",
                  .action = "user.bootstrap", .target = "user:" + r[0][0].as<std::string>(),
                  .detail = {{"email", *norm}, {"role", "superadmin"}}, .remote = ""});
  w.commit();
  return true;
}

}  // namespace peregrine::auth
