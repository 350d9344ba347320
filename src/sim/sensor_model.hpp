#pragma once
// Synthetic sensor readings for peregrine-sim: per device and metric a
// mean-reverting random walk (Ornstein-Uhlenbeck, one step per message) in a
// plausible range, plus rare CO spikes that decay over the next messages.
// One model per device; not thread-safe.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace peregrine::sim {

struct MetricSpec {
  std::string name;
  double mean_lo, mean_hi;  ///< each device draws its own mean in this range
  double sigma;             ///< step noise
  double min, max;          ///< hard clamp
  int decimals;
};

/// Known metrics (co, temperature, humidity, pressure); any other name gets
/// a generic 0..100 walk.
MetricSpec metric_spec(const std::string& name);

class SensorModel {
 public:
  SensorModel(const std::vector<MetricSpec>& specs, std::mt19937_64& rng);
  /// Advances every metric one step and appends `,"name":value` for each.
  void step_into(std::string& out, std::mt19937_64& rng);

 private:
  struct Walk {
    const MetricSpec* spec;
    double mean;
    double x;
  };
  std::vector<Walk> walks_;
  double co_spike_ = 0;
};

}  // namespace peregrine::sim
