#include <peregrine/auth/authenticator.hpp>

#include <string>

namespace peregrine::auth {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if ((x | 0x20) != (y | 0x20)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> bearer_token(const http::RawRequest& req) {
  const auto it = req.find(boost::beast::http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v = it->value();
  constexpr std::string_view kScheme = "Bearer ";
  if (v.size() <= kScheme.size() || !iequals(v.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

http::Problem unauthorized(std::string detail, bool token_presented) {
  http::Problem p(401, "Unauthorized", std::move(detail));
  p.headers.emplace_back("WWW-Authenticate",
                         token_presented ? R"(Bearer realm="peregrine", error="invalid_token")"
                                         : R"(Bearer realm="peregrine")");
  return p;
}

http::Problem forbidden(std::string detail) {
  return http::Problem(403, "Forbidden", std::move(detail));
}

Role role_of(const http::Principal& p) noexcept {
  return role_from_int(p.role).value_or(Role::viewer);
}

std::optional<http::Principal> Authenticator::authenticate(const http::RawRequest& req,
                                                           http::Access access) const {
  if (!valid_access(access)) throw forbidden("route has no valid access level");
  if (access == http::Access::public_) return std::nullopt;
  if (access == http::Access::device) {
    const auto it = req.find("X-Device-Token");
    if (it == req.end() || it->value().empty()) {
      auto p = http::Problem(401, "Unauthorized", "X-Device-Token header required");
      p.headers.emplace_back("WWW-Authenticate", R"(DeviceToken realm="peregrine")");
      throw p;
    }
    return std::nullopt;
  }

  const auto token = bearer_token(req);
  if (!token) throw unauthorized("Authorization: Bearer <access_token> required", false);
  const VerifyResult v = signer_.verify(*token);
  if (const auto* err = std::get_if<TokenError>(&v)) {
    throw unauthorized(std::string(to_string(*err)), true);
  }
  const Claims& c = std::get<Claims>(v);
  const Role need = required_role(access).value_or(Role::superadmin);
  if (static_cast<int>(c.role) < static_cast<int>(need)) {
    throw forbidden("this call needs the " + std::string(to_string(need)) + " role");
  }
  return http::Principal{c.user_id, c.tenant, static_cast<int>(c.role), c.email};
}

Authenticator::StreamGrant Authenticator::stream_tenant(
    std::string_view token, std::optional<core::TenantId> requested) const {
  const VerifyResult v = signer_.verify(token);
  if (const auto* err = std::get_if<TokenError>(&v)) {
    return {std::nullopt, 401, std::string(to_string(*err))};
  }
  const Claims& c = std::get<Claims>(v);
  if (!requested || *requested == c.tenant) return {c.tenant, 200, {}, c.expires_us};
  if (c.role != Role::superadmin) {
    return {std::nullopt, 403, "only a superadmin may watch another tenant"};
  }
  return {*requested, 200, {}, c.expires_us};
}

http::Guard Authenticator::guard() const {
  return [this](http::Request& req, http::Access access) -> boost::asio::awaitable<void> {
    req.principal = authenticate(req.raw, access);
    co_return;
  };
}

}  // namespace peregrine::auth
