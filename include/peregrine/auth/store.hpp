#pragma once
/// Users, refresh-token families and the audit log in PostgreSQL. Every
/// function runs inside the caller's transaction on a pool thread (never on
/// the event loop); nothing commits except bootstrap_admin().

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <peregrine/auth/refresh.hpp>
#include <peregrine/auth/roles.hpp>
#include <peregrine/auth/secrets.hpp>

namespace peregrine::auth {

struct User {
  std::int64_t id = 0;
  std::int64_t tenant = 0;
  Role role = Role::viewer;
  std::string email;
};

/// The user whose email and password match, or nullopt. When the stored hash
/// was made with weaker parameters than `cost` it is replaced. Unknown emails
/// cost one hash verification too, so timing does not reveal which exist.
std::optional<User> check_login(pqxx::work& w, std::string_view email, std::string_view password,
                                PasswordCost cost = PasswordCost::interactive());

/// A new refresh token in a new family for `user_id`; returns the token (the
/// only time it exists in clear).
std::string start_refresh_family(pqxx::work& w, std::int64_t user_id, core::Micros now_us);

struct RefreshResult {
  RefreshVerdict verdict = RefreshVerdict::unknown;
  std::optional<User> user;  ///< set when verdict == rotate
  std::string token;         ///< the next token of the family, when rotated
};
/// Applies judge_refresh() to `token`: rotates it, or revokes its family on
/// reuse. The caller commits in every case (the revocation must stick).
RefreshResult rotate_refresh(pqxx::work& w, std::string_view token, core::Micros now_us);

/// Revokes the family `token` belongs to (logout). False when unknown.
bool revoke_refresh_family(pqxx::work& w, std::string_view token);

/// Revokes every refresh token of a user (password change, deletion).
void revoke_user_tokens(pqxx::work& w, std::int64_t user_id);

/// Lowercased, trimmed email; nullopt when it cannot be an address.
std::optional<std::string> normalize_email(std::string_view email);

struct AuditEntry {
  std::optional<std::int64_t> tenant;
  std::optional<std::int64_t> actor_id;
  std::string actor_email;
  std::string action;  ///< e.g. "login.success", "user.create"
  std::string target;  ///< e.g. "user:12", "device:d1"
  nlohmann::json detail = nlohmann::json::object();
  std::string remote;
};
void write_audit(pqxx::work& w, const AuditEntry& e);

/// Creates the first user (a superadmin of the default tenant) when the
/// users table is empty. Returns true when it created one. `c` must see every
/// tenant (storage::Scope::all()); call at start, before serving. Throws on
/// database errors.
bool bootstrap_admin(pqxx::connection& c, const std::string& email, const std::string& password);

}  // namespace peregrine::auth
