#include <peregrine/jobs/job.hpp>

#include <array>

#include <peregrine/core/time_format.hpp>

namespace peregrine::jobs {

using nlohmann::json;

namespace {
constexpr std::array<std::string_view, 5> kNames = {"queued", "running", "done", "failed", "cancelled"};
}

std::string_view to_string(State s) noexcept { return kNames[static_cast<std::size_t>(s)]; }

std::optional<State> parse_state(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == s) return static_cast<State>(i);
  return std::nullopt;
}

json to_json(const Job& j) {
  return {{"id", j.id},
          {"kind", j.kind},
          {"state", to_string(j.state)},
          {"progress", {{"total", j.total}, {"done", j.done}, {"failed", j.failed}}},
          {"params", j.params},
          {"created_by", j.created_by},
          {"created_at", core::format_rfc3339(j.created_at)},
          {"finished_at", j.finished_at ? json(core::format_rfc3339(*j.finished_at)) : json()}};
}

json to_json(const JobItem& i) {
  return {{"seq", i.seq},
          {"key", i.key},
          {"status", i.status},
          {"detail", i.detail},
          {"command_id", i.command_id.empty() ? json() : json(i.command_id)}};
}

json to_record_json(const Job& j) {
  return {{"id", j.id},           {"tenant", j.tenant},         {"kind", j.kind},
          {"state", to_string(j.state)}, {"total", j.total},    {"done", j.done},
          {"failed", j.failed},   {"params", j.params},         {"created_by", j.created_by},
          {"created_at", j.created_at},
          {"finished_at", j.finished_at ? json(*j.finished_at) : json()}};
}

std::optional<Job> job_from_record(const json& r) {
  try {
    Job j;
    j.id = r.at("id").get<JobId>();
    j.tenant = r.at("tenant").get<core::TenantId>();
    j.kind = r.at("kind").get<std::string>();
    const auto st = parse_state(r.at("state").get<std::string>());
    if (!st) return std::nullopt;
    j.state = *st;
    j.total = r.at("total").get<std::int32_t>();
    j.done = r.at("done").get<std::int32_t>();
    j.failed = r.at("failed").get<std::int32_t>();
    j.params = r.at("params");
    j.created_by = r.at("created_by").get<std::string>();
    j.created_at = r.at("created_at").get<core::Micros>();
    if (r.at("finished_at").is_number_integer()) j.finished_at = r["finished_at"].get<core::Micros>();
    return j;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

json to_record_json(const JobItem& i) {
  return {{"job_id", i.job_id}, {"seq", i.seq},       {"key", i.key},
          {"status", i.status}, {"detail", i.detail}, {"command_id", i.command_id}};
}

std::optional<JobItem> item_from_record(const json& r) {
  try {
    JobItem i;
    i.job_id = r.at("job_id").get<JobId>();
    i.seq = r.at("seq").get<std::int32_t>();
    i.key = r.at("key").get<std::string>();
    i.status = r.at("status").get<std::string>();
    i.detail = r.at("detail").get<std::string>();
    i.command_id = r.at("command_id").get<std::string>();
    return i;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace peregrine::jobs
