#pragma once
/// Reads of commands and jobs in PostgreSQL (`commands`, `command_events`,
/// `jobs`, `job_items`, migrations/0008) for the REST handlers, always within
/// one tenant. The rows are written by the alert store (the command and job
/// services' log); the services' in-memory state is newer for pending
/// commands and running jobs, and handlers overlay it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <peregrine/commands/command.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/jobs/job.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

struct CommandWithEvents {
  commands::Command command;
  std::vector<commands::CommandEvent> events;  ///< oldest first
};

struct JobFilter {
  std::optional<std::string> state;
  std::optional<std::string> kind;
};

class CommandRepository {
 public:
  explicit CommandRepository(QueryPool& pool) : pool_(pool) {}

  /// The device's commands, newest first; `page.after` is the cursor of the
  /// previous page (`<created_at µs>_<id>`) or empty.
  boost::asio::awaitable<Page<commands::Command>> list(core::TenantId tenant, std::string device,
                                                       PageRequest<std::string> page);
  /// Not found also for another device's or tenant's command.
  boost::asio::awaitable<Outcome<CommandWithEvents>> get(core::TenantId tenant, std::string device,
                                                         std::string id);

  /// The tenant's jobs, newest first, after job id `page.after` (0: from the newest).
  boost::asio::awaitable<Page<jobs::Job>> jobs(core::TenantId tenant, JobFilter filter,
                                               PageRequest<std::int64_t> page);
  boost::asio::awaitable<Outcome<jobs::Job>> job(core::TenantId tenant, jobs::JobId id);
  /// The job's items by seq, after `page.after`.
  boost::asio::awaitable<Page<jobs::JobItem>> job_items(core::TenantId tenant, jobs::JobId id,
                                                        PageRequest<std::int64_t> page);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
