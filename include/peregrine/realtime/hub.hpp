#pragma once
/// WebSocket fan-out (`GET /ws`, CONTRACT.md). The hub owns the sessions and
/// their subscriptions, on the event loop. A message is serialised once
/// (shared_ptr<const std::string>) and queued only to the sessions subscribed
/// to its topic and tenant. Each session has one write in flight and a bounded
/// queue: readings are coalesced (latest per device) when it is full, alerts
/// are never dropped — a session that cannot take one is closed with 1008.
/// Every message carries a `seq` from one hub-wide increasing counter, so a
/// client's stream is increasing and `since=<seq>` can replay recent alerts.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json_fwd.hpp>

#include <peregrine/alerts/ports.hpp>
#include <peregrine/commands/ports.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/http/server.hpp>
#include <peregrine/ingest/sinks.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::realtime {

struct HubOptions {
  std::size_t session_queue = 1024;  ///< messages queued per session before coalescing
  std::size_t alert_replay = 1000;   ///< recent alert frames kept for `since`
  std::chrono::milliseconds auth_timeout{5000};  ///< for the first `{"op":"auth"}`
};

class Session;  // defined in src/realtime

/// What authenticating a WebSocket client decided: the tenant whose frames it
/// receives and until when (the token's `exp`), or (tenant empty) the HTTP
/// status (401/403) and why it is refused.
struct WsAuth {
  std::optional<core::TenantId> tenant;
  unsigned status = 401;
  std::string detail;
  core::Micros expires_us = 0;  ///< µs since the epoch; 0 = never expires
};

/// Checks an access token; `requested` is the tenant the client asked for
/// (`?tenant=` or `"tenant"` in the auth op), nullopt when it did not ask.
/// Called on the loop thread: must not block.
using WsAuthenticator =
    std::function<WsAuth(std::string_view token, std::optional<core::TenantId> requested)>;

class Hub final : public ingest::RealtimeSink,
                  public alerts::AlertFrames,
                  public commands::CommandFrames {
 public:
  Hub(boost::asio::io_context& ioc, HubOptions opts, metrics::Registry& metrics);
  ~Hub() override;

  /// Every session must authenticate through `auth` (set before start):
  /// with `?token=<access token>` in the upgrade request — refused with an
  /// HTTP 401/403 before upgrading when the authenticator says so — or, when
  /// the target has no token, with a first message `{"op":"auth","token":…}`
  /// within HubOptions::auth_timeout, else the session is closed with 1008
  /// (also when that first message is anything else or is refused). The
  /// session then receives only its tenant's frames until its token expires
  /// (WsAuth::expires_us), when it is closed with 1008 "token expired". Until
  /// then the client may renew by sending `{"op":"auth","token":…}` again:
  /// a token granting the same tenant (`"tenant"` defaults to the session's)
  /// moves the deadline, without a reply; any other verdict closes the
  /// session with 1008. Without an authenticator (unit tests) every session
  /// belongs to core::kDefaultTenant and `{"op":"auth"}` is ignored.
  void set_authenticator(WsAuthenticator auth);

  /// Takes over an upgraded HTTP connection (http::UpgradeHandler).
  /// `?since=N` in the request target replays alerts (see publish_alert).
  void accept(boost::asio::ip::tcp::socket socket, http::RawRequest request);
  /// The same for a WSS upgrade (http::TlsUpgradeHandler).
  void accept_tls(std::shared_ptr<http::TlsSocket> tls, http::RawRequest request);

  // ingest::RealtimeSink
  bool wants_readings(core::TenantId tenant, std::string_view device) const noexcept override;
  void publish_reading(core::TenantId tenant, std::string_view device,
                       const core::Reading& reading) override;
  void publish_presence(core::TenantId tenant, std::string_view device, bool online) override;

  /// `{"type":"alert","alert":{…}}` to the tenant's `alerts` subscribers; kept
  /// for replay.
  void publish_alert(core::TenantId tenant, const nlohmann::json& alert);
  /// alerts::AlertFrames: publish_alert(alert.tenant, alerts::to_json(alert)).
  void publish(const alerts::Alert& alert) override;
  /// alerts::AlertFrames: `{"type":"alert_event","alert_id":…,"event":{…}}`
  /// (a rule action's step) to the tenant's `alerts` subscribers; not replayed.
  void publish_event(core::TenantId tenant, const alerts::AlertEvent& event) override;
  /// `{"type":"job","job":{…}}` to the tenant's `jobs` subscribers.
  void publish_job(core::TenantId tenant, const nlohmann::json& job);
  /// `{"type":"incident","incident":{…}}` to the tenant's `incidents` subscribers.
  void publish_incident(core::TenantId tenant, const nlohmann::json& incident);
  /// `{"type":"config","config":{…}}` (a device's configuration state) to
  /// the tenant's `devices` subscribers.
  void publish_config(core::TenantId tenant, const nlohmann::json& config);
  /// commands::CommandFrames: `{"type":"command","command":{…}}` to the
  /// tenant's `commands` subscribers.
  void publish(const commands::Command& command) override;

  /// Closes every session (1001 going away).
  void close_all();
  std::size_t session_count() const noexcept;
  /// Frames waiting in all session queues (each queue is bounded by
  /// HubOptions::session_queue).
  std::size_t queued_frames() const noexcept;

 private:
  friend class Session;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace peregrine::realtime
