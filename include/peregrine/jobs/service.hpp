#pragma once
/// The job service: creates jobs, follows their items to the end, and
/// reports progress — each change logged (row + items) and sent as a
/// `{"type":"job"}` frame, coalesced to at most one per job every
/// `flush_every`. A batch command is a job with one command per member of
/// a group; its items follow the commands' statuses (as a CommandObserver).
/// Cancelling a job cancels its commands still pending.
///
/// Restart: start() takes the jobs that were running and the items still
/// pending, so acks that arrive after a restart still move the progress.
///
/// Threading: loop thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <peregrine/commands/service.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/core/loop_timers.hpp>
#include <peregrine/jobs/job.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::jobs {

class JobLog {
 public:
  virtual ~JobLog() = default;
  virtual void save(const Job& job) = 0;       ///< upserts the row
  virtual void save(const JobItem& item) = 0;  ///< upserts the item
};

class JobFrames {
 public:
  virtual ~JobFrames() = default;
  virtual void publish(const Job& job) = 0;
};

/// A batch command: the command for each device, under one job.
struct BatchCommand {
  core::TenantId tenant = core::kDefaultTenant;
  std::vector<std::string> devices;
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  std::int32_t ack_timeout_s = 10;
  std::int64_t expires_s = 3600;
  std::string created_by;
  nlohmann::json job_params;  ///< what the job shows of the request (group, name)
};

/// Where a job stood at start.
struct JobStartState {
  JobId next_id = 1;
  std::vector<Job> running;
  std::vector<JobItem> pending_items;  ///< items of running jobs that are commands still pending
};

class Service final : public commands::CommandObserver {
 public:
  Service(boost::asio::io_context& ioc, const core::Clock& clock, JobLog& log, JobFrames& frames,
          commands::Service& commands, metrics::Registry& metrics,
          std::chrono::milliseconds flush_every = std::chrono::milliseconds(250));
  ~Service() override;

  void start(JobStartState state);
  /// Writes and sends what is still coalesced.
  void stop();

  /// A running job of `total` items. Items are reported with set_item().
  const Job& create(core::TenantId tenant, std::string kind, nlohmann::json params,
                    std::string created_by, std::int32_t total);
  /// Records an item; `ended` items count as done or (`failed`) failed, and
  /// the job ends when every item has.
  void set_item(JobItem item, bool ended, bool failed);
  /// A job with one command per device; nullopt when no device is given.
  std::optional<Job> batch_command(BatchCommand batch);
  /// Cancels a running job and its pending commands. nullopt when unknown
  /// (or another tenant's); the job as it is when it had already ended.
  std::optional<Job> cancel(core::TenantId tenant, JobId id, const std::string& actor);

  /// A running or recently ended job, nullptr otherwise.
  const Job* find(JobId id) const;

  void on_command(const commands::Command& c) override;

 private:
  struct ItemRef {
    JobId job;
    std::int32_t seq;
    std::string key;
  };
  void touch(Job& j);
  void flush();
  void finish(Job& j, State state);

  const core::Clock& clock_;
  JobLog& log_;
  JobFrames& frames_;
  commands::Service& commands_;
  JobId next_id_ = 1;
  std::unordered_map<JobId, Job> jobs_;  // running, and ended ones not yet flushed
  std::unordered_map<std::string, ItemRef> by_command_;
  std::unordered_set<JobId> dirty_;
  std::unordered_map<JobId, Job> recent_;
  std::deque<JobId> recent_order_;
  metrics::Counter& created_;
  boost::asio::io_context& ioc_;
  std::chrono::milliseconds flush_every_;
  std::unique_ptr<core::Periodic> flusher_;
};

}  // namespace peregrine::jobs
