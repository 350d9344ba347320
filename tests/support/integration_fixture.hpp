#pragma once
/// Base fixture of every integration test: a fresh database, a Redis db of its
/// own (flushed), a unique MQTT client id and device-id prefix, and the real
/// server started on demand. Skips the test when the servers are not
/// configured. The server's log is printed when a test fails.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/mqtt_publisher.hpp"
#include "support/peregrine_process.hpp"
#include "support/prometheus_text.hpp"
#include "support/redis_client.hpp"
#include "support/test_database.hpp"
#include "support/test_env.hpp"

namespace peregrine::test {

class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Starts `peregrine serve` for this test and waits for /readyz. Unless
  /// `extra_env` says otherwise, the server gets a first superadmin
  /// (kAdminEmail) and a fixed JWT secret; once ready, the fixture logs in
  /// as the configured admin and `get()`/`ws_target()` carry that token.
  ::testing::AssertionResult start_server(const std::map<std::string, std::string>& extra_env = {});
  /// Runs `peregrine migrate` against this test's database.
  ::testing::AssertionResult migrate();

  /// A device id unique to this test run: `<tag>-<name>`.
  std::string device(const std::string& name) const { return tag_ + "-" + name; }

  static constexpr const char* kAdminEmail = "itest-admin@example.org";
  static constexpr const char* kAdminPassword = "itest-admin-password";

  /// GET with the admin's bearer token (when logged in).
  HttpResponse get(const std::string& target) const;
  /// `/ws?token=<admin token>`.
  std::string ws_target() const;
  std::string metrics_text() const;
  /// Current value of a metric (sum over matching series), 0 when absent.
  double metric(const std::string& name, const LabelMatch& labels = {}) const;
  /// Waits until `readings` holds `rows` rows (optionally of one device).
  ::testing::AssertionResult wait_rows(std::int64_t rows, const std::string& device = "",
                                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

  MqttPublisher& mqtt();

  std::optional<TestEnv> env_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PeregrineProcess> server_;
  std::string tag_;
  std::string client_id_;
  std::string redis_url_;
  std::string log_path_;
  std::string token_;  ///< the admin's access token, empty when login failed

 private:
  std::unique_ptr<MqttPublisher> mqtt_;
};

/// One telemetry object: {"ts": ts_ms, "seq": seq, <metrics>}; ts/seq left
/// out when negative.
nlohmann::json telemetry(std::int64_t ts_ms, std::int64_t seq, const nlohmann::json& metrics);

}  // namespace peregrine::test
