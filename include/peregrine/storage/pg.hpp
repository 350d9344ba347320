#pragma once
/// How the server reaches PostgreSQL at run time, and the tenant wall
/// (row-level security) every runtime connection sits behind.
///
/// The login of `PEREGRINE_PG_URL` owns the schema and runs migrations.
/// Every runtime connection (query pool, storage writer, alert store, start-up
/// loaders) runs as `app_role`: a role that owns nothing, is not a superuser
/// and cannot bypass row-level security. It logs in with `app_url` when one is
/// configured (the role itself, or a login that is a member of it: nothing
/// the connection sends can get it out of the wall), else it logs in as the
/// owner and switches with `SET ROLE` (simpler to deploy; the server never
/// sends `RESET ROLE`, but the login could). For that role the
/// policies of migrations/0005_tenant_wall.sql are fail-closed: a session sees
/// and writes only the rows of the tenant named by `peregrine.tenant`, every
/// tenant for `*`, and nothing while it is unset. Thread-compatible: each
/// connection belongs to one thread.

#include <memory>
#include <optional>
#include <string>

// Included, not forward-declared: in libpqxx 6 pqxx::connection is an alias.
#include <pqxx/connection>

#include <peregrine/core/types.hpp>

namespace peregrine::storage {

/// Which tenants' rows a session may touch: the value of `peregrine.tenant`.
/// Trivially copyable, so it can ride along QueryPool::run.
class Scope {
 public:
  /// Nothing: the default of every pool connection between calls.
  static constexpr Scope none() noexcept { return Scope(Kind::none, 0); }
  /// Every tenant: system work (the storage writer, the alert store, start-up
  /// loaders, logins and token lookups before the tenant is known,
  /// superadmin listings). Use it only where the SQL itself scopes the rows.
  static constexpr Scope all() noexcept { return Scope(Kind::all, 0); }
  /// One tenant: every request made on behalf of a tenant's user or device.
  static constexpr Scope tenant(core::TenantId t) noexcept { return Scope(Kind::tenant, t); }

  /// The `peregrine.tenant` setting: "", "*" or the decimal tenant id.
  std::string setting() const;
  bool operator==(const Scope&) const = default;

 private:
  enum class Kind : unsigned char { none, all, tenant };
  constexpr Scope(Kind k, core::TenantId t) noexcept : kind_(k), tenant_(t) {}
  Kind kind_;
  core::TenantId tenant_;
};

struct PgTarget {
  std::string url;       ///< PEREGRINE_PG_URL: the schema owner's login
  std::string app_role;  ///< PEREGRINE_PG_APP_ROLE: the role runtime work runs as
                         ///< (empty: stay the login; see prepare_app_role)
  std::string app_url;   ///< PEREGRINE_PG_APP_URL: its own login (empty = `url`)
};

/// Opens a runtime connection (`app_url`, or `url`): `SET ROLE app_role`
/// (unless empty), then `scope` for the session. Throws pqxx errors (e.g. the role does not exist or the login is
/// not a member of it).
std::unique_ptr<pqxx::connection> connect(const PgTarget& target, Scope scope);

/// Sets `peregrine.tenant` for the rest of the session (outside any
/// transaction, so it also holds for the transactions that follow).
void set_scope(pqxx::connection& conn, Scope scope);

/// Run once after migrations, as the owner: creates `app_role` if it is
/// missing (needs CREATEROLE; otherwise a DBA creates it, see
/// docs/security.md), lets the owner switch to it, and grants it the data
/// (not the schema). Returns nullopt when the role is ready, else why it
/// cannot be had (missing and not creatable, or not grantable to this
/// login): the caller then runs as the owner, where the policies hold only
/// for connections that name a tenant. Throws std::runtime_error for a role
/// that would defeat the wall (superuser, BYPASSRLS, owner or member of it,
/// owns tables) and for database errors.
std::optional<std::string> prepare_app_role(const PgTarget& target);

}  // namespace peregrine::storage
