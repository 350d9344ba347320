#pragma once
/// The point in the ingest path where every reading is offered to the rules
/// engine, inline on the event loop, before it is stored. Implementations
/// must not block, do I/O, or throw; they should not allocate in the common case.

#include <peregrine/core/types.hpp>
#include <peregrine/devices/registry.hpp>

namespace peregrine::rules {

/// One metric value of one reading, with the context a rule needs.
struct Sample {
  const devices::Device& device;
  const devices::Series& series;  ///< series.key identifies (device, metric)
  double value;
  core::Micros ts_us;             ///< reading time
  std::int64_t arrival_ns;        ///< core::steady_ns() at arrival (for latency)
};

class ReadingHook {
 public:
  virtual ~ReadingHook() = default;
  /// Called once per metric value, in arrival order, on the event loop.
  virtual void on_sample(const Sample& s) = 0;
  /// The series' device was deleted: drop its state and pending timers.
  virtual void on_series_removed(core::SeriesKey /*series*/) {}
};

}  // namespace peregrine::rules
