#include <peregrine/core/clock.hpp>
#include <peregrine/realtime/hub.hpp>

#include <chrono>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "realtime/frames.hpp"
#include "realtime/hub_state.hpp"
#include "realtime/session.hpp"

namespace peregrine::realtime {

namespace {

std::uint64_t wall_clock_us() { return static_cast<std::uint64_t>(core::wall_us()); }

Text share(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

void deliver_all(const SessionSet& sessions, const Text& text) {
  // A delivery may close a session, but closing only posts work: the set is
  // not modified while we walk it.
  for (Session* s : sessions) s->deliver(text);
}

}  // namespace

Hub::State::State(boost::asio::io_context& ioc, HubOptions o, metrics::Registry& metrics)
    : ioc(ioc),
      opts(o),
      connections(metrics.gauge("peregrine_ws_connections", "Open WebSocket sessions")),
      dropped(metrics.counter("peregrine_ws_dropped_total",
                              "Readings not sent to a slow WebSocket client (coalesced or "
                              "dropped)")),
      slow_closes(metrics.counter("peregrine_ws_slow_closes_total",
                                  "WebSocket sessions closed (1008) for not taking an alert")),
      first_seq(wall_clock_us()),
      seq(first_seq) {}

Hub::Hub(boost::asio::io_context& ioc, HubOptions opts, metrics::Registry& metrics)
    : state_(std::make_unique<State>(ioc, opts, metrics)) {}

Hub::~Hub() {
  close_all();
  const std::vector<Session*> sessions(state_->sessions.begin(), state_->sessions.end());
  for (Session* s : sessions) s->detach();
}

void Hub::set_authenticator(WsAuthenticator auth) { state_->authenticate = std::move(auth); }

void Hub::accept(boost::asio::ip::tcp::socket socket, http::RawRequest request) {
  start_ws_session(*this, std::move(socket), std::move(request));
}

void Hub::accept_tls(std::shared_ptr<http::TlsSocket> tls, http::RawRequest request) {
  start_ws_session(*this, std::move(tls), std::move(request));
}

bool Hub::wants_readings(core::TenantId tenant, std::string_view device) const noexcept {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end()) return false;
  const auto& index = it->second;
  return !index.all_readings.empty() || index.by_device.find(device) != index.by_device.end();
}

void Hub::publish_reading(core::TenantId tenant, std::string_view device,
                          const core::Reading& reading) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end()) return;
  auto& index = it->second;
  const auto dev = index.by_device.find(device);
  if (index.all_readings.empty() && dev == index.by_device.end()) return;
  const Text text = share(reading_frame(state_->next_seq(), device, reading));
  // A slow client's queue replaces a queued frame only by one of the same
  // device and the same metrics, so coalescing never loses the latest value
  // of any metric (CONTRACT.md: per device and metric).
  std::string key(device);
  for (const core::MetricValue& m : reading.values) {
    key += '\x1f';
    key += m.name;
  }
  for (Session* s : index.all_readings) s->deliver_reading(key, text);
  if (dev == index.by_device.end()) return;
  for (Session* s : dev->second) {
    // Subscribed to both readings:* and readings:<device>: send once.
    if (!index.all_readings.contains(s)) s->deliver_reading(key, text);
  }
}

void Hub::publish_presence(core::TenantId tenant, std::string_view device, bool online) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end() || it->second.devices.empty()) return;
  deliver_all(it->second.devices, share(presence_frame(state_->next_seq(), device, online)));
}

void Hub::publish(const alerts::Alert& alert) {
  publish_alert(alert.tenant, alerts::to_json(alert));
}

void Hub::publish_alert(core::TenantId tenant, const nlohmann::json& alert) {
  auto& index = state_->tenant(tenant);
  const auto seq = state_->next_seq();
  const Text text = share(object_frame(seq, "alert", alert));
  index.alert_ring.emplace_back(seq, text);
  while (index.alert_ring.size() > state_->opts.alert_replay) {
    index.evicted_seq = index.alert_ring.front().first;
    index.alert_ring.pop_front();
  }
  deliver_all(index.alerts, text);
}

void Hub::publish_event(core::TenantId tenant, const alerts::AlertEvent& event) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end() || it->second.alerts.empty()) return;
  // seq first, like every other frame.
  std::string frame = "{\"seq\":" + std::to_string(state_->next_seq()) +
                      ",\"type\":\"alert_event\",\"alert_id\":" + std::to_string(event.alert_id) +
                      ",\"event\":" +
                      alerts::to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "}";
  deliver_all(it->second.alerts, share(std::move(frame)));
}

void Hub::publish(const commands::Command& command) {
  const auto it = state_->tenants.find(command.tenant);
  if (it == state_->tenants.end() || it->second.commands.empty()) return;
  deliver_all(it->second.commands,
              share(object_frame(state_->next_seq(), "command", commands::to_json(command))));
}

void Hub::publish_job(core::TenantId tenant, const nlohmann::json& job) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end() || it->second.jobs.empty()) return;
  deliver_all(it->second.jobs, share(object_frame(state_->next_seq(), "job", job)));
}

void Hub::publish_incident(core::TenantId tenant, const nlohmann::json& incident) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end() || it->second.incidents.empty()) return;
  deliver_all(it->second.incidents, share(object_frame(state_->next_seq(), "incident", incident)));
}

void Hub::publish_config(core::TenantId tenant, const nlohmann::json& config) {
  const auto it = state_->tenants.find(tenant);
  if (it == state_->tenants.end() || it->second.devices.empty()) return;
  deliver_all(it->second.devices, share(object_frame(state_->next_seq(), "config", config)));
}

void Hub::close_all() {
  for (Session* s : state_->sessions) s->close(CloseCode::going_away);
}

std::size_t Hub::session_count() const noexcept { return state_->sessions.size(); }

std::size_t Hub::queued_frames() const noexcept {
  std::size_t n = 0;
  for (const Session* s : state_->sessions) n += s->queued();
  return n;
}

}  // namespace peregrine::realtime
