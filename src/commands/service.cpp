#include <peregrine/commands/service.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

#include <peregrine/core/ids.hpp>

namespace peregrine::commands {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxDetail = 1000;
constexpr const char* kAckResults[] = {"accepted", "malformed", "unknown_command", "wrong_device",
                                       "late", "duplicate"};
enum AckResult { accepted, malformed, unknown_command, wrong_device, late, duplicate };

// A rule action's command has one deadline from its creation, sent at once
// or late: the closed loop must close on time. Others count the ack timeout
// from when they were sent.
core::Micros deadline_of(const Command& c) {
  if (c.alert_id) return c.created_at + c.ack_timeout_s * 1'000'000LL;
  if (c.status == Status::sent && c.sent_at) return *c.sent_at + c.ack_timeout_s * 1'000'000LL;
  return c.expires_at;
}

}  // namespace

Service::Service(boost::asio::io_context& ioc, const core::Clock& clock, devices::Registry& registry,
                 CommandLog& log, CommandPublisher& publisher, CommandFrames& frames,
                 metrics::Registry& metrics, ServiceOptions opts)
    : ioc_(ioc),
      clock_(clock),
      registry_(registry),
      log_(log),
      publisher_(publisher),
      frames_(frames),
      opts_(opts),
      deadline_(ioc, [this] { tick(clock_.now_us()); }),
      action_latency_(metrics.histogram(
          "peregrine_action_latency_seconds",
          "Alert opened to its rule action's command handed to the MQTT client",
          metrics::exponential_buckets(50e-6, 2, 16))),
      pending_gauge_(metrics.gauge("peregrine_commands_pending", "Commands queued or sent, not yet final")) {
  for (std::size_t i = 0; i < 7; ++i) {
    by_status_[i] = &metrics.counter("peregrine_commands_total", "Commands entering each status",
                                     {{"status", std::string(to_string(static_cast<Status>(i)))}});
  }
  for (std::size_t i = 0; i < std::size(kAckResults); ++i) {
    acks_[i] = &metrics.counter("peregrine_command_acks_total",
                                "Command acks from devices: accepted, late or duplicate (recorded, "
                                "status unchanged), or rejected by reason",
                                {{"result", kAckResults[i]}});
  }
}

Service::~Service() = default;

void Service::add_observer(CommandObserver& observer) { observers_.push_back(&observer); }

void Service::start(std::vector<Command> pending) {
  running_ = true;
  for (Command& c : pending) {
    if (is_final(c.status)) continue;
    Pending& p = pending_[c.id];
    p.cmd = std::move(c);
    p.cancelled = std::make_shared<std::atomic<bool>>(false);
    if (p.cmd.status == Status::queued) {
      const devices::Device* dev = registry_.find(p.cmd.device);
      if (dev && dev->rec.online) {
        send(p, true, 0);
      } else {
        queued_by_device_[p.cmd.device].push_back(p.cmd.id);
      }
    }
    schedule(p.cmd);
  }
  pending_gauge_.set(static_cast<double>(pending_.size()));
  if (!pending_.empty()) spdlog::info("commands: {} pending reinstated", pending_.size());
  rearm();
}

void Service::stop() {
  running_ = false;
  deadline_.cancel();
}

std::optional<Command> Service::create(NewCommand nc) {
  if (pending_.size() >= opts_.max_pending) return std::nullopt;
  const devices::Device* dev = registry_.find(nc.device);
  if (!dev || dev->rec.tenant != nc.tenant) return std::nullopt;
  const core::Micros now = clock_.now_us();
  Command c;
  c.id = core::random_uuid();
  c.tenant = nc.tenant;
  c.device = std::move(nc.device);
  c.name = std::move(nc.name);
  c.params = std::move(nc.params);
  c.created_by = std::move(nc.created_by);
  c.created_at = now;
  c.ack_timeout_s = nc.ack_timeout_s;
  c.expires_at = now + nc.expires_s * 1'000'000LL;
  c.alert_id = nc.alert_id;
  c.run_id = std::move(nc.run_id);
  c.alert_device = std::move(nc.alert_device);
  c.on_timeout = std::move(nc.on_timeout);
  c.job_id = nc.job_id;
  const std::string id = c.id;
  Pending& p = pending_[id];
  p.cmd = std::move(c);
  p.cancelled = std::make_shared<std::atomic<bool>>(false);
  pending_gauge_.set(static_cast<double>(pending_.size()));
  if (dev->rec.online) {
    send(p, false, nc.opened_ns);
  } else {
    transition(p.cmd, "device offline: waiting for it to come online");
    queued_by_device_[p.cmd.device].push_back(id);
    schedule(p.cmd);
    rearm();
  }
  return pending_.at(id).cmd;
}

void Service::send(Pending& p, bool deferred, std::int64_t opened_ns) {
  Command& c = p.cmd;
  c.status = Status::sent;
  c.sent_at = clock_.now_us();
  const std::string topic = command_topic(c.device);
  if (deferred) {
    // Queued before: its row must say `sent` before the device can see it.
    transition(c, "device online: published once this status is stored");
    log_.publish_after_save(topic, device_payload(c), p.cancelled);
  } else {
    // New: no row exists yet that a restart could send again.
    std::function<void()> on_published;
    if (opened_ns != 0) {
      on_published = [h = &action_latency_, opened_ns] {
        h->observe(static_cast<double>(core::steady_ns() - opened_ns) * 1e-9);
      };
    }
    const bool handed = publisher_.publish(topic, device_payload(c), std::move(on_published));
    transition(c, handed ? "published to the broker" : "the MQTT client's queue is full: not published");
  }
  schedule(c);
  rearm();
}

void Service::finish(Pending& p, Status status, std::string detail) {
  Command c = std::move(p.cmd);
  p.cancelled->store(true);
  pending_.erase(c.id);
  pending_gauge_.set(static_cast<double>(pending_.size()));
  if (c.status == Status::queued) {
    auto it = queued_by_device_.find(c.device);
    if (it != queued_by_device_.end()) {
      std::erase(it->second, c.id);
      if (it->second.empty()) queued_by_device_.erase(it);
    }
  }
  c.status = status;
  c.finished_at = clock_.now_us();
  if (detail.size() > kMaxDetail) detail.resize(kMaxDetail);
  c.detail = detail;
  transition(c, detail);
  remember(std::move(c));
}

void Service::transition(const Command& c, std::string detail) {
  counter(c.status).inc();
  log_.save(c);
  log_.save(CommandEvent{c.id, std::string(to_string(c.status)), clock_.now_us(), std::move(detail)});
  frames_.publish(c);
  for (CommandObserver* o : observers_) o->on_command(c);
}

void Service::remember(Command c) {
  std::string id = c.id;
  recent_order_.push_back(id);
  recent_.insert_or_assign(std::move(id), std::move(c));
  while (recent_.size() > opts_.recent_kept && !recent_order_.empty()) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void Service::schedule(const Command& c) { deadlines_.push(Due{deadline_of(c), c.id}); }

void Service::rearm() {
  if (!running_ || deadlines_.empty()) return;
  const core::Micros next = deadlines_.top().at;
  if (armed_ && next >= armed_at_) return;
  armed_ = true;
  armed_at_ = next;
  deadline_.arm_after(std::chrono::microseconds(std::max<core::Micros>(0, next - clock_.now_us())));
}

std::size_t Service::tick(core::Micros now) {
  armed_ = false;
  std::size_t ended = 0;
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const std::string id = deadlines_.top().id;
    deadlines_.pop();
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // ended meanwhile
    const core::Micros due = deadline_of(it->second.cmd);
    if (due > now) continue;  // sent since it was queued: a later entry exists
    if (it->second.cmd.status == Status::sent) {
      finish(it->second, Status::timed_out,
             "no ack within " + std::to_string(it->second.cmd.ack_timeout_s) + " s");
    } else {
      finish(it->second, Status::expired, "the device did not come online before the command expired");
    }
    ++ended;
  }
  rearm();
  return ended;
}

AckReject Service::on_ack(const devices::Device& device, std::string_view payload) {
  const json j = json::parse(payload, nullptr, false);
  const auto id = j.is_object() ? j.find("id") : j.end();
  const auto st = j.is_object() ? j.find("status") : j.end();
  const bool well_formed = j.is_object() && id != j.end() && id->is_string() &&
                           st != j.end() && st->is_string() &&
                           (*st == "ok" || *st == "error") &&
                           (!j.contains("detail") || j["detail"].is_string() || j["detail"].is_null());
  if (!well_formed) {
    acks_[malformed]->inc();
    return AckReject::malformed;
  }
  const std::string& cid = id->get_ref<const std::string&>();
  const Status status = *st == "ok" ? Status::ok : Status::error;
  std::string detail = j.contains("detail") && j["detail"].is_string() ? j["detail"].get<std::string>() : "";
  if (auto it = pending_.find(cid); it != pending_.end()) {
    if (it->second.cmd.device != device.rec.id) {
      acks_[wrong_device]->inc();
      spdlog::warn("commands: device '{}' acked command {} of device '{}': rejected", device.rec.id, cid,
                   it->second.cmd.device);
      return AckReject::wrong_device;
    }
    acks_[accepted]->inc();
    finish(it->second, status, std::move(detail));
    return AckReject::none;
  }
  const auto r = recent_.find(cid);
  if (r == recent_.end()) {
    acks_[unknown_command]->inc();
    return AckReject::unknown_command;
  }
  if (r->second.device != device.rec.id) {
    acks_[wrong_device]->inc();
    return AckReject::wrong_device;
  }
  // A final status never changes; the ack is kept in the command's history.
  const bool was_acked = r->second.status == Status::ok || r->second.status == Status::error;
  acks_[was_acked ? duplicate : late]->inc();
  std::string note = std::string(was_acked ? "duplicate" : "late") + " ack: " + std::string(to_string(status)) +
                     (detail.empty() ? "" : " (" + detail + ")") + "; the command stays " +
                     std::string(to_string(r->second.status));
  if (note.size() > kMaxDetail) note.resize(kMaxDetail);
  log_.save(CommandEvent{cid, "ack", clock_.now_us(), std::move(note)});
  return AckReject::none;
}

void Service::on_presence(const devices::Device& device, bool online) {
  if (!online || !running_) return;
  const auto it = queued_by_device_.find(device.rec.id);
  if (it == queued_by_device_.end()) return;
  const std::vector<std::string> ids = std::move(it->second);
  queued_by_device_.erase(it);
  for (const auto& id : ids) {
    auto p = pending_.find(id);
    if (p != pending_.end() && p->second.cmd.status == Status::queued) send(p->second, true, 0);
  }
}

bool Service::cancel(std::string_view id, std::string detail) {
  auto it = pending_.find(std::string(id));
  if (it == pending_.end()) return false;
  finish(it->second, Status::cancelled, std::move(detail));
  return true;
}

const Command* Service::find(std::string_view id) const {
  const std::string key(id);
  if (auto it = pending_.find(key); it != pending_.end()) return &it->second.cmd;
  if (auto it = recent_.find(key); it != recent_.end()) return &it->second;
  return nullptr;
}

}  // namespace peregrine::commands
