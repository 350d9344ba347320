#pragma once
/// The rule kinds as pure functions of (params, per-series state, value,
/// reading ts, clock now). They update `state` in place and say whether an
/// alert opens, repeats (update) or resolves. No I/O; the only allocation is
/// a rate window growing. Used by rules::Engine (live) and rules::backtest.
///
/// Times: `ts` is the reading's timestamp, `now` the engine clock (server
/// time live, reading time in a backtest). A state wanting a timer sets
/// `deadline` (engine clock); the engine calls on_deadline() when it is due.

#include <cstdint>
#include <vector>

#include <peregrine/core/types.hpp>
#include <peregrine/rules/rule.hpp>

namespace peregrine::rules {

enum class Verdict : std::uint8_t { none, open, update, resolve };

/// Recent (ts, value) points of one series for a rate rule, oldest first,
/// in a ring that grows to the window's population (then stops allocating)
/// up to kMaxPoints; beyond that the oldest points are dropped.
class RateWindow {
 public:
  static constexpr std::uint32_t kMaxPoints = 4096;
  struct Point {
    core::Micros ts;
    double value;
  };
  void push(core::Micros ts, double value);
  /// Drops points older than `cutoff`.
  void evict_before(core::Micros cutoff) noexcept;
  double min() const noexcept;
  double max() const noexcept;
  std::uint32_t size() const noexcept { return size_; }
  const Point& at(std::uint32_t i) const noexcept { return buf_[(head_ + i) % buf_.size()]; }
  void clear() noexcept { head_ = size_ = 0; }

 private:
  std::vector<Point> buf_;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

/// Per-(rule, series) state. One flat struct for every kind; the fields a
/// kind does not use stay at their defaults.
struct SeriesState {
  bool open = false;              ///< this rule's alert is open for the series
  bool holding = false;           ///< threshold: breached, hold not yet met
  std::uint32_t samples = 0;      ///< anomaly: samples in the baseline
  double last_value = 0;
  core::Micros last_ts = 0;       ///< reading ts of the last value
  core::Micros hold_since_ts = 0; ///< threshold: reading ts the breach began
  core::Micros hold_since_now = 0;///< threshold: engine clock the breach began
  core::Micros deadline = kNever; ///< engine clock of the next timer check
  double mean = 0;                ///< anomaly: EWMA mean
  double var = 0;                 ///< anomaly: EWMA variance
  RateWindow window;              ///< rate

  /// Forgets everything kind-specific (after a params change) but keeps
  /// `open`, so an open alert still resolves by the new condition.
  void reset_keep_open() noexcept;
};

bool breaches(const ThresholdParams& p, double v) noexcept;
/// True when `v` is back past the hysteresis level (strictly).
bool clears(const ThresholdParams& p, double v) noexcept;

Verdict eval_threshold(const ThresholdParams& p, SeriesState& s, double v, core::Micros ts,
                       core::Micros now) noexcept;
Verdict eval_rate(const RateParams& p, SeriesState& s, double v, core::Micros ts);
Verdict eval_absence(const AbsenceParams& p, SeriesState& s, double v, core::Micros ts,
                     core::Micros now) noexcept;
/// The z-score of `v` against the baseline before `v` (0 during warmup).
double anomaly_z(const SeriesState& s, double v) noexcept;
Verdict eval_anomaly(const AnomalyParams& p, SeriesState& s, double v, core::Micros ts) noexcept;

/// Dispatches on rule.kind. Non-finite values are ignored (Verdict::none).
Verdict evaluate(const Rule& rule, SeriesState& s, double v, core::Micros ts, core::Micros now);

/// Timer: a threshold hold met with no reading breaking it, or an absence
/// timeout. Returns open (value = s.last_value) or none; clears `deadline`
/// when nothing more is due.
Verdict on_deadline(const Rule& rule, SeriesState& s, core::Micros now) noexcept;

/// Whether evaluating `rule` needs the clock (holds, absence timers).
bool needs_clock(const Rule& rule) noexcept;

}  // namespace peregrine::rules
