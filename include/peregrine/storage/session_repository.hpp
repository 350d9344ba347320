#pragma once
/// Logins and their refresh-token families (`refresh_tokens`): checking a
/// password, starting a family, rotating a token (a reused one revokes its
/// family) and logging out, each with its audit entry in one transaction.
/// Methods are awaited on the event loop and run on the query pool (password
/// checks cost ~50 ms of CPU: never on the loop). Tokens exist in clear only
/// in what these return; the table holds their SHA-256.

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <peregrine/auth/refresh.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/user.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>

namespace peregrine::storage {

class QueryPool;

/// A successful login: who, and the first refresh token of its family.
struct Session {
  auth::User user;
  std::string refresh_token;
};

/// What presenting a refresh token did (auth::judge_refresh).
struct Refreshed {
  auth::RefreshVerdict verdict = auth::RefreshVerdict::unknown;
  std::optional<auth::User> user;  ///< set when verdict == rotate
  std::string refresh_token;       ///< the family's next token, when rotated
};

class SessionRepository {
 public:
  /// `cost`: the password-hash strength logins keep (a weaker stored hash is
  /// replaced); tests pass auth::PasswordCost::minimum().
  explicit SessionRepository(QueryPool& pool,
                             auth::PasswordCost cost = auth::PasswordCost::interactive())
      : pool_(pool), cost_(cost) {}

  /// The user whose email and password match, with a new refresh family;
  /// nullopt otherwise. Unknown emails cost one hash verification too, so
  /// timing does not reveal which exist. Audits `login.success` or
  /// `login.failure` either way (`audit` says who asked and from where; its
  /// actor becomes the email tried).
  boost::asio::awaitable<std::optional<Session>> login(std::string email, std::string password,
                                                       core::Micros now_us, AuditEntry audit);
  /// Rotates `token`, or revokes its whole family when it was already
  /// rotated (audited as `refresh.reuse`). Commits in every case: a family
  /// revoked for reuse stays revoked.
  boost::asio::awaitable<Refreshed> refresh(std::string token, core::Micros now_us,
                                            AuditEntry audit);
  /// Revokes the family `token` belongs to, audited as `logout`. False (and
  /// nothing audited) when the token is unknown.
  boost::asio::awaitable<bool> logout(std::string token, AuditEntry audit);

 private:
  QueryPool& pool_;
  auth::PasswordCost cost_;
};

}  // namespace peregrine::storage
