#include "support/integration_fixture.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace peregrine::test {

void IntegrationTest::SetUp() {
  env_ = TestEnv::from_environment();
  if (!env_) GTEST_SKIP() << kSkipMessage;
  tag_ = "it" + random_hex(6);
  client_id_ = "peregrine-" + tag_;
  db_ = std::make_unique<TestDatabase>(env_->pg_admin_url);
  // Tests run one at a time (RUN_SERIAL); device ids are unique per test
  // anyway, so a db of its own is belt and braces.
  redis_url_ = redis_url_with_db(env_->redis_url, 1 + static_cast<int>(std::stoul(random_hex(4), nullptr, 16) % 15));
  redis_ = std::make_unique<RedisClient>(redis_url_);
  redis_->flushdb();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::create_directories(PEREGRINE_TEST_LOG_DIR);
  log_path_ = std::string(PEREGRINE_TEST_LOG_DIR) + "/" + info->test_suite_name() + "." +
              info->name() + ".log";
  std::filesystem::remove(log_path_);
}

void IntegrationTest::TearDown() {
  if (!env_) return;
  // Stopped first, so that everything the server logged is in the file.
  if (server_ && server_->running()) server_->sigterm_and_wait(std::chrono::seconds(10));
  server_.reset();
  if (HasFailure()) {
    std::cerr << "---- peregrine log (" << log_path_ << "), last lines ----\n"
              << file_tail(log_path_) << "\n---- end of log ----\n";
  }
  mqtt_.reset();
  MqttPublisher::clear_session(env_->mqtt_url, client_id_);
}

::testing::AssertionResult IntegrationTest::start_server(
    const std::map<std::string, std::string>& extra_env) {
  auto env = extra_env;
  env.emplace("PEREGRINE_ADMIN_EMAIL", kAdminEmail);
  env.emplace("PEREGRINE_ADMIN_PASSWORD", kAdminPassword);
  env.emplace("PEREGRINE_JWT_SECRET", "itest-jwt-secret-" + tag_);
  server_ = std::make_unique<PeregrineProcess>(
      ProcessOptions{db_->url(), redis_url_, env_->mqtt_url, client_id_, env, log_path_});
  if (server_->wait_ready()) {
    const auto r = server_->http().post(
        "/api/v1/auth/login", nlohmann::json{{"email", env["PEREGRINE_ADMIN_EMAIL"]},
                                             {"password", env["PEREGRINE_ADMIN_PASSWORD"]}}
                                  .dump());
    token_ = r.status == 200 ? r.json().value("access_token", "") : "";
    return ::testing::AssertionSuccess();
  }
  const auto ready = server_->http().get("/readyz", std::chrono::seconds(2));
  return ::testing::AssertionFailure()
         << "peregrine did not become ready within 20 s (running=" << server_->running()
         << ", last /readyz: " << ready.status << " " << ready.body << ready.error << ")";
}

::testing::AssertionResult IntegrationTest::migrate() {
  PeregrineProcess p(ProcessOptions{db_->url(), redis_url_, env_->mqtt_url,
                                    client_id_ + "-migrate", {}, log_path_},
                     {"migrate"});
  const auto code = p.wait_exit(std::chrono::seconds(30));
  if (code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "`peregrine migrate` exit code " << (code ? std::to_string(*code) : "none (still running)");
}

HttpResponse IntegrationTest::get(const std::string& target) const {
  auto client = server_->http();
  client.set_bearer(token_);
  return client.get(target);
}

std::string IntegrationTest::ws_target() const {
  return token_.empty() ? "/ws" : "/ws?token=" + token_;
}

std::string IntegrationTest::metrics_text() const {
  const auto r = get("/metrics");
  EXPECT_EQ(r.status, 200) << "GET /metrics: " << r.error << r.body;
  return r.body;
}

double IntegrationTest::metric(const std::string& name, const LabelMatch& labels) const {
  return metric_value(metrics_text(), name, labels).value_or(0);
}

::testing::AssertionResult IntegrationTest::wait_rows(std::int64_t rows, const std::string& device,
                                                      std::chrono::milliseconds timeout) {
  std::int64_t last = -1;
  const bool ok = eventually(
      [&] {
        last = db_->count_readings(device);
        return last >= rows;
      },
      timeout, std::chrono::milliseconds(100));
  if (ok && last == rows) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "readings" << (device.empty() ? "" : " of " + device)
                                       << ": expected " << rows << " rows, have " << last;
}

MqttPublisher& IntegrationTest::mqtt() {
  if (!mqtt_) mqtt_ = std::make_unique<MqttPublisher>(env_->mqtt_url);
  return *mqtt_;
}

nlohmann::json telemetry(std::int64_t ts_ms, std::int64_t seq, const nlohmann::json& metrics) {
  nlohmann::json j = metrics;
  if (ts_ms >= 0) j["ts"] = ts_ms;
  if (seq >= 0) j["seq"] = seq;
  return j;
}

}  // namespace peregrine::test
