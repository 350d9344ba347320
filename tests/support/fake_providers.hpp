#pragma once
/// tests/support/fake_providers.py as a child process: a webhook receiver
/// that checks signatures, a Twilio-compatible API that checks Basic auth,
/// and an SMTP server that requires AUTH, on free ports of 127.0.0.1.

#include <sys/types.h>

#include <string>

#include <nlohmann/json.hpp>

namespace peregrine::test {

class FakeProviders {
 public:
  static constexpr const char* kSecret = "hook-secret-0123456789abcdef";
  static constexpr const char* kSid = "AC0123456789";
  static constexpr const char* kToken = "twilio-token-secret-42";
  static constexpr const char* kSmtpUser = "mailer";
  static constexpr const char* kSmtpPassword = "smtp-password-secret-7";

  FakeProviders();
  ~FakeProviders();
  FakeProviders(const FakeProviders&) = delete;
  FakeProviders& operator=(const FakeProviders&) = delete;

  /// True once both servers answer.
  bool start();
  int http_port() const { return http_port_; }
  int smtp_port() const { return smtp_port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }

  /// Statuses the next requests of each kind get: {"webhook": [500, 200], "retry_after": "1"}.
  void script(const nlohmann::json& plan) const;
  /// Every webhook / sms / voice request so far, oldest first.
  nlohmann::json requests() const;
  nlohmann::json requests(const std::string& kind) const;
  nlohmann::json mails() const;

 private:
  int http_port_, smtp_port_;
  pid_t pid_ = -1;
};

}  // namespace peregrine::test
