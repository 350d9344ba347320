#include "support/fake_providers.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "support/http_client.hpp"
#include "support/test_env.hpp"

namespace peregrine::test {

FakeProviders::FakeProviders() : http_port_(free_port()), smtp_port_(free_port()) {
  while (smtp_port_ == http_port_) smtp_port_ = free_port();
}

FakeProviders::~FakeProviders() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool FakeProviders::start() {
  const std::string script_path = std::string(PEREGRINE_SOURCE_DIR) + "/tests/support/fake_providers.py";
  const std::string http = std::to_string(http_port_), smtp = std::to_string(smtp_port_);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execl("/usr/bin/python3", "python3", script_path.c_str(), "--http-port", http.c_str(), "--smtp-port",
            smtp.c_str(), "--secret", kSecret, "--sid", kSid, "--token", kToken, "--smtp-user", kSmtpUser,
            "--smtp-password", kSmtpPassword, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid_ <= 0) return false;
  return eventually([&] { return HttpClient("127.0.0.1", http_port_).get("/_requests").status == 200; },
                    std::chrono::seconds(15));
}

void FakeProviders::script(const nlohmann::json& plan) const {
  HttpClient("127.0.0.1", http_port_).post("/_script", plan.dump());
}

nlohmann::json FakeProviders::requests() const {
  const auto r = HttpClient("127.0.0.1", http_port_).get("/_requests");
  return r.status == 200 ? nlohmann::json::parse(r.body) : nlohmann::json::array();
}

nlohmann::json FakeProviders::requests(const std::string& kind) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : requests())
    if (r.value("kind", "") == kind) out.push_back(r);
  return out;
}

nlohmann::json FakeProviders::mails() const {
  const auto r = HttpClient("127.0.0.1", http_port_).get("/_mails");
  return r.status == 200 ? nlohmann::json::parse(r.body) : nlohmann::json::array();
}

}  // namespace peregrine::test
