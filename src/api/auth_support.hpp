#pragma once
// Shared by the auth, user, tenant, audit and device-credential handlers:
// who the caller is, audit entries about them, and JSON body fields.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <peregrine/auth/roles.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::api {

/// The authenticated caller; Problem 401 when there is none.
const http::Principal& principal(const http::Request& req);
bool is_superadmin(const http::Principal& p);

/// The row-level-security scope of a tenant filter: that tenant, or every
/// tenant for nullopt (a superadmin's listing across tenants).
inline storage::Scope db_scope(std::optional<std::int64_t> tenant) {
  return tenant ? storage::Scope::tenant(*tenant) : storage::Scope::all();
}

/// `ip:port` of the peer, for the audit log.
std::string remote_of(const http::Request& req);

/// An audit entry by the request's caller (if any) in `tenant`.
storage::AuditEntry audit_by(const http::Request& req, std::optional<std::int64_t> tenant,
                          std::string action, std::string target,
                          nlohmann::json detail = nlohmann::json::object());

/// The body as a JSON object; Problem 400 otherwise.
nlohmann::json body_object(const http::Request& req);
/// A string member: Problem 400 naming it when missing (if required) or not a string.
std::optional<std::string> string_field(const nlohmann::json& body, const char* key, bool required);

/// `{id}` path parameter as a positive integer; Problem 404 otherwise (an id
/// that cannot exist is simply not found).
std::int64_t id_param(const http::Request& req);

/// `?limit=` and an integer `?cursor=`.
std::size_t limit_param(const http::Request& req);
std::optional<std::int64_t> int_cursor(const http::Request& req);
/// A positive integer query parameter; Problem 400 when malformed.
std::optional<std::int64_t> int_query(const http::Request& req, const std::string& name);

}  // namespace peregrine::api
