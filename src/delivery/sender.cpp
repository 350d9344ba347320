#include <peregrine/delivery/sender.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <peregrine/core/clock.hpp>
#include <peregrine/storage/outbox_store.hpp>

#include "delivery/transfer.hpp"

namespace peregrine::delivery {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

using detail::build;
using detail::classify;
using detail::global_init;
using detail::Transfer;

}  // namespace


Outcome send_now(const std::string& type, const json& config, const json& secrets, const std::string& to,
                 const std::string& payload, const std::string& delivery_id, milliseconds timeout) {
  const auto t = build(type, config, secrets, to, payload, delivery_id, timeout);
  if (!t->setup_error.empty()) return Outcome{Outcome::Kind::failed, 0, milliseconds(0), t->setup_error};
  return classify(*t, curl_easy_perform(t->easy));
}

milliseconds Sender::backoff(const SenderOptions& opts, std::int32_t attempts, double jitter01) {
  const int doublings = std::clamp(attempts - 1, 0, 30);
  const double base = static_cast<double>(opts.retry_base.count()) * static_cast<double>(1LL << doublings);
  const double capped = std::min(base, static_cast<double>(opts.retry_max.count()));
  return milliseconds(static_cast<long long>(capped * (0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0))));
}

struct Sender::Impl {
  Impl(storage::PgTarget target, metrics::Registry& m, SenderOptions o)
      : store(std::move(target)),
        metrics(m),
        opts(o),
        latency(m.histogram("peregrine_notification_latency_seconds",
                            "Alert opened to its first notification accepted by the provider",
                            metrics::exponential_buckets(1e-3, 2, 18))),
        rng(std::random_device{}()) {
    global_init();
    multi = curl_multi_init();
    for (const char* type : {"webhook", "email", "sms", "voice"})
      for (const char* status : {"sent", "retry", "failed"}) count(type, status, 0);
  }
  ~Impl() {
    if (multi) curl_multi_cleanup(multi);
  }

  void count(const std::string& type, const char* status, std::uint64_t n = 1) {
    metrics
        .counter("peregrine_notifications_total",
                 "Notification attempts by channel type and outcome: sent (accepted by the provider), "
                 "retry (to be tried again), failed (given up)",
                 {{"type", type}, {"status", status}})
        .inc(n);
  }

  void run();
  void claim(std::chrono::steady_clock::time_point now);
  void start_transfer(storage::Delivery d);
  void finish(CURL* easy, CURLcode rc);
  void record(const storage::Delivery& d, const Outcome& out);

  struct Flight {
    std::unique_ptr<Transfer> transfer;
    storage::Delivery delivery;
  };

  storage::OutboxStore store;
  metrics::Registry& metrics;
  SenderOptions opts;
  metrics::Histogram& latency;
  std::mt19937_64 rng;
  CURLM* multi = nullptr;
  std::map<CURL*, Flight> in_flight;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> kicked{true};
  std::chrono::steady_clock::time_point stop_deadline;
  std::chrono::steady_clock::time_point next_poll{};
  std::chrono::steady_clock::time_point db_retry_at{};
};

void Sender::Impl::start_transfer(storage::Delivery d) {
  if (d.channel_id == 0) {
    record(d, Outcome{Outcome::Kind::failed, 0, milliseconds(0), "the channel was deleted"});
    return;
  }
  auto t = build(d.channel_type, d.config, d.secrets, d.to, d.payload, d.id, opts.request_timeout);
  if (!t->setup_error.empty()) {
    record(d, Outcome{Outcome::Kind::failed, 0, milliseconds(0), t->setup_error});
    return;
  }
  CURL* easy = t->easy;
  curl_multi_add_handle(multi, easy);
  in_flight.emplace(easy, Flight{std::move(t), std::move(d)});
}

void Sender::Impl::record(const storage::Delivery& d, const Outcome& out) {
  try {
    if (out.kind == Outcome::Kind::sent) {
      store.sent(d, opts.max_reminders);
      count(d.channel_type, "sent");
      if (d.event == "alert.opened" && d.reminder == 0 && !d.conditional) {
        const double s = static_cast<double>(core::SystemClock().now_us() - d.opened_at) * 1e-6;
        latency.observe(std::max(0.0, s));
      }
      spdlog::debug("notification {} ({} of alert {}) sent: {}", d.id, d.channel_type, d.alert_id, out.detail);
      return;
    }
    if (out.kind == Outcome::Kind::retry && d.attempts < opts.max_attempts) {
      const milliseconds after =
          out.retry_after.count() > 0
              ? std::min(out.retry_after, opts.retry_max)
              : Sender::backoff(opts, d.attempts, std::uniform_real_distribution<double>(0, 1)(rng));
      store.retry(d, after, out.detail);
      count(d.channel_type, "retry");
      spdlog::info("notification {} ({} of alert {}) attempt {} failed ({}); retry in {} ms", d.id,
                   d.channel_type, d.alert_id, d.attempts, out.detail, after.count());
      return;
    }
    const std::string why = out.kind == Outcome::Kind::retry
                                ? out.detail + " (gave up after " + std::to_string(d.attempts) + " attempts)"
                                : out.detail;
    store.failed(d, why);
    count(d.channel_type, "failed");
    spdlog::warn("notification {} ({} of alert {}) failed: {}", d.id, d.channel_type, d.alert_id, why);
  } catch (const std::exception& e) {
    // The row stays claimed: it is tried again when its lease ends.
    spdlog::warn("notification {}: cannot record the outcome ({}); retried after its lease", d.id, e.what());
    store.disconnect();
  }
}

void Sender::Impl::finish(CURL* easy, CURLcode rc) {
  auto it = in_flight.find(easy);
  if (it == in_flight.end()) return;
  curl_multi_remove_handle(multi, easy);
  const Outcome out = classify(*it->second.transfer, rc);
  const storage::Delivery d = std::move(it->second.delivery);
  in_flight.erase(it);
  record(d, out);
}

void Sender::Impl::claim(std::chrono::steady_clock::time_point now) {
  const std::size_t room = opts.max_in_flight - in_flight.size();
  try {
    std::vector<storage::Delivery> due = store.claim(room, opts.lease);
    const bool more = due.size() == room;
    for (auto& d : due) start_transfer(std::move(d));
    next_poll = now + opts.poll;
    if (more) {
      next_poll = now;
    } else {
      const core::Micros at = store.next_due();
      const core::Micros wait = at - core::SystemClock().now_us();
      if (wait < std::chrono::duration_cast<std::chrono::microseconds>(opts.poll).count())
        next_poll = now + std::chrono::microseconds(std::max<core::Micros>(wait, 0));
    }
  } catch (const std::exception& e) {
    spdlog::warn("notifications: PostgreSQL unavailable ({}); retrying", e.what());
    store.disconnect();
    db_retry_at = now + std::chrono::seconds(2);
  }
}

void Sender::Impl::run() {
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (stopping.load()) {
      if (in_flight.empty() || now >= stop_deadline) break;
    } else if (in_flight.size() < opts.max_in_flight && now >= db_retry_at &&
               (kicked.exchange(false) || now >= next_poll)) {
      claim(now);
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
    }
    auto wait = std::chrono::duration_cast<milliseconds>(
        std::max(next_poll, db_retry_at) - std::chrono::steady_clock::now());
    if (stopping.load()) wait = milliseconds(50);
    wait = std::clamp(wait, milliseconds(0), milliseconds(1000));
    // A kick is served at once, when it can be (room for transfers, PostgreSQL not backing off).
    if (kicked.load() && !stopping.load() && in_flight.size() < opts.max_in_flight &&
        std::chrono::steady_clock::now() >= db_retry_at)
      wait = milliseconds(0);
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
  std::vector<std::string> released;
  for (auto& [easy, flight] : in_flight) {
    curl_multi_remove_handle(multi, easy);
    released.push_back(flight.delivery.id);
  }
  in_flight.clear();
  try {
    store.release(released);
  } catch (const std::exception& e) {
    spdlog::warn("notifications: {} deliveries in flight at stop stay leased ({})", released.size(), e.what());
  }
  if (!released.empty())
    spdlog::info("notifications: {} deliveries in flight at stop will be sent after the restart",
                 released.size());
}

Sender::Sender(storage::PgTarget target, metrics::Registry& metrics, SenderOptions opts)
    : impl_(std::make_unique<Impl>(std::move(target), metrics, opts)) {}

Sender::~Sender() { stop(); }

void Sender::start() {
  impl_->thread = std::thread([this] { impl_->run(); });
}

void Sender::stop(milliseconds deadline) {
  if (!impl_->thread.joinable()) return;
  impl_->stop_deadline = std::chrono::steady_clock::now() + deadline;
  impl_->stopping.store(true);
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
}

void Sender::kick() noexcept {
  impl_->kicked.store(true);
  if (impl_->multi) curl_multi_wakeup(impl_->multi);
}

}  // namespace peregrine::delivery
