#pragma once
/// Fixture of the rules and alerts integration tests: REST calls of any
/// method as the fixture's admin, rule creation, a WebSocket subscribed to
/// `alerts`, and waiting for the alert frame that matches. Test thread only.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "integration/auth_helpers.hpp"
#include "support/integration_fixture.hpp"

namespace peregrine::test {

class AlertingTest : public IntegrationTest {
 protected:
  /// Any method with the admin's bearer token.
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "") const {
    std::map<std::string, std::string> headers;
    if (!token_.empty()) headers["Authorization"] = "Bearer " + token_;
    return authit::request(server_->http_port(), method, target, headers, body);
  }
  HttpResponse call(const std::string& method, const std::string& target,
                    const nlohmann::json& body) const {
    return call(method, target, body.dump());
  }

  /// POST /api/v1/rules; the new rule's id, 0 on failure (reported).
  std::int64_t create_rule(const nlohmann::json& rule) const {
    const auto r = call("POST", "/api/v1/rules", rule);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json().value("id", std::int64_t{0}) : 0;
  }

  /// A WebSocket subscribed to `alerts` (the pong proves the subscription
  /// was handled).
  std::unique_ptr<WsClient> alerts_ws() const {
    auto ws = std::make_unique<WsClient>();
    ws->connect("127.0.0.1", server_->http_port(), ws_target());
    ws->send(nlohmann::json{{"op", "subscribe"}, {"topics", {"alerts"}}});
    ws->send(nlohmann::json{{"op", "ping"}});
    for (int i = 0; i < 10; ++i) {
      const auto f = ws->read_json(std::chrono::seconds(5));
      if (!f) break;
      if (f->value("type", "") == "pong") return ws;
    }
    ADD_FAILURE() << "no pong on /ws";
    return ws;
  }

  /// The next frame of `type` for which `pred` holds (other frames are
  /// skipped), or nullopt after `timeout`.
  static std::optional<nlohmann::json> next_frame(
      WsClient& ws, const std::string& type, const std::function<bool(const nlohmann::json&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      const auto f = ws.read_json(left);
      if (!f) return std::nullopt;
      if (f->value("type", "") == type && pred(*f)) return f;
    }
  }

  /// The next `alert` frame's alert for which `pred` holds, or nullopt.
  static std::optional<nlohmann::json> next_alert(
      WsClient& ws, const std::function<bool(const nlohmann::json&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto f = next_frame(
        ws, "alert", [&](const nlohmann::json& f) { return f.contains("alert") && pred(f["alert"]); },
        timeout);
    return f ? std::optional<nlohmann::json>((*f)["alert"]) : std::nullopt;
  }

  /// Publishes one reading of `device` at server-now (QoS 1, acknowledged).
  void publish(const std::string& device, const nlohmann::json& metrics,
               std::int64_t ts_ms = -1) {
    mqtt().publish(telemetry_topic(device), telemetry(ts_ms < 0 ? now_ms() : ts_ms, -1, metrics).dump());
  }

  static nlohmann::json threshold_rule(const std::string& name, const std::string& metric,
                                       const std::string& device, const nlohmann::json& params) {
    return {{"name", name}, {"metric", metric}, {"scope", {{"device", device}}},
            {"kind", "threshold"}, {"params", params}, {"severity", "critical"}};
  }
};

}  // namespace peregrine::test
