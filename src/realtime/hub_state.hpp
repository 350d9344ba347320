#pragma once
/// Hub internals shared by hub.cpp and the sessions: subscription indexes per
/// tenant, the alert replay ring and the seq counter. Loop thread only.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio/io_context.hpp>

#include <peregrine/metrics/registry.hpp>
#include <peregrine/realtime/hub.hpp>

#include "realtime/out_queue.hpp"

namespace peregrine::realtime {

using SessionSet = std::unordered_set<Session*>;

struct TenantIndex {
  std::unordered_map<std::string, SessionSet, StringHash, std::equal_to<>> by_device;
  SessionSet all_readings;
  SessionSet alerts;
  SessionSet devices;
  SessionSet jobs;
  SessionSet commands;
  SessionSet incidents;
  std::deque<std::pair<std::uint64_t, Text>> alert_ring;  // oldest first
  std::uint64_t evicted_seq = 0;  // seq of the newest alert pushed out of the ring
};

struct Hub::State {
  State(boost::asio::io_context& ioc, HubOptions opts, metrics::Registry& metrics);

  std::uint64_t next_seq() noexcept { return ++seq; }
  TenantIndex& tenant(core::TenantId id) { return tenants[id]; }

  boost::asio::io_context& ioc;
  HubOptions opts;
  WsAuthenticator authenticate;  // empty: every session is kDefaultTenant's
  metrics::Gauge& connections;
  metrics::Counter& dropped;
  metrics::Counter& slow_closes;
  // Seeded with the wall clock (µs) so a client's seq from before a restart
  // is older than anything this process can replay: it gets a resync.
  std::uint64_t first_seq;
  std::uint64_t seq;
  std::unordered_map<core::TenantId, TenantIndex> tenants;
  SessionSet sessions;
};

}  // namespace peregrine::realtime
