#pragma once
/// The `command` rule action and its closed loop (CONTRACT.md "Actions"):
/// `{"type": "command", "name", "params", "target": "device" | {"group": id},
/// "ack_timeout_s": 5, "on_timeout": [ …actions… ]}` sends the command to
/// the alert's device or to every member of the group; a queued command
/// (device offline) expires at the same deadline. When any of the run's
/// commands ends without an `ok` (timed out, expired, error ack, cancelled,
/// or not created), the `on_timeout` actions run once for the run, through
/// the alerts service's executors. Every step is an `action` event of the
/// alert. Pending commands carry their run, alert and fallback, so a restart
/// neither forgets a pending run nor repeats a fallback that ran; a crash in
/// the instant between a command's end and its fallback's first step loses
/// that fallback (docs/commands.md).
///
/// Threading: loop thread only.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

#include <peregrine/alerts/ports.hpp>
#include <peregrine/commands/service.hpp>
#include <peregrine/devices/registry.hpp>

namespace peregrine::commands {

class CommandAction final : public alerts::ActionExecutor, public CommandObserver {
 public:
  CommandAction(Service& commands, devices::Registry& registry, alerts::AlertControl& control);

  /// Runs of commands pending at start whose fallback already ran (a sibling
  /// failed before the restart).
  void restore_fallen_back(std::vector<std::string> runs);

  // alerts::ActionExecutor
  void run(const alerts::Alert& alert, const nlohmann::json& action,
           alerts::AlertControl& control) override;
  // CommandObserver: records each step; runs the fallback on the first failure.
  void on_command(const Command& c) override;

 private:
  void fall_back(const alerts::Alert& alert, const std::string& run, const nlohmann::json& on_timeout,
                 std::string why);

  Service& commands_;
  devices::Registry& registry_;
  alerts::AlertControl& control_;
  std::unordered_set<std::string> fallen_back_;
  std::deque<std::string> fallen_back_order_;
};

}  // namespace peregrine::commands
