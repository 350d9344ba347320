#pragma once
/// A rule as data (CONTRACT.md "Rule body"): parsed and validated from JSON,
/// rendered back to JSON, and patched (RFC 7386 merge) for PATCH /rules/{id}.
/// Pure value types and functions; any thread.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>

namespace peregrine::rules {

using RuleId = std::int64_t;
inline constexpr core::Micros kNever = std::numeric_limits<core::Micros>::max();

/// Ordered: a higher value is more severe (escalation only goes up).
enum class Severity : std::uint8_t { info, warning, critical };
enum class Kind : std::uint8_t { threshold, rate, absence, anomaly };
enum class Op : std::uint8_t { gt, ge, lt, le };

struct Scope {
  enum class Type : std::uint8_t { device, group, all };
  Type type = Type::all;
  std::string device;      ///< for Type::device
  std::int64_t group = 0;  ///< for Type::group
  bool operator==(const Scope&) const = default;
};

struct ThresholdParams {
  Op op = Op::gt;
  double value = 0;
  core::Micros for_us = 0;     ///< hold: the condition must hold this long
  std::optional<double> clear; ///< hysteresis level; absent = `value`
  double clear_level() const noexcept { return clear.value_or(value); }
  bool operator==(const ThresholdParams&) const = default;
};

struct RateParams {
  std::optional<double> rise;  ///< fire when value − min(window) ≥ rise
  std::optional<double> fall;  ///< fire when max(window) − value ≥ fall
  core::Micros window_us = 0;
  bool operator==(const RateParams&) const = default;
};

struct AbsenceParams {
  core::Micros timeout_us = 0;
  bool operator==(const AbsenceParams&) const = default;
};

struct AnomalyParams {
  double z = 4;
  std::uint32_t warmup = 50;
  double alpha = 0.05;
  bool operator==(const AnomalyParams&) const = default;
};

using Params = std::variant<ThresholdParams, RateParams, AbsenceParams, AnomalyParams>;

struct Escalation {
  core::Micros after_us = 0;
  Severity to = Severity::critical;
  bool operator==(const Escalation&) const = default;
};

struct Rule {
  RuleId id = 0;  ///< 0 until stored
  core::TenantId tenant = core::kDefaultTenant;
  std::string name;
  std::string metric;
  Scope scope;
  Kind kind = Kind::threshold;
  Params params;  ///< alternative matches `kind`
  Severity severity = Severity::warning;
  bool enabled = true;
  std::optional<Escalation> escalate;
  nlohmann::json actions = nlohmann::json::array();  ///< validated for shape
};

/// A rejected rule body. `field` is a JSON path such as `params.op` or
/// `actions[1].target`; `status` is 400 (malformed/missing/wrong type) or 422
/// (well-formed but meaningless, e.g. `clear` on the wrong side of `value`).
struct RuleError {
  std::string field;
  std::string message;
  int status = 400;
};

using ParseResult = std::variant<Rule, RuleError>;

/// Validates a full rule body. Unknown members are rejected (typos must not
/// silently disable a safety rule); `id`, `tenant_id`, `created_at`,
/// `updated_at` are accepted (and `id` kept) so a GET body can be posted back.
/// Defaults: severity `warning`, enabled `true`, actions `[]`, threshold
/// `for_s` 0 and `clear` = `value`, anomaly z 4 / warmup 50 / alpha 0.05.
ParseResult parse_rule(const nlohmann::json& body, core::TenantId tenant);

/// Applies a PATCH body (RFC 7386 merge patch; `scope` and `actions` are
/// replaced whole; `params` is replaced whole when `kind` changes) to `rule`
/// and validates the result. The id and tenant are kept.
ParseResult merge_rule(const Rule& rule, const nlohmann::json& patch);

/// The rule body as the API returns it (with `id`).
nlohmann::json to_json(const Rule& rule);

std::string_view to_string(Severity s) noexcept;
std::string_view to_string(Kind k) noexcept;
std::string_view to_string(Op op) noexcept;
std::optional<Severity> parse_severity(std::string_view s) noexcept;

/// Human-readable condition for alert messages, e.g. `co > 50 for 30s`.
std::string describe(const Rule& rule);

}  // namespace peregrine::rules
