#include <peregrine/auth/roles.hpp>

namespace peregrine::auth {

std::string_view to_string(Role r) noexcept {
  switch (r) {
    case Role::viewer: return "viewer";
    case Role::operator_: return "operator";
    case Role::admin: return "admin";
    case Role::superadmin: return "superadmin";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view s) noexcept {
  for (Role r : {Role::viewer, Role::operator_, Role::admin, Role::superadmin}) {
    if (s == to_string(r)) return r;
  }
  return std::nullopt;
}

std::optional<Role> role_from_int(int v) noexcept {
  if (v < static_cast<int>(Role::viewer) || v > static_cast<int>(Role::superadmin)) {
    return std::nullopt;
  }
  return static_cast<Role>(v);
}

std::optional<Role> required_role(http::Access access) noexcept {
  switch (access) {
    case http::Access::viewer: return Role::viewer;
    case http::Access::operator_: return Role::operator_;
    case http::Access::admin: return Role::admin;
    case http::Access::superadmin: return Role::superadmin;
    case http::Access::public_:
    case http::Access::device: return std::nullopt;
  }
  return std::nullopt;
}

std::string_view to_string(http::Access access) noexcept {
  switch (access) {
    case http::Access::public_: return "public";
    case http::Access::device: return "device";
    default: break;
  }
  const auto r = required_role(access);
  return r ? to_string(*r) : "invalid";
}

bool valid_access(http::Access access) noexcept {
  switch (access) {
    case http::Access::public_:
    case http::Access::viewer:
    case http::Access::operator_:
    case http::Access::admin:
    case http::Access::superadmin:
    case http::Access::device: return true;
  }
  return false;
}

}  // namespace peregrine::auth
