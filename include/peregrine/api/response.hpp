#pragma once
/// What the alert-response REST handlers reach (CONTRACT.md "notification
/// channels", "contacts", "notifications", "silences", "incidents"): the
/// repositories, the silences the alerts service consults on the loop, the
/// hub for incident frames, and a small pool for channel test sends (a
/// blocking libcurl transfer that must not run on the loop).

#include <chrono>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include <peregrine/api/context.hpp>
#include <peregrine/notifications/notify.hpp>
#include <peregrine/realtime/hub.hpp>

namespace peregrine::api {

struct ResponseContext {
  Context& base;
  notifications::Silences& silences;  ///< loop thread only
  realtime::Hub& hub;                 ///< loop thread only
  boost::asio::thread_pool& test_pool;
  std::string public_url;
  std::chrono::milliseconds test_timeout{10'000};
};

/// `/api/v1/channels…` (admin), `/api/v1/contacts…` (operator reads, admin
/// writes), `GET /api/v1/notifications?alert=` (viewer), `/api/v1/silences…`
/// (viewer reads, operator writes).
void add_response_routes(http::Router& router, ResponseContext& ctx);
/// `/api/v1/incidents…` (viewer reads, operator writes).
void add_incident_routes(http::Router& router, ResponseContext& ctx);

}  // namespace peregrine::api
