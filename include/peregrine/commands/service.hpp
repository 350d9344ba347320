#pragma once
/// The command service: creates commands, publishes them to devices that
/// are online (or queues them until the device comes online, or they
/// expire), takes the devices' acks, and times out commands not acked by
/// their deadline — on a timer on the loop, not on the next message. Every
/// transition is logged (row + event), sent as a frame, counted in
/// `peregrine_commands_total{status}`, and reported to the observers.
///
/// Restart: start() takes the commands that were pending; a sent one's
/// deadline is re-armed from its sent_at (fired at once when past), a queued
/// one waits for its device. A command is published at most once under its
/// id: a new command to an online device is published at once (no row can
/// say otherwise before it exists), a queued one only after its `sent` row
/// is committed (CommandLog::publish_after_save).
///
/// Threading: loop thread only. Timers hold shared state, never `this`.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <peregrine/commands/command.hpp>
#include <peregrine/commands/ports.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/core/loop_timers.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::commands {

struct ServiceOptions {
  std::size_t max_pending = 100'000;       ///< queued + sent commands held at once
  std::size_t recent_kept = 50'000;        ///< finished commands kept to judge late acks
  std::int32_t max_ack_timeout_s = 86'400;
  std::int64_t max_expires_s = 30LL * 86'400;
};

/// What creating a command needs. `ack_timeout_s` 1..max; `expires_s`
/// 1..max (how long a queued command waits for its device).
struct NewCommand {
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  std::int32_t ack_timeout_s = 10;
  std::int64_t expires_s = 3600;
  std::string created_by;
  std::optional<std::int64_t> alert_id;
  std::string run_id;
  std::string alert_device;
  nlohmann::json on_timeout;
  std::optional<std::int64_t> job_id;
  /// core::steady_ns() when the alert behind it opened: the publish then
  /// observes peregrine_action_latency_seconds. 0 for operators' commands.
  std::int64_t opened_ns = 0;
};

/// Why an ack was not taken: label values of
/// `peregrine_command_acks_total{result}` besides `accepted`, `late`, `duplicate`.
enum class AckReject : std::uint8_t { none, malformed, unknown_command, wrong_device };

class Service {
 public:
  /// Registers peregrine_commands_total{status}, peregrine_command_acks_total{result}
  /// and peregrine_commands_pending.
  Service(boost::asio::io_context& ioc, const core::Clock& clock, devices::Registry& registry,
          CommandLog& log, CommandPublisher& publisher, CommandFrames& frames,
          metrics::Registry& metrics, ServiceOptions opts = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  void add_observer(CommandObserver& observer);

  /// Reinstates the commands that were pending (queued or sent) and re-arms
  /// their deadlines; queued ones for online devices are sent now.
  void start(std::vector<Command> pending);
  void stop();

  /// Creates, logs, and sends (device online) or queues it. nullopt when
  /// too many commands are pending (the caller answers 503) or the device is
  /// unknown. Limits are the caller's to check (see ServiceOptions).
  std::optional<Command> create(NewCommand c);

  /// A device's `devices/{id}/commands/ack` payload.
  AckReject on_ack(const devices::Device& device, std::string_view payload);
  /// The device came online (or went offline): its queued commands are sent.
  void on_presence(const devices::Device& device, bool online);
  /// Cancels a queued or sent command; false when unknown or already final.
  bool cancel(std::string_view id, std::string detail);

  /// Ends the commands whose deadline is due at `now` (the service's timer
  /// calls it; tests call it with a manual clock). Returns how many ended.
  std::size_t tick(core::Micros now);

  /// A pending or recently finished command, nullptr otherwise.
  const Command* find(std::string_view id) const;
  std::size_t pending_count() const noexcept { return pending_.size(); }
  const ServiceOptions& options() const noexcept { return opts_; }

 private:
  struct Due {
    core::Micros at;
    std::string id;
    bool operator>(const Due& o) const noexcept { return at > o.at; }
  };
  struct Pending {
    Command cmd;
    CancelFlag cancelled;  // for a deferred publish
  };

  void send(Pending& p, bool deferred, std::int64_t opened_ns);
  void finish(Pending& p, Status status, std::string detail);
  void transition(const Command& c, std::string detail);
  void schedule(const Command& c);
  void rearm();
  void remember(Command c);
  metrics::Counter& counter(Status s) { return *by_status_[static_cast<std::size_t>(s)]; }

  boost::asio::io_context& ioc_;
  const core::Clock& clock_;
  devices::Registry& registry_;
  CommandLog& log_;
  CommandPublisher& publisher_;
  CommandFrames& frames_;
  ServiceOptions opts_;
  std::vector<CommandObserver*> observers_;
  std::unordered_map<std::string, Pending> pending_;
  std::unordered_map<std::string, std::vector<std::string>> queued_by_device_;
  std::unordered_map<std::string, Command> recent_;
  std::deque<std::string> recent_order_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> deadlines_;
  core::Deadline deadline_;
  core::Micros armed_at_ = 0;
  bool armed_ = false;
  bool running_ = false;
  metrics::Counter* by_status_[7]{};
  metrics::Counter* acks_[7]{};
  metrics::Histogram& action_latency_;
  metrics::Gauge& pending_gauge_;
};

}  // namespace peregrine::commands
