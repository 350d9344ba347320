#pragma once
/// Access tokens: JWT signed with HMAC-SHA256 (libjwt). The algorithm is
/// pinned: a token whose header names any other `alg` (including `none`) is
/// refused before libjwt sees it. Claims: `sub` (user id), `tenant`, `role`,
/// `email`, `iat`, `exp`. Immutable after construction: any thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <peregrine/auth/roles.hpp>
#include <peregrine/core/clock.hpp>

namespace peregrine::auth {

struct Claims {
  std::int64_t user_id = 0;
  std::int64_t tenant = 0;
  Role role = Role::viewer;
  std::string email;
  /// The token's `exp` in µs since the epoch; set by verify(), ignored by
  /// issue() (which always uses ttl()).
  core::Micros expires_us = 0;
};

enum class TokenError {
  malformed,      ///< not three base64url parts, header not JSON, oversized
  bad_algorithm,  ///< header `alg` other than HS256
  bad_signature,  ///< signature does not match (tampered, or another key)
  expired,        ///< `exp` not after now
  bad_claims,     ///< a required claim missing or of the wrong type
};
std::string_view to_string(TokenError e) noexcept;

using VerifyResult = std::variant<Claims, TokenError>;

class TokenSigner {
 public:
  /// `secret` must not be empty (see random_secret()).
  TokenSigner(std::string secret, const core::Clock& clock,
              std::chrono::seconds ttl = std::chrono::minutes(15));

  /// A signed token valid for ttl() from now. Throws std::runtime_error only
  /// when libjwt cannot allocate.
  std::string issue(const Claims& claims) const;
  VerifyResult verify(std::string_view token) const;
  std::chrono::seconds ttl() const noexcept { return ttl_; }
  const core::Clock& clock() const noexcept { return clock_; }

  /// 32 random bytes as hex: the key used when none is configured.
  static std::string random_secret();

 private:
  std::string secret_;
  const core::Clock& clock_;
  std::chrono::seconds ttl_;
};

}  // namespace peregrine::auth
