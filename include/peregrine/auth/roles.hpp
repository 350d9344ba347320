#pragma once
/// Roles within a tenant and what each may call. `viewer` < `operator` <
/// `admin` < `superadmin` (across tenants). Pure functions, any thread.

#include <optional>
#include <string_view>

#include <peregrine/http/router.hpp>

namespace peregrine::auth {

/// Ordered: a higher role may do everything a lower one may. The values are
/// what http::Principal::role carries.
enum class Role : int { viewer = 1, operator_ = 2, admin = 3, superadmin = 4 };

std::string_view to_string(Role r) noexcept;
/// "viewer", "operator", "admin", "superadmin"; nullopt otherwise.
std::optional<Role> parse_role(std::string_view s) noexcept;
/// nullopt for an int outside the enum.
std::optional<Role> role_from_int(int v) noexcept;

/// The least role a user route with `access` needs; nullopt for public and
/// device routes (no user needed) and for a value outside the enum.
std::optional<Role> required_role(http::Access access) noexcept;

/// "public", "viewer", "operator", "admin", "superadmin", "device".
std::string_view to_string(http::Access access) noexcept;

/// Whether `access` is one of the declared levels (a route table check).
bool valid_access(http::Access access) noexcept;

}  // namespace peregrine::auth
