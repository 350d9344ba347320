#pragma once
// Fixture of the auth integration tests: the server started with a first
// superadmin and a known JWT secret, and calls with a bearer token.

#include <string>

#include "auth_helpers.hpp"
#include "support/integration_fixture.hpp"

namespace peregrine::test {

class AuthTest : public IntegrationTest {
 protected:
  static constexpr const char* kRootEmail = "root@example.org";
  static constexpr const char* kRootPassword = "root-password-1";
  static constexpr const char* kSecret = "integration-jwt-secret";

  ::testing::AssertionResult start(std::map<std::string, std::string> env = {}) {
    env.emplace("PEREGRINE_ADMIN_EMAIL", kRootEmail);
    env.emplace("PEREGRINE_ADMIN_PASSWORD", kRootPassword);
    env.emplace("PEREGRINE_JWT_SECRET", kSecret);
    // These tests log in and call in quick bursts; rate_limit_test sets limits.
    env.emplace("PEREGRINE_RATE_LOGIN_PER_MIN", "0");
    env.emplace("PEREGRINE_RATE_API_PER_MIN", "0");
    env.emplace("PEREGRINE_RATE_INGEST_PER_MIN", "0");
    return start_server(env);
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& token = "", const std::string& body = "",
                    std::map<std::string, std::string> headers = {}) const {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return authit::request(server_->http_port(), method, target, headers, body);
  }

  /// POST /auth/login; the parsed body (null when not 200).
  nlohmann::json login(const std::string& email, const std::string& password) const {
    const auto r = call("POST", "/api/v1/auth/login", "",
                        nlohmann::json{{"email", email}, {"password", password}}.dump());
    return r.status == 200 ? r.json() : nlohmann::json();
  }
  std::string access_token(const std::string& email, const std::string& password) const {
    const auto j = login(email, password);
    return j.is_object() ? j.value("access_token", "") : "";
  }
  std::string root_token() const { return access_token(kRootEmail, kRootPassword); }

  /// Creates a user through the API as `token`; returns its id (0 on failure).
  std::int64_t create_user(const std::string& token, const std::string& email,
                           const std::string& role, std::int64_t tenant = 0) const {
    nlohmann::json body = {{"email", email}, {"password", "password-123"}, {"role", role}};
    if (tenant > 0) body["tenant_id"] = tenant;
    const auto r = call("POST", "/api/v1/users", token, body.dump());
    return r.status == 201 ? r.json().value("id", 0) : 0;
  }
};

}  // namespace peregrine::test
