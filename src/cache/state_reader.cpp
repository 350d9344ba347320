#include <peregrine/cache/live_state.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

#include <peregrine/core/offload.hpp>
#include <peregrine/core/time_format.hpp>

#include "cache/redis_connection.hpp"

namespace peregrine::cache {
namespace {

// Stored ts are epoch milliseconds, possibly fractional (µs precision).
core::Micros ms_to_us(double ms) { return static_cast<core::Micros>(std::llround(ms * 1000.0)); }

std::optional<double> parse_ms(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

struct StateReader::Impl {
  explicit Impl(RedisTarget t) : target(std::move(t)) {}
  RedisTarget target;
  boost::asio::thread_pool thread{1};
  std::mutex mu;
  detail::ContextPtr ctx;

  // HGETALL with one reconnect attempt: a stale connection (Redis restarted
  // since the last call) should not fail the first request after it.
  detail::ReplyPtr hgetall(const std::string& key) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!ctx) {
        std::string error;
        ctx = detail::connect(target, error);
        if (!ctx) throw std::runtime_error("redis unreachable: " + error);
      }
      auto r = detail::command(ctx.get(), {"HGETALL", key});
      if (r && r->type == REDIS_REPLY_ARRAY) return r;
      if (r && r->type == REDIS_REPLY_ERROR) {
        throw std::runtime_error("redis: " + std::string(r->str, r->len));
      }
      ctx.reset();
    }
    throw std::runtime_error("redis unreachable");
  }
};

StateReader::StateReader(RedisTarget target) : impl_(std::make_unique<Impl>(std::move(target))) {}
StateReader::~StateReader() { impl_->thread.join(); }

boost::asio::awaitable<nlohmann::json> StateReader::read(std::string device) {
  struct Job {
    StateReader* reader;
    const std::string* device;
    nlohmann::json operator()() const { return reader->device_state(*device); }
  };
  co_return co_await core::offload<nlohmann::json>(impl_->thread, Job{this, &device});
}

nlohmann::json StateReader::device_state(std::string_view device) {
  std::lock_guard lk(impl_->mu);
  auto values = impl_->hgetall("peregrine:state:" + std::string(device));
  auto presence = impl_->hgetall("peregrine:presence:" + std::string(device));

  nlohmann::json metrics = nlohmann::json::object();
  for (std::size_t i = 0; i + 1 < values->elements; i += 2) {
    const redisReply* f = values->element[i];
    const redisReply* v = values->element[i + 1];
    auto doc = nlohmann::json::parse(v->str, v->str + v->len, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("ts")) continue;
    const auto& ts = doc["ts"];
    if (!ts.is_number()) continue;
    nlohmann::json entry;
    entry["value"] = doc.contains("v") ? doc["v"] : nlohmann::json();
    entry["ts"] = core::format_rfc3339(ms_to_us(ts.get<double>()));
    metrics[std::string(f->str, f->len)] = std::move(entry);
  }

  nlohmann::json out;
  out["metrics"] = std::move(metrics);
  out["online"] = false;
  out["last_seen"] = nullptr;
  for (std::size_t i = 0; i + 1 < presence->elements; i += 2) {
    std::string_view field(presence->element[i]->str, presence->element[i]->len);
    std::string_view val(presence->element[i + 1]->str, presence->element[i + 1]->len);
    if (field == "online") {
      out["online"] = val == "1";
    } else if (field == "last_seen") {
      if (auto ms = parse_ms(val)) out["last_seen"] = core::format_rfc3339(ms_to_us(*ms));
    }
  }
  return out;
}

}  // namespace peregrine::cache
