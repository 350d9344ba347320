#pragma once
/// What presenting a refresh token does, as a pure decision over what the
/// database holds for it. Any thread.

#include <peregrine/core/types.hpp>

namespace peregrine::auth {

/// Refresh tokens live 30 days unless rotated or revoked first.
inline constexpr core::Micros kRefreshTtlUs = 30LL * 86400 * 1'000'000;

/// The stored state of one refresh token.
struct RefreshRecord {
  bool rotated = false;  ///< already exchanged for a newer token
  bool revoked = false;  ///< logged out, or its family was revoked
  core::Micros expires_us = 0;
};

enum class RefreshVerdict {
  rotate,   ///< valid: mark it rotated, hand out the next token of its family
  reused,   ///< an already-rotated token came back: revoke its whole family
  revoked,  ///< refused (logged out or family revoked)
  expired,  ///< refused
  unknown,  ///< no such token
};

/// Revocation wins over everything: a revoked family stays revoked. Reuse is
/// judged before expiry so that a stolen old token still burns its family.
constexpr RefreshVerdict judge_refresh(const RefreshRecord& r, core::Micros now_us) noexcept {
  if (r.revoked) return RefreshVerdict::revoked;
  if (r.rotated) return RefreshVerdict::reused;
  if (r.expires_us <= now_us) return RefreshVerdict::expired;
  return RefreshVerdict::rotate;
}

}  // namespace peregrine::auth
