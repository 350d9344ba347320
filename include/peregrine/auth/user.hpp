#pragma once
/// A user as the rest of the server sees it (who logged in, whom a token
/// names), and the one spelling of an email address users are stored under.
/// Pure, any thread; the rows live in storage (storage/user_repository.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <peregrine/auth/roles.hpp>

namespace peregrine::auth {

struct User {
  std::int64_t id = 0;
  std::int64_t tenant = 0;
  Role role = Role::viewer;
  std::string email;
};

/// Lowercased, trimmed email; nullopt when it cannot be an address.
std::optional<std::string> normalize_email(std::string_view email);

}  // namespace peregrine::auth
