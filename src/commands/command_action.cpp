#include <peregrine/commands/command_action.hpp>

#include <cmath>
#include <cstdlib>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/ids.hpp>

namespace peregrine::commands {

using nlohmann::json;

namespace {

constexpr std::size_t kRunsKept = 100'000;  // fallbacks remembered, oldest forgotten first

std::string step_text(const Command& c) {
  std::string s = "command " + c.name + " to " + c.device + ": " + std::string(to_string(c.status));
  if (!c.detail.empty() && is_final(c.status)) s += " (" + c.detail + ")";
  return s + " [" + c.id + "]";
}

}  // namespace

CommandAction::CommandAction(Service& commands, devices::Registry& registry,
                             alerts::AlertControl& control)
    : commands_(commands), registry_(registry), control_(control) {}

void CommandAction::restore_fallen_back(std::vector<std::string> runs) {
  for (auto& r : runs) {
    if (fallen_back_.insert(r).second) fallen_back_order_.push_back(std::move(r));
  }
}

void CommandAction::run(const alerts::Alert& alert, const json& action, alerts::AlertControl&) {
  const std::int64_t opened_ns = core::steady_ns();
  const std::string name = action.value("name", "");
  const json on_timeout = action.contains("on_timeout") ? action["on_timeout"] : json();
  const auto ack = static_cast<std::int32_t>(std::ceil(std::max(1.0, action.value("ack_timeout_s", 10.0))));
  const std::string run = core::random_uuid();

  std::vector<std::string> targets;
  std::string target_text = "the alert's device";
  const auto tg = action.find("target");
  if (tg != action.end() && tg->is_object()) {
    const std::int64_t group = (*tg)["group"].get<std::int64_t>();
    target_text = "group " + std::to_string(group);
    for (const devices::Device* d : registry_.members(alert.tenant, group)) targets.push_back(d->rec.id);
  } else {
    targets.push_back(alert.device);
  }
  if (targets.empty()) {
    control_.record_action(alert.id, alert.tenant, "command " + name + ": " + target_text + " has no devices");
    fall_back(alert, run, on_timeout, "no device to send " + name + " to");
    return;
  }
  for (const auto& device : targets) {
    NewCommand nc;
    nc.tenant = alert.tenant;
    nc.device = device;
    nc.name = name;
    nc.params = action.contains("params") ? action["params"] : json::object();
    nc.ack_timeout_s = ack;
    nc.expires_s = ack;  // offline: the confirmation cannot come in time either
    nc.created_by = "rule:" + std::to_string(alert.rule_id);
    nc.alert_id = alert.id;
    nc.run_id = run;
    nc.alert_device = alert.device;
    nc.on_timeout = on_timeout;
    nc.opened_ns = opened_ns;
    if (!commands_.create(std::move(nc))) {
      control_.record_action(alert.id, alert.tenant,
                             "command " + name + " to " + device +
                                 ": not created (unknown device, or too many commands pending)");
      fall_back(alert, run, on_timeout, "command " + name + " to " + device + " not created");
    }
  }
}

void CommandAction::on_command(const Command& c) {
  if (!c.alert_id) return;
  control_.record_action(*c.alert_id, c.tenant, step_text(c));
  if (!is_final(c.status) || c.status == Status::ok) return;
  alerts::Alert alert;
  alert.id = *c.alert_id;
  alert.tenant = c.tenant;
  alert.device = c.alert_device.empty() ? c.device : c.alert_device;
  if (c.created_by.starts_with("rule:")) alert.rule_id = std::atoll(c.created_by.c_str() + 5);
  fall_back(alert, c.run_id, c.on_timeout,
            "command " + c.name + " to " + c.device + " " + std::string(to_string(c.status)));
}

void CommandAction::fall_back(const alerts::Alert& alert, const std::string& run,
                              const json& on_timeout, std::string why) {
  if (!on_timeout.is_array() || on_timeout.empty()) return;
  if (!fallen_back_.insert(run).second) return;  // once per run
  fallen_back_order_.push_back(run);
  while (fallen_back_order_.size() > kRunsKept) {
    fallen_back_.erase(fallen_back_order_.front());
    fallen_back_order_.pop_front();
  }
  control_.run_actions_later(alert, on_timeout, std::move(why));
}

}  // namespace peregrine::commands
