#pragma once
/// Device configuration on the event loop (docs/configuration.md): hands
/// each new desired version to the broker as the retained, QoS 1 message
/// `devices/{id}/config` `{"version","config"}`, takes the devices'
/// `devices/{id}/config/applied` reports, tells dashboards (`config`
/// frames), and moves the items of group pushes (jobs of kind
/// `config_push`) as their devices report.
///
/// Delivery: a version is marked published once the client took it; every
/// `republish_every` (and at start) whatever is desired but not published
/// — a crash between commit and publish, a publish dropped while the
/// broker was away — is published again. The retained message is the whole
/// desired document, so a device that reconnects gets the newest version
/// and nothing older.
///
/// Threading: loop thread only, except `publish`'s callback (any thread,
/// it posts).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/loop_timers.hpp>
#include <peregrine/jobs/service.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/storage/config_repository.hpp>

namespace peregrine::fleet {

/// The retained message of a version: `{"version": n, "config": {…}}`.
std::string config_message(std::int32_t version, const nlohmann::json& config);
std::string config_topic(std::string_view device);

/// A device's report, parsed: `{"version": n}` or `{"version": n, "error": "…"}`.
struct AppliedReport {
  std::int32_t version = 0;
  std::optional<std::string> error;
};
/// nullopt when the payload is not such a report (the reason in `why`).
std::optional<AppliedReport> parse_applied(std::string_view payload, std::string& why);

/// `{"device","desired_version","applied_version","state","error"}`.
nlohmann::json state_json(const storage::ConfigState& s);

class ConfigService {
 public:
  /// (topic, payload, on_published) → false when dropped; QoS 1, retained.
  using Publish = std::function<bool(const std::string&, const std::string&, std::function<void()>)>;
  /// A `config` frame for the tenant's dashboards.
  using Frames = std::function<void(core::TenantId, const nlohmann::json&)>;

  ConfigService(boost::asio::io_context& ioc, storage::ConfigRepository& repo, Publish publish, Frames frames,
                jobs::Service& jobs, metrics::Registry& metrics,
                std::chrono::milliseconds republish_every = std::chrono::seconds(10));
  ~ConfigService();

  /// Follows the pending items of the config pushes among `running` jobs and
  /// publishes what is unpublished. Call after jobs::Service::start.
  void start(const std::vector<jobs::Job>& running);
  void stop();

  /// New versions, committed: publish each (and, with `job`, follow them).
  void pushed(const std::vector<storage::ConfigVersion>& versions, std::optional<jobs::JobId> job);

  /// A `devices/{id}/config/applied` payload of a known device.
  void on_applied(std::string device, core::TenantId tenant, std::string_view payload);

 private:
  struct Tracked {
    jobs::JobId job;
    std::int32_t seq;
    std::int32_t version;
  };
  void publish(const storage::ConfigVersion& v);
  void republish();
  /// Ends the tracked items of `s.device` that its state settles.
  void settle(const storage::ConfigState& s);
  boost::asio::awaitable<void> follow(std::vector<std::int64_t> jobs);
  boost::asio::awaitable<void> mark(std::string device, std::int32_t version);
  boost::asio::awaitable<void> republish_task();
  boost::asio::awaitable<void> report_task(std::string device, core::TenantId tenant, AppliedReport report);

  boost::asio::io_context& ioc_;
  storage::ConfigRepository& repo_;
  Publish publish_;
  Frames frames_;
  jobs::Service& jobs_;
  std::map<std::string, std::vector<Tracked>> tracked_;  // device → job items waiting for its report
  // Publishes not yet marked published, with when they were handed over: one
  // that Paho lost without calling back is sent again after kRetryAfter.
  std::map<std::pair<std::string, std::int32_t>, std::chrono::steady_clock::time_point> in_flight_;
  // While the pending items of running pushes load at start: devices whose
  // reports landed meanwhile, settled again once the items are in.
  bool loading_ = false;
  std::set<std::string> reported_while_loading_;
  bool republishing_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::chrono::milliseconds republish_every_;
  std::unique_ptr<core::Periodic> timer_;
  metrics::Counter& published_;
  metrics::Counter& dropped_;
  metrics::Counter& applied_;
  metrics::Counter& rejected_;
  metrics::Counter& stale_;
  metrics::Counter& invalid_;
};

}  // namespace peregrine::fleet
