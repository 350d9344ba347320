#include <peregrine/jobs/service.hpp>

#include <spdlog/spdlog.h>

namespace peregrine::jobs {

using nlohmann::json;

namespace {
constexpr std::size_t kRecentKept = 1000;
}

Service::Service(boost::asio::io_context& ioc, const core::Clock& clock, JobLog& log, JobFrames& frames,
                 commands::Service& commands, metrics::Registry& metrics,
                 std::chrono::milliseconds flush_every)
    : clock_(clock),
      log_(log),
      frames_(frames),
      commands_(commands),
      created_(metrics.counter("peregrine_jobs_created_total", "Jobs created (batch commands, imports)")),
      ioc_(ioc),
      flush_every_(flush_every) {}

Service::~Service() = default;

void Service::start(JobStartState st) {
  next_id_ = st.next_id;
  for (Job& j : st.running) jobs_.emplace(j.id, std::move(j));
  for (JobItem& i : st.pending_items) {
    if (jobs_.contains(i.job_id) && !i.command_id.empty())
      by_command_.emplace(i.command_id, ItemRef{i.job_id, i.seq, i.key});
  }
  flusher_ = std::make_unique<core::Periodic>(ioc_, flush_every_, [this] { flush(); });
}

void Service::stop() {
  flusher_.reset();
  flush();
}

const Job& Service::create(core::TenantId tenant, std::string kind, json params, std::string created_by,
                           std::int32_t total) {
  Job j;
  j.id = next_id_++;
  j.tenant = tenant;
  j.kind = std::move(kind);
  j.state = State::running;
  j.total = total;
  j.params = std::move(params);
  j.created_by = std::move(created_by);
  j.created_at = clock_.now_us();
  created_.inc();
  Job& stored = jobs_.emplace(j.id, std::move(j)).first->second;
  // The row exists before any item refers to it.
  log_.save(stored);
  frames_.publish(stored);
  if (stored.total == 0) finish(stored, State::done);
  return stored;
}

void Service::set_item(JobItem item, bool ended, bool failed) {
  auto it = jobs_.find(item.job_id);
  log_.save(item);
  if (it == jobs_.end() || !ended) return;
  Job& j = it->second;
  (failed ? j.failed : j.done) += 1;
  if (j.state == State::running && j.done + j.failed >= j.total)
    finish(j, j.failed == 0 ? State::done : State::failed);
  else
    touch(j);
}

std::optional<Job> Service::batch_command(BatchCommand b) {
  if (b.devices.empty()) return std::nullopt;
  const Job& created = create(b.tenant, "batch_command", std::move(b.job_params), b.created_by,
                              static_cast<std::int32_t>(b.devices.size()));
  const JobId id = created.id;
  std::int32_t seq = 0;
  for (const auto& device : b.devices) {
    ++seq;
    commands::NewCommand nc;
    nc.tenant = b.tenant;
    nc.device = device;
    nc.name = b.name;
    nc.params = b.params;
    nc.ack_timeout_s = b.ack_timeout_s;
    nc.expires_s = b.expires_s;
    nc.created_by = b.created_by;
    nc.job_id = id;
    // The item is known before the command's first status arrives.
    const std::string key = device;
    auto cmd = commands_.create(std::move(nc));
    if (!cmd) {
      set_item(JobItem{id, seq, key, "error", "not created: too many commands pending", ""}, true, true);
      continue;
    }
    by_command_.emplace(cmd->id, ItemRef{id, seq, key});
    const bool ended = commands::is_final(cmd->status);
    set_item(JobItem{id, seq, key, std::string(commands::to_string(cmd->status)), cmd->detail, cmd->id},
             ended, ended && cmd->status != commands::Status::ok);
  }
  const Job* j = find(id);
  return j ? std::optional<Job>(*j) : std::nullopt;
}

void Service::on_command(const commands::Command& c) {
  if (!c.job_id) return;
  const auto it = by_command_.find(c.id);
  if (it == by_command_.end()) return;  // the creation in batch_command reports the first status
  const ItemRef ref = it->second;
  const bool ended = commands::is_final(c.status);
  if (ended) by_command_.erase(it);
  set_item(JobItem{ref.job, ref.seq, ref.key, std::string(commands::to_string(c.status)), c.detail, c.id},
           ended, ended && c.status != commands::Status::ok);
}

std::optional<Job> Service::cancel(core::TenantId tenant, JobId id, const std::string& actor) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.tenant != tenant) {
    const Job* j = find(id);
    if (j && j->tenant == tenant) return *j;
    return std::nullopt;
  }
  if (is_final(it->second.state)) return it->second;
  finish(it->second, State::cancelled);
  std::vector<std::string> pending;
  for (const auto& [cid, ref] : by_command_)
    if (ref.job == id) pending.push_back(cid);
  for (const auto& cid : pending) commands_.cancel(cid, "job " + std::to_string(id) + " cancelled by " + actor);
  const Job* j = find(id);
  return j ? std::optional<Job>(*j) : std::nullopt;
}

const Job* Service::find(JobId id) const {
  if (auto it = jobs_.find(id); it != jobs_.end()) return &it->second;
  if (auto it = recent_.find(id); it != recent_.end()) return &it->second;
  return nullptr;
}

void Service::touch(Job& j) { dirty_.insert(j.id); }

void Service::finish(Job& j, State state) {
  j.state = state;
  j.finished_at = clock_.now_us();
  // The end is written now, right after the items that led to it, so a
  // crash cannot leave a job running whose items all ended; frames stay
  // coalesced.
  log_.save(j);
  touch(j);
}

void Service::flush() {
  for (JobId id : dirty_) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    log_.save(it->second);
    frames_.publish(it->second);
    if (is_final(it->second.state)) {
      recent_order_.push_back(id);
      recent_.insert_or_assign(id, std::move(it->second));
      jobs_.erase(it);
      while (recent_.size() > kRecentKept) {
        recent_.erase(recent_order_.front());
        recent_order_.pop_front();
      }
    }
  }
  dirty_.clear();
}

}  // namespace peregrine::jobs
