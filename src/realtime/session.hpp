#pragma once
/// One WebSocket client as the hub sees it: its tenant, its topics, its
/// bounded send queue, and the client → server ops (CONTRACT.md). The socket
/// side lives in ws_session.cpp (the only Beast translation unit here). A
/// session is owned by its coroutines through shared_ptr; the hub indexes it
/// by raw pointer between open() and finish(). Loop thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include <boost/asio/ip/tcp.hpp>

#include <peregrine/http/router.hpp>
#include <peregrine/http/server.hpp>
#include <peregrine/realtime/hub.hpp>

#include "realtime/out_queue.hpp"

namespace peregrine::realtime {

/// WebSocket close codes used by the hub.
enum class CloseCode : std::uint16_t { going_away = 1001, policy = 1008 };

/// Why a renewal verdict (a later `{"op":"auth"}`) ends a session of
/// `tenant`, or nullopt when the session goes on. Pure.
std::optional<std::string> renewal_refusal(const WsAuth& verdict, core::TenantId tenant);
/// `reason` cut to what a close frame carries (123 bytes). Pure.
std::string_view close_reason_text(std::string_view reason) noexcept;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Hub& hub, core::TenantId tenant);
  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  core::TenantId tenant() const noexcept { return tenant_; }
  std::size_t queued() const noexcept { return queue_.size(); }

  /// Queues a reading (coalesced or dropped when the queue is full);
  /// `key` names what a newer reading replaces: device and metrics.
  void deliver_reading(std::string_view key, const Text& text);
  /// Queues any other frame; closes the session (1008) if it cannot.
  void deliver(const Text& text);

  /// Starts the close handshake (with `reason`, see close_reason_text);
  /// further frames are ignored.
  virtual void close(CloseCode code, std::string_view reason) = 0;
  void close(CloseCode code) { close(code, {}); }
  /// The hub is being destroyed: forget it.
  void detach() noexcept;

 protected:
  /// Whether the hub has an authenticator (else the session is open as is).
  bool auth_required() const noexcept;
  /// The authenticator's verdict on `token`; refused when the hub is gone.
  WsAuth check_token(std::string_view token, std::optional<core::TenantId> requested) const;
  /// The verdict on a message that must be `{"op":"auth","token":…}`
  /// (optionally `"tenant": N`; `fallback` when it has none).
  WsAuth check_auth_message(std::string_view text,
                            std::optional<core::TenantId> fallback = std::nullopt) const;
  /// How long a session may stay unauthenticated.
  std::chrono::milliseconds auth_timeout() const noexcept;
  /// Only before open(): the tenant authentication chose.
  void set_tenant(core::TenantId tenant) noexcept { tenant_ = tenant; }
  /// Registers with the hub, then replays alerts if `target` has `since=`.
  void open(std::string_view target);
  /// One text message from the client.
  void handle_message(std::string_view text);
  /// Leaves every index; idempotent.
  void finish() noexcept;
  /// The writer has work.
  virtual void wake() = 0;
  /// Closes the session (1008 "token expired") at `expires_us` (µs since the
  /// epoch) instead of any earlier deadline; 0 = never.
  virtual void arm_expiry(core::Micros expires_us) = 0;

  Text next_frame() { return queue_.pop(); }
  bool has_frames() const noexcept { return !queue_.empty(); }

 private:
  void reply(std::string text);
  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);
  void replay_alerts(std::uint64_t since);
  void renew(std::string_view text);

  Hub::State* hub_;
  core::TenantId tenant_;
  OutQueue queue_;
  std::unordered_set<std::string> topics_;
  bool registered_ = false;
  bool overflowed_ = false;  // closing with 1008: nothing more is queued
};

/// Accepts the upgrade on `socket` and runs the session (ws_session.cpp).
void start_ws_session(Hub& hub, boost::asio::ip::tcp::socket socket, http::RawRequest request);
/// The same over a TLS connection after its handshake.
void start_ws_session(Hub& hub, std::shared_ptr<http::TlsSocket> tls, http::RawRequest request);

}  // namespace peregrine::realtime
