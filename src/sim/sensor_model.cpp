#include "sim/sensor_model.hpp"

#include <algorithm>
#include <cstdio>

namespace peregrine::sim {
namespace {

constexpr double kReversion = 0.05;     // pull towards the mean per step
constexpr double kSpikeChance = 0.001;  // per CO reading
constexpr double kSpikeDecay = 0.85;    // per following reading

}  // namespace

MetricSpec metric_spec(const std::string& name) {
  if (name == "co") return {name, 0.5, 4.0, 0.25, 0.0, 500.0, 2};
  if (name == "temperature") return {name, 19.0, 25.0, 0.05, 18.0, 26.0, 2};
  if (name == "humidity") return {name, 35.0, 55.0, 0.2, 30.0, 60.0, 1};
  if (name == "pressure") return {name, 1008.0, 1018.0, 0.05, 980.0, 1040.0, 2};
  return {name, 20.0, 80.0, 0.5, 0.0, 100.0, 2};
}

SensorModel::SensorModel(const std::vector<MetricSpec>& specs, std::mt19937_64& rng) {
  walks_.reserve(specs.size());
  for (const auto& s : specs) {
    double mean = std::uniform_real_distribution<double>(s.mean_lo, s.mean_hi)(rng);
    walks_.push_back({&s, mean, mean});
  }
}

void SensorModel::step_into(std::string& out, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (auto& w : walks_) {
    w.x += kReversion * (w.mean - w.x) + w.spec->sigma * noise(rng);
    w.x = std::clamp(w.x, w.spec->min, w.spec->max);
    double v = w.x;
    if (w.spec->name == "co") {
      // A spike replaces the reading with 40-120 ppm, then fades out.
      if (unit(rng) < kSpikeChance) co_spike_ = 40.0 + 80.0 * unit(rng);
      v = std::max(v, co_spike_);
      co_spike_ = co_spike_ * kSpikeDecay < 1.0 ? 0.0 : co_spike_ * kSpikeDecay;
    }
    char buf[96];
    int n =
        std::snprintf(buf, sizeof buf, ",\"%s\":%.*f", w.spec->name.c_str(), w.spec->decimals, v);
    out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
  }
}

}  // namespace peregrine::sim
