#include <peregrine/fleet/config_service.hpp>

#include <limits>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace peregrine::fleet {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kRepublishBatch = 500;
constexpr auto kRetryAfter = std::chrono::seconds(60);

metrics::Counter& reports(metrics::Registry& m, const char* result) {
  return m.counter("peregrine_config_reports_total",
                   "Devices' config/applied reports by what they did (applied, rejected, stale: older than "
                   "what the device already applied or not for its desired version, invalid: not a report)",
                   {{"result", result}});
}

}  // namespace

std::string config_topic(std::string_view device) { return "devices/" + std::string(device) + "/config"; }

std::string config_message(std::int32_t version, const json& config) {
  return json{{"version", version}, {"config", config}}.dump();
}

std::optional<AppliedReport> parse_applied(std::string_view payload, std::string& why) {
  const json j = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (!j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  const auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() < 1 ||
      v->get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
    why = "'version' must be a positive integer";
    return std::nullopt;
  }
  AppliedReport r;
  r.version = static_cast<std::int32_t>(v->get<std::int64_t>());
  if (const auto e = j.find("error"); e != j.end() && !e->is_null()) {
    if (!e->is_string()) {
      why = "'error' must be a string";
      return std::nullopt;
    }
    r.error = e->get<std::string>().substr(0, 1000);
  }
  return r;
}

json state_json(const storage::ConfigState& s) {
  json out = {{"device", s.device},
              {"desired_version", s.desired_version},
              {"applied_version", s.applied_version ? json(*s.applied_version) : json(nullptr)},
              {"state", s.state()}};
  if (s.state() == "rejected") out["error"] = s.rejected_error;
  return out;
}

ConfigService::ConfigService(asio::io_context& ioc, storage::ConfigRepository& repo, Publish publish, Frames frames,
                             jobs::Service& jobs, metrics::Registry& metrics,
                             std::chrono::milliseconds republish_every)
    : ioc_(ioc),
      repo_(repo),
      publish_(std::move(publish)),
      frames_(std::move(frames)),
      jobs_(jobs),
      republish_every_(republish_every),
      published_(metrics.counter("peregrine_config_published_total",
                                 "Configuration versions the MQTT client took as retained devices/{id}/config")),
      dropped_(metrics.counter("peregrine_config_publish_dropped_total",
                               "Configuration publishes dropped (queue full, broker away); published again later")),
      applied_(reports(metrics, "applied")),
      rejected_(reports(metrics, "rejected")),
      stale_(reports(metrics, "stale")),
      invalid_(reports(metrics, "invalid")) {}

ConfigService::~ConfigService() { stop(); }

void ConfigService::start(const std::vector<jobs::Job>& running) {
  std::vector<std::int64_t> pushes;
  for (const jobs::Job& j : running)
    if (j.kind == "config_push") pushes.push_back(j.id);
  if (!pushes.empty()) {
    loading_ = true;
    asio::co_spawn(ioc_, follow(std::move(pushes)), asio::detached);
  }
  republish();
  timer_ = std::make_unique<core::Periodic>(ioc_, republish_every_, [this] { republish(); });
}

void ConfigService::stop() {
  *alive_ = false;
  timer_.reset();
}

asio::awaitable<void> ConfigService::follow(std::vector<std::int64_t> jobs) {
  const std::shared_ptr<bool> alive = alive_;
  std::vector<storage::PendingPushItem> items;
  try {
    items = co_await repo_.pending_push_items(std::move(jobs));
  } catch (const std::exception& e) {
    spdlog::error("config: cannot load the running config pushes (their items stay pending): {}", e.what());
  }
  if (!*alive) co_return;
  std::map<std::string, core::TenantId> tenants;
  for (const auto& item : items) {
    tracked_[item.state.device].push_back({item.job, item.seq, item.version});
    tenants[item.state.device] = item.state.tenant;
  }
  // Reports that landed while the server was away settle their items now.
  for (const auto& item : items) settle(item.state);
  loading_ = false;
  // Reports that landed while the items loaded: their state, read again.
  const auto again = std::exchange(reported_while_loading_, {});
  for (const std::string& device : again) {
    const auto t = tenants.find(device);
    if (t == tenants.end() || !tracked_.count(device)) continue;
    try {
      auto s = co_await repo_.state(t->second, device);
      if (!*alive) co_return;
      if (s.ok()) settle(s.value());
    } catch (const std::exception& e) {
      spdlog::warn("config: cannot read the state of '{}': {}", device, e.what());
    }
  }
}

void ConfigService::pushed(const std::vector<storage::ConfigVersion>& versions, std::optional<jobs::JobId> job) {
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const auto& v = versions[i];
    // A newer version supersedes what a push was waiting for.
    if (auto it = tracked_.find(v.device); it != tracked_.end()) {
      storage::ConfigState s;
      s.device = v.device;
      s.desired_version = v.version;
      settle(s);
    }
    if (job) tracked_[v.device].push_back({*job, static_cast<std::int32_t>(i + 1), v.version});
    publish(v);
  }
}

void ConfigService::publish(const storage::ConfigVersion& v) {
  const auto now = std::chrono::steady_clock::now();
  const auto [at, fresh] = in_flight_.try_emplace({v.device, v.version}, now);
  if (!fresh) {
    if (now - at->second < kRetryAfter) return;
    at->second = now;
  }
  const std::shared_ptr<bool> alive = alive_;
  const bool taken = publish_(config_topic(v.device), config_message(v.version, v.config),
                              [this, alive, device = v.device, version = v.version] {
                                asio::post(ioc_, [this, alive, device, version] {
                                  if (!*alive) return;
                                  published_.inc();
                                  asio::co_spawn(ioc_, mark(device, version), asio::detached);
                                });
                              });
  if (!taken) {
    in_flight_.erase({v.device, v.version});
    dropped_.inc();
  }
}

asio::awaitable<void> ConfigService::mark(std::string device, std::int32_t version) {
  const std::shared_ptr<bool> alive = alive_;
  try {
    co_await repo_.mark_published(device, version);
  } catch (const std::exception& e) {
    // Still unpublished in the table: the next republish sends it again.
    spdlog::warn("config: cannot mark {} version {} published: {}", device, version, e.what());
  }
  if (*alive) in_flight_.erase({device, version});
}

void ConfigService::republish() {
  if (republishing_) return;
  republishing_ = true;
  asio::co_spawn(ioc_, republish_task(), asio::detached);
}

asio::awaitable<void> ConfigService::republish_task() {
  const std::shared_ptr<bool> alive = alive_;
  std::vector<storage::ConfigVersion> due;
  try {
    due = co_await repo_.unpublished(kRepublishBatch);
  } catch (const std::exception& e) {
    spdlog::warn("config: cannot read unpublished configurations: {}", e.what());
  }
  if (!*alive) co_return;
  republishing_ = false;
  for (const auto& v : due) publish(v);
}

void ConfigService::on_applied(std::string device, core::TenantId tenant, std::string_view payload) {
  std::string why;
  const auto report = parse_applied(payload, why);
  if (!report) {
    invalid_.inc();
    spdlog::warn("config: report from '{}' refused: {}", device, why);
    return;
  }
  asio::co_spawn(ioc_, report_task(std::move(device), tenant, *report), asio::detached);
}

asio::awaitable<void> ConfigService::report_task(std::string device, core::TenantId tenant, AppliedReport report) {
  const std::shared_ptr<bool> alive = alive_;
  storage::ReportOutcome out;
  try {
    out = co_await repo_.report(device, report.version, report.error);
  } catch (const std::exception& e) {
    // The broker has acked it to Paho already: the device reports again on
    // its next connect (docs/configuration.md); log what is lost.
    spdlog::error("config: report of '{}' version {} not stored: {}", device, report.version, e.what());
    co_return;
  }
  if (!*alive) co_return;
  if (loading_) reported_while_loading_.insert(device);
  switch (out.result) {
    case storage::ReportResult::applied: applied_.inc(); break;
    case storage::ReportResult::rejected: rejected_.inc(); break;
    case storage::ReportResult::stale:
    case storage::ReportResult::unknown: stale_.inc(); break;
  }
  if (!out.state) co_return;
  if (out.result == storage::ReportResult::applied || out.result == storage::ReportResult::rejected)
    frames_(tenant, state_json(*out.state));
  settle(*out.state);
}

void ConfigService::settle(const storage::ConfigState& s) {
  auto it = tracked_.find(s.device);
  if (it == tracked_.end()) return;
  auto& items = it->second;
  for (auto item = items.begin(); item != items.end();) {
    std::string status, detail;
    bool failed = false;
    if (s.applied_version && *s.applied_version >= item->version) {
      status = "applied";
    } else if (s.rejected_version && *s.rejected_version == item->version) {
      status = "rejected", detail = s.rejected_error, failed = true;
    } else if (s.desired_version > item->version) {
      status = "superseded", detail = "version " + std::to_string(s.desired_version) + " was written since",
      failed = true;
    } else {
      ++item;
      continue;
    }
    if (const jobs::Job* j = jobs_.find(item->job); j && j->state == jobs::State::running)
      jobs_.set_item({.job_id = item->job, .seq = item->seq, .key = s.device, .status = status, .detail = detail,
                      .command_id = {}},
                     true, failed);
    item = items.erase(item);
  }
  if (items.empty()) tracked_.erase(it);
}

}  // namespace peregrine::fleet
