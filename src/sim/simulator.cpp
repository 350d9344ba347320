#include "sim/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <unordered_set>

#include <mqtt/async_client.h>
#include <unistd.h>

#include <peregrine/mqtt/tcp_nodelay.hpp>

#include "sim/command_responder.hpp"
#include "sim/sensor_model.hpp"

namespace peregrine::sim {

std::atomic<bool> g_interrupted{false};

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// Completion of publishes, on Paho's threads: at QoS 1 success is the PUBACK,
// at QoS 0 the write to the socket.
class Delivery final : public ::mqtt::iaction_listener {
 public:
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::int64_t> inflight{0};

  void on_success(const ::mqtt::token&) override {
    ok.fetch_add(1, std::memory_order_relaxed);
    inflight.fetch_sub(1, std::memory_order_relaxed);
  }
  void on_failure(const ::mqtt::token&) override {
    failed.fetch_add(1, std::memory_order_relaxed);
    inflight.fetch_sub(1, std::memory_order_relaxed);
  }
};

// Epoch milliseconds with the microseconds as a fraction: 1763800000123.456,
// `backdate_us` before now.
void append_ts(std::string& out, std::int64_t backdate_us) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() -
            backdate_us;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(us / 1000),
                        static_cast<long long>(us % 1000));
  out.append(buf, static_cast<std::size_t>(n));
}

double seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

// Acks waiting for their simulated processing time, more than this are dropped.
constexpr std::size_t kMaxPendingAcks = 10000;
// Commands draw from their own stream so that telemetry stays as it was per seed.
constexpr std::uint64_t kCommandSeedSalt = 0x636f6d6d616e6473;  // "commands"

struct PendingAck {
  Steady::time_point due;
  std::string topic;
  std::string payload;
  bool ok;
  bool config = false;  ///< a config/applied reply, not a command ack
};

struct LaterFirst {
  bool operator()(const PendingAck& a, const PendingAck& b) const { return a.due > b.due; }
};

class Run {
 public:
  // Paho C caps queued publishes at maxBufferedMessages even while connected
  // (MQTTAsync_send, default 100): size it to the inflight window.
  explicit Run(const SimOptions& o)
      : o_(o),
        responder_(o.cmd_fail, o.cmd_silent, o.seed ^ kCommandSeedSalt),
        client_(o.url, o.client_id, ::mqtt::create_options(MQTTVERSION_3_1_1, o.inflight + 16)) {}

  int go() {
    if (!connect()) return 2;
    for (int i = 0; i < o_.devices; ++i) {
      auto id = device_id(o_.prefix, i + 1);
      telemetry_topics_.push_back("sensors/" + id + "/telemetry");
      status_topics_.push_back("sensors/" + id + "/status");
      ids_.insert(id);
    }
    subscribe_commands();
    for (const auto& m : o_.metrics) specs_.push_back(metric_spec(m));
    std::mt19937_64 rng(o_.seed);
    models_.reserve(static_cast<std::size_t>(o_.devices));
    for (int i = 0; i < o_.devices; ++i) models_.emplace_back(specs_, rng);
    seq_.assign(static_cast<std::size_t>(o_.devices), 0);

    publish_status("online");
    bool ok = publish_telemetry(rng);
    auto elapsed = seconds(end_ - start_);
    if (ok) ok = finish_commands();
    if (ok) {
      publish_status("offline");
      try {
        client_.disconnect(2s)->wait_for(3s);
      } catch (const ::mqtt::exception&) {
        // Already gone: nothing left to tell the broker.
      }
    }
    if (tty_) std::cout << '\n';
    auto sent = telemetry_.ok.load();
    std::printf("sent=%llu rate=%.1f/s commands=%llu acked=%llu failed=%llu silent=%llu "
                "malformed=%llu configs=%llu\n",
                static_cast<unsigned long long>(sent),
                elapsed > 0 ? static_cast<double>(sent) / elapsed : 0.0,
                static_cast<unsigned long long>(commands_.load()),
                static_cast<unsigned long long>(acks_ok_.ok.load()),
                static_cast<unsigned long long>(acks_error_.ok.load()),
                static_cast<unsigned long long>(silent_.load()),
                static_cast<unsigned long long>(malformed_.load()),
                static_cast<unsigned long long>(configs_.load()));
    if (telemetry_.failed.load() > 0) {
      std::fprintf(stderr, "peregrine-sim: %llu publish(es) failed\n",
                   static_cast<unsigned long long>(telemetry_.failed.load()));
    }
    if (auto n = acks_ok_.failed.load() + acks_error_.failed.load() + dropped_.load(); n > 0) {
      std::fprintf(stderr, "peregrine-sim: %llu command ack(s) not delivered\n",
                   static_cast<unsigned long long>(n));
    }
    return ok ? 0 : 3;
  }

 private:
  bool connect() {
    auto opts = ::mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .clean_session(true)
                    .keep_alive_interval(20s)
                    .connect_timeout(5s)
                    .max_inflight(o_.inflight + 16)
                    .finalize();
    if (o_.url.starts_with("ssl://")) opts.set_ssl(::mqtt::ssl_options());
    if (!o_.username.empty()) {
      opts.set_user_name(o_.username);
      opts.set_password(o_.password);
    }
    client_.set_connection_lost_handler([this](const std::string&) { lost_ = true; });
    client_.set_message_callback([this](::mqtt::const_message_ptr m) { on_message(*m); });
    try {
      if (client_.connect(opts)->wait_for(7s)) {
        // Acks and telemetry must not wait for delayed ACKs (Nagle).
        peregrine::mqtt::set_nodelay_to_port(peregrine::mqtt::broker_port(o_.url));
        return true;
      }
      std::fprintf(stderr, "peregrine-sim: connecting to %s timed out\n", o_.url.c_str());
    } catch (const ::mqtt::exception& e) {
      std::fprintf(stderr, "peregrine-sim: cannot connect to %s: %s\n", o_.url.c_str(), e.what());
    }
    return false;
  }

  std::int64_t inflight() const {
    return telemetry_.inflight.load() + status_.inflight.load() + acks_ok_.inflight.load() +
           acks_error_.inflight.load() + config_replies_.inflight.load();
  }

  // One wildcard subscription for the fleet (the gateway account may read
  // devices/+/commands); commands for ids we do not play are ignored. Without
  // it the run goes on: telemetry is the load generator's main job.
  void subscribe_commands() {
    for (const char* what : {"commands", "config"}) {
      auto filter = o_.devices == 1 ? "devices/" + *ids_.begin() + "/" + what
                                    : std::string("devices/+/") + what;
      try {
        if (client_.subscribe(filter, 1)->wait_for(5s)) continue;
        std::fprintf(stderr, "peregrine-sim: subscribing to %s timed out\n", filter.c_str());
      } catch (const ::mqtt::exception& e) {
        std::fprintf(stderr, "peregrine-sim: cannot subscribe to %s (%s); they go unanswered\n",
                     filter.c_str(), e.what());
      }
    }
  }

  // A retained configuration: applied (or refused) after the command delay.
  void on_config(const std::string& topic, const std::string& payload) {
    auto reply = config_reply(payload);
    if (!reply) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    configs_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(acks_mutex_);
    if (pending_acks_.size() >= kMaxPendingAcks) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_acks_.push({Steady::now() + CommandResponder::kMinDelay, topic + "/applied", std::move(*reply), true, true});
  }

  // On Paho's thread: decide and queue; the run's thread publishes when due.
  void on_message(const ::mqtt::message& m) {
    if (!accepting_) return;
    const auto& topic = m.get_topic();
    if (auto dev = config_topic_device(topic); dev && ids_.contains(std::string(*dev)))
      return on_config(topic, m.get_payload());
    auto device = command_topic_device(topic);
    if (!device || !ids_.contains(std::string(*device))) return;
    auto cmd = parse_command(m.get_payload());
    if (!cmd) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    commands_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(acks_mutex_);
    auto reply = responder_.respond(*cmd);
    if (reply.outcome == Outcome::silent) {
      silent_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (pending_acks_.size() >= kMaxPendingAcks) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_acks_.push({Steady::now() + reply.delay, topic + "/ack", std::move(reply.payload),
                        reply.outcome == Outcome::ok});
  }

  // Publishes the acks whose time has come; called from the telemetry loop.
  void serve_commands(Steady::time_point now) {
    std::vector<PendingAck> due;
    {
      std::lock_guard lock(acks_mutex_);
      while (!pending_acks_.empty() && pending_acks_.top().due <= now) {
        due.push_back(pending_acks_.top());
        pending_acks_.pop();
      }
    }
    for (const auto& a : due) {
      if (lost_ || !send(a.topic, a.payload, 1, false, a.config ? config_replies_ : a.ok ? acks_ok_ : acks_error_)) return;
    }
  }

  // After the telemetry: no new commands, the queued acks go out when due.
  bool finish_commands() {
    accepting_ = false;
    auto end = Steady::now() + CommandResponder::kMaxDelay + 1s;
    while (!lost_ && Steady::now() < end) {
      serve_commands(Steady::now());
      {
        std::lock_guard lock(acks_mutex_);
        if (pending_acks_.empty()) break;
      }
      std::this_thread::sleep_for(5ms);
    }
    drain(10s);
    return !lost_;
  }

  bool send(const std::string& topic, const std::string& payload, int qos, bool retained,
            Delivery& d) {
    d.inflight.fetch_add(1, std::memory_order_relaxed);
    try {
      client_.publish(topic, payload.data(), payload.size(), qos, retained, nullptr, d);
      return true;
    } catch (const ::mqtt::exception& e) {
      d.inflight.fetch_sub(1, std::memory_order_relaxed);
      d.failed.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "peregrine-sim: publish failed: %s\n", e.what());
      lost_ = true;
      return false;
    }
  }

  bool drain(std::chrono::seconds limit) {
    auto end = Steady::now() + limit;
    while (inflight() > 0 && !lost_ && Steady::now() < end) std::this_thread::sleep_for(1ms);
    return inflight() == 0;
  }

  void publish_status(const std::string& state) {
    for (const auto& topic : status_topics_) {
      while (inflight() >= o_.inflight && !lost_) std::this_thread::sleep_for(200us);
      if (lost_ || !send(topic, state, 1, true, status_)) return;
    }
    drain(10s);
  }

  bool publish_telemetry(std::mt19937_64& rng) {
    // 10 ms worth (at least a few) absorbs sleep overshoot without bursting.
    const double burst = std::max(4.0, o_.rate * 0.01);
    const auto deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                              std::chrono::duration<double>(o_.duration_s));
    std::uint64_t issued = 0;
    std::size_t next_device = 0;
    double tokens = 1;
    std::string payload;
    const auto backdate_us = static_cast<std::int64_t>(o_.backdate_s * 1e6);
    start_ = Steady::now();
    auto last = start_;
    auto progress_at = start_;
    std::uint64_t progress_sent = 0;

    while (!lost_ && !g_interrupted) {
      auto now = Steady::now();
      if (o_.duration_s > 0 && now >= deadline) break;
      serve_commands(now);
      if (o_.count > 0 && issued >= o_.count) break;
      tokens = std::min(burst, tokens + seconds(now - last) * o_.rate);
      last = now;
      if (tty_ && now - progress_at >= 500ms) {
        auto sent = telemetry_.ok.load();
        std::printf("\r sent=%llu rate=%.1f/s inflight=%lld commands=%llu   ",
                    static_cast<unsigned long long>(sent),
                    static_cast<double>(sent - progress_sent) / seconds(now - progress_at),
                    static_cast<long long>(inflight()),
                    static_cast<unsigned long long>(commands_.load()));
        std::fflush(stdout);
        progress_sent = sent;
        progress_at = now;
      }

      auto room = o_.inflight - inflight();
      auto n = static_cast<std::int64_t>(tokens);
      n = std::min<std::int64_t>(n, room);
      if (o_.count > 0) n = std::min<std::int64_t>(n, static_cast<std::int64_t>(o_.count - issued));
      if (n <= 0) {
        // Either the window is full (wait for acks) or the next token is due.
        auto wait = room <= 0 ? 0.0002 : std::min(0.005, (1.0 - tokens) / o_.rate);
        std::this_thread::sleep_for(std::chrono::duration<double>(std::max(wait, 0.00005)));
        continue;
      }
      for (std::int64_t i = 0; i < n; ++i) {
        auto d = next_device;
        next_device = (next_device + 1) % models_.size();
        payload.assign("{\"ts\":");
        append_ts(payload, backdate_us);
        payload += ",\"seq\":";
        payload += std::to_string(++seq_[d]);
        models_[d].step_into(payload, rng);
        payload += '}';
        if (!send(telemetry_topics_[d], payload, o_.qos, false, telemetry_)) break;
        ++issued;
      }
      tokens -= static_cast<double>(n);
    }
    drain(10s);
    end_ = Steady::now();
    if (lost_) std::fprintf(stderr, "peregrine-sim: connection to %s lost\n", o_.url.c_str());
    return !lost_;
  }

  const SimOptions& o_;
  // Listeners and what the callbacks touch before the client: destroying it
  // fails pending tokens through them.
  Delivery telemetry_;
  Delivery status_;
  Delivery acks_ok_;     ///< its ok: acked "ok"
  Delivery acks_error_;  ///< its ok: acked "error"
  Delivery config_replies_;  ///< devices/{id}/config/applied
  std::atomic<bool> lost_{false};
  std::atomic<bool> accepting_{true};
  std::atomic<std::uint64_t> commands_{0};
  std::atomic<std::uint64_t> configs_{0};
  std::atomic<std::uint64_t> silent_{0};
  std::atomic<std::uint64_t> malformed_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::unordered_set<std::string> ids_;  ///< filled before subscribing, then read-only
  std::mutex acks_mutex_;                ///< guards responder_ and pending_acks_
  CommandResponder responder_;
  std::priority_queue<PendingAck, std::vector<PendingAck>, LaterFirst> pending_acks_;
  ::mqtt::async_client client_;
  bool tty_ = ::isatty(STDOUT_FILENO) != 0;
  std::vector<MetricSpec> specs_;
  std::vector<SensorModel> models_;
  std::vector<std::string> telemetry_topics_;
  std::vector<std::string> status_topics_;
  std::vector<std::int64_t> seq_;
  Steady::time_point start_{};
  Steady::time_point end_{};
};

}  // namespace

std::string device_id(const std::string& prefix, int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", index);
  return prefix + buf;
}

int run_simulation(const SimOptions& opts) {
  try {
    Run run(opts);
    return run.go();
  } catch (const ::mqtt::exception& e) {
    std::fprintf(stderr, "peregrine-sim: %s\n", e.what());
    return 2;
  }
}

}  // namespace peregrine::sim
