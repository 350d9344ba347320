#include <peregrine/auth/token_signer.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include <jwt.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <peregrine/auth/secrets.hpp>

namespace peregrine::auth {

namespace {

constexpr std::size_t kMaxTokenBytes = 4096;
// Tokens issued by a host whose clock runs slightly ahead are still accepted.
constexpr std::int64_t kIatSkewSeconds = 60;

struct JwtFree {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out(in.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

// The header is judged here, not by libjwt: the algorithm must be exactly
// HS256 whatever libjwt would accept.
std::optional<TokenError> check_header(std::string_view token) {
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return TokenError::malformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return TokenError::malformed;
  }
  if (dot2 + 1 == token.size()) return TokenError::bad_algorithm;  // unsigned: alg none
  const auto header = base64url_decode(token.substr(0, dot1));
  if (!header) return TokenError::malformed;
  const auto h = nlohmann::json::parse(*header, nullptr, false);
  if (!h.is_object()) return TokenError::malformed;
  const auto alg = h.find("alg");
  if (alg == h.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256") {
    return TokenError::bad_algorithm;
  }
  const auto typ = h.find("typ");
  if (typ != h.end() && (!typ->is_string() || typ->get_ref<const std::string&>() != "JWT")) {
    return TokenError::malformed;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(TokenError e) noexcept {
  switch (e) {
    case TokenError::malformed: return "malformed token";
    case TokenError::bad_algorithm: return "token algorithm not accepted";
    case TokenError::bad_signature: return "token signature invalid";
    case TokenError::expired: return "token expired";
    case TokenError::bad_claims: return "token claims invalid";
  }
  return "invalid token";
}

TokenSigner::TokenSigner(std::string secret, const core::Clock& clock, std::chrono::seconds ttl)
    : secret_(std::move(secret)), clock_(clock), ttl_(ttl) {
  if (secret_.empty()) throw std::invalid_argument("JWT secret must not be empty");
}

std::string TokenSigner::random_secret() { return random_hex(32); }

std::string TokenSigner::issue(const Claims& claims) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  JwtPtr jwt(raw);
  const long now = static_cast<long>(clock_.now_us() / 1'000'000);
  const std::string sub = std::to_string(claims.user_id);
  const std::string role(to_string(claims.role));
  int rc = jwt_add_grant(jwt.get(), "sub", sub.c_str());
  rc |= jwt_add_grant_int(jwt.get(), "tenant", static_cast<long>(claims.tenant));
  rc |= jwt_add_grant(jwt.get(), "role", role.c_str());
  rc |= jwt_add_grant(jwt.get(), "email", claims.email.c_str());
  rc |= jwt_add_grant_int(jwt.get(), "iat", now);
  rc |= jwt_add_grant_int(jwt.get(), "exp", now + static_cast<long>(ttl_.count()));
  rc |= jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret_.data()),
                    static_cast<int>(secret_.size()));
  if (rc != 0) throw std::runtime_error("jwt: cannot set claims");
  char* out = jwt_encode_str(jwt.get());
  if (!out) throw std::runtime_error("jwt_encode_str failed");
  std::string token(out);
  std::free(out);  // libjwt 1.10 allocates with malloc and has no jwt_free_str
  return token;
}

VerifyResult TokenSigner::verify(std::string_view token) const {
  if (token.empty() || token.size() > kMaxTokenBytes) return TokenError::malformed;
  if (const auto err = check_header(token)) return *err;

  const std::string copy(token);
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, copy.c_str(), reinterpret_cast<const unsigned char*>(secret_.data()),
                            static_cast<int>(secret_.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) return TokenError::bad_signature;
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return TokenError::bad_algorithm;

  errno = 0;
  const long exp = jwt_get_grant_int(jwt.get(), "exp");
  if (errno != 0) return TokenError::bad_claims;
  const long iat = jwt_get_grant_int(jwt.get(), "iat");
  if (errno != 0) return TokenError::bad_claims;
  const long tenant = jwt_get_grant_int(jwt.get(), "tenant");
  if (errno != 0 || tenant <= 0) return TokenError::bad_claims;
  const char* sub = jwt_get_grant(jwt.get(), "sub");
  const char* role = jwt_get_grant(jwt.get(), "role");
  const char* email = jwt_get_grant(jwt.get(), "email");
  if (!sub || !role || !email) return TokenError::bad_claims;

  const std::int64_t now = clock_.now_us() / 1'000'000;
  if (exp <= now) return TokenError::expired;
  if (iat > now + kIatSkewSeconds || iat > exp) return TokenError::bad_claims;

  Claims c;
  const std::string_view s(sub);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), c.user_id);
  if (ec != std::errc{} || p != s.data() + s.size() || c.user_id <= 0) return TokenError::bad_claims;
  const auto r = parse_role(role);
  if (!r) return TokenError::bad_claims;
  c.role = *r;
  c.tenant = tenant;
  c.email = email;
  c.expires_us = static_cast<core::Micros>(exp) * 1'000'000;
  return c;
}

}  // namespace peregrine::auth
