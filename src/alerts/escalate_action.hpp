#pragma once
// The built-in `escalate` rule action: {"type": "escalate", "to": "critical"}
// raises the new alert's severity (applied on the loop after the opening).

#include <peregrine/alerts/ports.hpp>

namespace peregrine::alerts {

class EscalateAction final : public ActionExecutor {
 public:
  void run(const Alert& alert, const nlohmann::json& action, AlertControl& control) override {
    const auto to = rules::parse_severity(action.value("to", ""));
    if (to)
      control.escalate_later(alert.id, *to, "system",
                             "escalate action: to " + std::string(rules::to_string(*to)));
  }
};

}  // namespace peregrine::alerts
