#pragma once
/// Decides who calls a route: reads `Authorization: Bearer <jwt>` (or, for
/// device routes, checks that `X-Device-Token` is present; its handler
/// compares it with the device's stored hash) and compares the caller's role
/// with the route's declared http::Access. Failures are http::Problem: 401
/// with `WWW-Authenticate: Bearer` when the token is missing, expired,
/// tampered or of another algorithm; 403 when the role is too low.
/// Immutable after construction: loop thread or any other.

#include <optional>
#include <string>
#include <string_view>

#include <peregrine/auth/roles.hpp>
#include <peregrine/auth/token_signer.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/http/router.hpp>

namespace peregrine::auth {

class Authenticator {
 public:
  explicit Authenticator(const TokenSigner& signer) : signer_(signer) {}

  /// The caller of a user route; nullopt for public and device routes.
  /// Throws http::Problem 401/403.
  std::optional<http::Principal> authenticate(const http::RawRequest& req,
                                              http::Access access) const;

  /// A guard that authenticates and stores the principal in the request.
  http::Guard guard() const;

  /// Which tenant's live frames (WebSocket) the holder of access token
  /// `token` receives: its own; only a superadmin may name another with
  /// `requested`. On refusal `tenant` is empty and `status` is 401 (bad
  /// token) or 403 (another tenant asked for). A grant carries the token's
  /// expiry, after which the stream must end unless renewed.
  struct StreamGrant {
    std::optional<core::TenantId> tenant;
    unsigned status = 401;
    std::string detail;
    core::Micros expires_us = 0;  ///< the token's `exp`, µs since the epoch
  };
  StreamGrant stream_tenant(std::string_view token,
                            std::optional<core::TenantId> requested) const;

 private:
  const TokenSigner& signer_;
};

/// The bearer token of `Authorization`, if the header has that scheme.
std::optional<std::string_view> bearer_token(const http::RawRequest& req);

/// 401 with `WWW-Authenticate: Bearer` (and `error="invalid_token"` when a
/// token was presented).
http::Problem unauthorized(std::string detail, bool token_presented);
http::Problem forbidden(std::string detail);

/// The principal's role (viewer when the value is out of range).
Role role_of(const http::Principal& p) noexcept;

}  // namespace peregrine::auth
