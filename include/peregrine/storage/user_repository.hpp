#pragma once
/// Users (`users`): listing, creation, changes and removal within the
/// caller's reach, and the first superadmin at start-up. Methods are awaited
/// on the event loop and run on the query pool, password hashing included
/// (argon2id costs ~50 ms of CPU: never on the loop); each write lands with
/// its audit entry in one transaction. Emails arrive normalised
/// (auth::normalize_email).

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <peregrine/auth/roles.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/user.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool;

struct UserRecord {
  auth::User user;
  core::Micros created_us = 0;
};

struct NewUser {
  std::int64_t tenant = 0;
  std::string email;
  auth::Role role = auth::Role::viewer;
  std::string password;  ///< in clear; only its hash is stored
};

/// A PATCH: each set member changes, the others stay.
struct UserChange {
  std::optional<auth::Role> role;
  std::optional<std::string> email;
  std::optional<std::string> password;
};

/// Whom a caller may change: the users of `tenant` (nullopt: every tenant,
/// a superadmin) whose role is at most `role`.
struct Reach {
  std::optional<std::int64_t> tenant;
  auth::Role role = auth::Role::viewer;
};

/// What a change to a user within a Reach did. `above_caller`: the target's
/// role is above the caller's, nothing changed (the handler answers 403) and
/// `outcome` holds a failure saying so. Otherwise `outcome`: the result, or
/// not found outside the reach's tenant, or conflict on `email`.
template <class T>
struct UserWrite {
  bool above_caller = false;
  Outcome<T> outcome;
};

class UserRepository {
 public:
  /// `cost`: of the password hashes create() and update() store (tests pass
  /// auth::PasswordCost::minimum()).
  explicit UserRepository(QueryPool& pool,
                          auth::PasswordCost cost = auth::PasswordCost::interactive())
      : pool_(pool), cost_(cost) {}

  /// Ordered by id, after `page.after`; `tenant` nullopt: every tenant's.
  boost::asio::awaitable<Page<UserRecord>> list(std::optional<std::int64_t> tenant,
                                                PageRequest<std::int64_t> page);
  /// Not found outside `tenant` (nullopt: any tenant).
  boost::asio::awaitable<Outcome<UserRecord>> get(std::int64_t id,
                                                  std::optional<std::int64_t> tenant);
  /// Conflict on `email` when the tenant has a user with it; invalid
  /// `tenant_id` when the tenant does not exist. The audit's target becomes
  /// `user:<id>`.
  boost::asio::awaitable<Outcome<UserRecord>> create(NewUser user, AuditEntry audit);
  /// A new role or password also revokes the user's refresh tokens. The
  /// audit's tenant becomes the target's.
  boost::asio::awaitable<UserWrite<UserRecord>> update(std::int64_t id, Reach reach,
                                                       UserChange change, AuditEntry audit);
  /// The user's refresh tokens go with it. The audit's tenant becomes the
  /// target's and its detail `{"email": <the target's>}`.
  boost::asio::awaitable<UserWrite<Done>> remove(std::int64_t id, Reach reach, AuditEntry audit);

 private:
  QueryPool& pool_;
  auth::PasswordCost cost_;
};

/// At start-up, before serving (blocking, any thread): creates the first
/// user, a superadmin of the default tenant, when the users table is empty,
/// and audits it as `user.bootstrap`. Returns true when it created one.
/// Throws std::invalid_argument for an email that is not an address or a
/// password under 8 characters, and on database errors.
bool bootstrap_admin(const PgTarget& target, const std::string& email, const std::string& password);

}  // namespace peregrine::storage
