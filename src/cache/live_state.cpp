#include <peregrine/cache/live_state.hpp>

#include <charconv>
#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include <peregrine/core/worker_thread.hpp>

#include "cache/redis_connection.hpp"

namespace peregrine::cache {
namespace {

constexpr std::size_t kChunk = 1000;
constexpr std::chrono::milliseconds kBackoffMin{100};
constexpr std::chrono::milliseconds kBackoffMax{5000};

struct Value {
  double v = 0;
  core::Micros ts_us = 0;
};
struct Presence {
  bool online = false;
  core::Micros last_seen_us = 0;
};
struct DeviceState {
  core::TenantId tenant = core::kDefaultTenant;
  std::map<std::string, Value, std::less<>> metrics;
  std::optional<Presence> presence;
};
using StateMap = std::map<std::string, DeviceState, std::less<>>;

DeviceState& device_entry(StateMap& m, core::TenantId tenant, std::string_view device) {
  auto it = m.find(device);
  if (it == m.end()) it = m.emplace(std::string(device), DeviceState{}).first;
  it->second.tenant = tenant;
  return it->second;
}

// Epoch milliseconds, with a fractional part only when the µs need one.
void append_ms(std::string& out, core::Micros us) {
  char buf[32];
  auto ms = us / 1000;
  auto frac = us % 1000;
  if (frac < 0) {
    ms -= 1;
    frac += 1000;
  }
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, ms);
  out.append(buf, p);
  if (frac != 0) {
    char f[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                 static_cast<char>('0' + frac % 10), 0};
    int len = 3;
    while (len > 1 && f[len - 1] == '0') --len;
    out.push_back('.');
    out.append(f, static_cast<std::size_t>(len));
  }
}

std::string encode_value(const Value& v) {
  std::string out = R"({"v":)";
  if (std::isfinite(v.v)) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v.v);
    out.append(buf, p);
  } else {
    out += "null";  // JSON has no NaN/Inf
  }
  out += R"(,"ts":)";
  append_ms(out, v.ts_us);
  out.push_back('}');
  return out;
}

// Writes `batch` (or the whole state) for the devices in it. `sadd_all`
// re-adds every device to its tenant set; otherwise only those in `fresh`.
bool write_devices(detail::Pipeline& p, const StateMap& batch,
                   const std::set<std::string, std::less<>>* fresh) {
  std::vector<std::string> owned;
  std::vector<std::string_view> args;
  for (const auto& [device, st] : batch) {
    if (!st.metrics.empty()) {
      owned.clear();
      owned.reserve(st.metrics.size() + 1);
      owned.push_back("peregrine:state:" + device);
      args.assign({"HSET", owned.front()});
      for (const auto& [metric, v] : st.metrics) {
        owned.push_back(encode_value(v));
        args.push_back(metric);
        args.push_back(owned.back());
      }
      if (!p.append(args)) return false;
    }
    if (st.presence) {
      std::string key = "peregrine:presence:" + device;
      std::string seen;
      append_ms(seen, st.presence->last_seen_us);
      if (!p.append({"HSET", key, "online", st.presence->online ? "1" : "0", "last_seen", seen})) {
        return false;
      }
    }
    if (!fresh || fresh->contains(device)) {
      std::string key = "peregrine:tenant:" + std::to_string(st.tenant) + ":devices";
      if (!p.append({"SADD", key, device})) return false;
    }
  }
  return p.drain();
}

}  // namespace

struct LiveState::Impl {
  Impl(RedisTarget t, std::chrono::milliseconds every, metrics::Registry& m)
      : target(std::move(t)),
        flush_every(every),
        connected_gauge(m.gauge("peregrine_redis_connected", "1 while Redis is connected")),
        writes(m.counter("peregrine_redis_writes_total",
                         "Redis commands written by the live-state writer")),
        errors(m.counter("peregrine_redis_errors_total", "Redis connection and command errors")) {}

  RedisTarget target;
  std::chrono::milliseconds flush_every;
  metrics::Gauge& connected_gauge;
  metrics::Counter& writes;
  metrics::Counter& errors;

  core::WorkerThread worker;  // its mutex guards pending
  StateMap pending;

  // Owned by the Redis thread only.
  StateMap state;
  detail::ContextPtr ctx;

  // Merges `batch` into the full copy; notes devices new to it (or moved
  // to another tenant) so their tenant set membership gets written.
  void apply(const StateMap& batch, std::set<std::string, std::less<>>& fresh) {
    for (const auto& [device, b] : batch) {
      auto it = state.find(device);
      if (it == state.end() || it->second.tenant != b.tenant) fresh.insert(device);
      DeviceState& st = device_entry(state, b.tenant, device);
      for (const auto& [metric, v] : b.metrics) st.metrics.insert_or_assign(metric, v);
      if (b.presence) st.presence = b.presence;
    }
  }

  bool write(const StateMap& batch, const std::set<std::string, std::less<>>* fresh) {
    detail::Pipeline p(ctx.get(), kChunk);
    bool ok = write_devices(p, batch, fresh);
    writes.inc(p.replies_ok());
    if (p.replies_error() > 0) {
      errors.inc(p.replies_error());
      spdlog::warn("redis: {} command(s) failed: {}", p.replies_error(), p.error());
    }
    if (!ok) {
      errors.inc();
      spdlog::warn("redis: connection lost: {}", p.error());
    }
    return ok;
  }
};

LiveState::LiveState(RedisTarget target, std::chrono::milliseconds flush_every,
                     metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(target), flush_every, metrics)) {}

LiveState::~LiveState() { stop(); }

void LiveState::start() {
  impl_->worker.start([this] { run(); });
}

void LiveState::stop() { impl_->worker.stop(); }

void LiveState::set_value(core::TenantId tenant, std::string_view device, std::string_view metric,
                          double value, core::Micros ts_us) {
  std::lock_guard lk(impl_->worker.mutex());
  DeviceState& st = device_entry(impl_->pending, tenant, device);
  auto it = st.metrics.find(metric);
  if (it == st.metrics.end()) it = st.metrics.emplace(std::string(metric), Value{}).first;
  it->second = Value{value, ts_us};
}

void LiveState::set_presence(core::TenantId tenant, std::string_view device, bool online,
                             core::Micros last_seen_us) {
  std::lock_guard lk(impl_->worker.mutex());
  device_entry(impl_->pending, tenant, device).presence = Presence{online, last_seen_us};
}

void LiveState::run() {
  Impl& s = *impl_;
  using Clock = std::chrono::steady_clock;
  core::Backoff backoff(kBackoffMin, kBackoffMax);
  auto next_connect = Clock::now();
  auto set_connected = [&](bool up) {
    connected_.store(up, std::memory_order_relaxed);
    s.connected_gauge.set(up ? 1 : 0);
  };
  auto disconnect = [&] {
    s.ctx.reset();
    set_connected(false);
    next_connect = Clock::now() + backoff.current();
    backoff.failure();
  };

  bool last_round = false;
  while (!last_round) {
    StateMap batch;
    {
      std::unique_lock lk(s.worker.mutex());
      s.worker.wait_for(lk, s.flush_every, [] { return false; });
      last_round = s.worker.stop_requested_locked();
      batch.swap(s.pending);
    }
    std::set<std::string, std::less<>> fresh;
    s.apply(batch, fresh);

    if (!s.ctx && !last_round && Clock::now() >= next_connect) {
      std::string error;
      s.ctx = detail::connect(s.target, error);
      if (!s.ctx) {
        s.errors.inc();
        spdlog::warn("redis: connect to {}:{} failed: {}", s.target.host, s.target.port, error);
        disconnect();
        continue;
      }
      // While Redis was away (or after it restarted empty) writes were only
      // kept in `state`: re-write all of it, then go back to deltas.
      if (s.write(s.state, nullptr)) {
        backoff.success();
        set_connected(true);
        spdlog::info("redis: connected to {}:{}, {} device(s) re-written", s.target.host,
                     s.target.port, s.state.size());
      } else {
        disconnect();
      }
      continue;  // the rewrite covered this batch
    }
    if (s.ctx && !batch.empty() && !s.write(batch, &fresh)) disconnect();
  }
  s.ctx.reset();
  set_connected(false);
}

}  // namespace peregrine::cache
