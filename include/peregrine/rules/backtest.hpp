#pragma once
/// Backtesting: runs one rule over stored readings with the same Engine and
/// evaluators as live, with the clock driven by the readings' timestamps
/// (timers — holds, absence — fire between readings at their deadline).
/// Pure and self-contained: any thread (the API runs it on the query pool).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/rules/rule.hpp>

namespace peregrine::rules {

/// One stored reading of the rule's metric. The caller selects the devices
/// in the rule's scope; the rule's own scope is not re-checked.
struct BacktestPoint {
  std::string device;
  core::Micros ts = 0;
  double value = 0;
};

struct BacktestAlert {
  std::string device;
  std::string metric;
  core::Micros opened_at = 0;
  std::optional<core::Micros> resolved_at;  ///< nullopt: still open at the end
  double value = 0;                          ///< the value that opened it
};

struct BacktestResult {
  std::vector<BacktestAlert> alerts;  ///< in opening order
  std::uint64_t evaluated = 0;        ///< readings offered to the rule
};

/// `points` sorted by ts. `until` (e.g. the request's `to`) lets absence
/// timers fire after the last reading; default: the last reading's ts.
BacktestResult backtest(const Rule& rule, std::span<const BacktestPoint> points,
                        std::optional<core::Micros> until = std::nullopt);

/// `{"alerts": [{"device","metric","opened_at","resolved_at","value"}], "evaluated": n}`
/// with RFC 3339 timestamps (CONTRACT.md).
nlohmann::json to_json(const BacktestResult& r);

}  // namespace peregrine::rules
