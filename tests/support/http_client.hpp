#pragma once
/// Minimal blocking HTTP and WebSocket clients for tests, every operation
/// bounded by a timeout. Beast stays inside beast_clients.cpp; this header is
/// plain C++. Test thread only; one WsClient per connection.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace peregrine::test {

struct HttpResponse {
  int status = 0;  ///< 0 when the request failed (connection refused, timeout)
  std::map<std::string, std::string> headers;  ///< lowercase names
  std::string body;
  std::string error;  ///< why status is 0

  /// The body parsed as JSON (discarded value on parse error).
  nlohmann::json json() const;
  std::string header(const std::string& lowercase_name) const;
};

class HttpClient {
 public:
  HttpClient(std::string host, int port) : host_(std::move(host)), port_(port) {}
  /// Sends `Authorization: Bearer <token>` with every request (none when empty).
  void set_bearer(std::string token) { bearer_ = std::move(token); }

  HttpResponse get(const std::string& target,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  HttpResponse post(const std::string& target, const std::string& body,
                    const std::string& content_type = "application/json",
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  /// GET whose body is handed to `on_body` piece by piece as it arrives
  /// (never held whole): for streamed responses of any size. `timeout`
  /// bounds each read. The result's body is empty; `error` is set when the
  /// body ended early (e.g. a chunked body cut before its last chunk).
  HttpResponse get_streamed(const std::string& target, const std::function<void(std::string_view)>& on_body,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body, const std::string& content_type,
                       std::chrono::milliseconds timeout) const;
  std::string host_;
  int port_;
  std::string bearer_;
};

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  /// Connects and upgrades `target` (e.g. "/ws"). Throws std::runtime_error.
  void connect(const std::string& host, int port, const std::string& target = "/ws",
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Sends one text frame. Throws std::runtime_error.
  void send(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void send(const nlohmann::json& msg) { send(msg.dump()); }
  /// The next text frame, or nullopt when none arrives within `timeout` (the
  /// read stays pending and its frame is returned by the next call) or the
  /// connection closed.
  std::optional<std::string> read(std::chrono::milliseconds timeout);
  /// The next frame parsed as JSON; nullopt on timeout or closed connection.
  std::optional<nlohmann::json> read_json(std::chrono::milliseconds timeout);
  bool closed() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peregrine::test
