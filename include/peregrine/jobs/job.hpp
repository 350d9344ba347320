#pragma once
/// A job: one long operation (a batch command to a group, a bulk import,
/// later roll-outs and config pushes) with its progress and one item per
/// unit of work (CONTRACT.md "jobs"). Pure values and JSON; any thread.
///
/// State: queued → running → done (every item ended, none failed) | failed
/// (every item ended, some failed) | cancelled.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>

namespace peregrine::jobs {

using JobId = std::int64_t;

enum class State : std::uint8_t { queued, running, done, failed, cancelled };
std::string_view to_string(State s) noexcept;
std::optional<State> parse_state(std::string_view s) noexcept;
constexpr bool is_final(State s) noexcept {
  return s == State::done || s == State::failed || s == State::cancelled;
}

struct Job {
  JobId id = 0;
  core::TenantId tenant = core::kDefaultTenant;
  std::string kind;  ///< `batch_command`, `import`
  State state = State::queued;
  std::int32_t total = 0, done = 0, failed = 0;
  nlohmann::json params = nlohmann::json::object();
  std::string created_by;
  core::Micros created_at = 0;
  std::optional<core::Micros> finished_at;
};

/// One unit of work: `key` names what it is about (a device, a row).
/// `status` is the item's own (a command's status, `created`, `error`).
struct JobItem {
  JobId job_id = 0;
  std::int32_t seq = 0;
  std::string key;
  std::string status;
  std::string detail;
  std::string command_id;  ///< empty unless the item is a command
};

/// `{"id","kind","state","progress":{"total","done","failed"},"params",
/// "created_by","created_at","finished_at"}`.
nlohmann::json to_json(const Job& j);
nlohmann::json to_json(const JobItem& i);

/// Job and JobItem as records for the alert store's spill, and back.
nlohmann::json to_record_json(const Job& j);
std::optional<Job> job_from_record(const nlohmann::json& j);
nlohmann::json to_record_json(const JobItem& i);
std::optional<JobItem> item_from_record(const nlohmann::json& j);

}  // namespace peregrine::jobs
