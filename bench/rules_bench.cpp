// Rule evaluation cost: ns per (reading, matching rule) with 10,000 devices
// and 5 threshold rules each loaded (issue 3 goal: < 100 ns).
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/engine.hpp>

namespace {

using namespace peregrine;

constexpr int kDevices = 10'000;
constexpr int kRulesPerDevice = 5;

class CountingSink final : public rules::AlertSink {
 public:
  void on_transition(const rules::Transition& t) override { benchmark::DoNotOptimize(n += t.value > 0); }
  std::uint64_t n = 0;
};

struct Fleet {
  core::ManualClock clock;
  metrics::Registry metrics;
  CountingSink sink;
  rules::Engine engine{clock, sink, metrics};
  std::vector<std::unique_ptr<devices::Device>> devices;

  // scoped_to_device: 5 rules per device (50,000 rules); otherwise 1 device
  // rule, 2 group rules and 2 tenant-wide rules per device's view.
  explicit Fleet(bool scoped_to_device) {
    rules::RuleId id = 1;
    auto add = [&](rules::Scope scope, double value) {
      rules::Rule r;
      r.id = id++;
      r.name = "bench";
      r.metric = "co";
      r.scope = std::move(scope);
      r.params = rules::ThresholdParams{rules::Op::gt, value, 0, value - 5};
      engine.upsert_rule(std::move(r));
    };
    for (int d = 0; d < kDevices; ++d) {
      auto dev = std::make_unique<devices::Device>();
      dev->rec.id = "dev-" + std::to_string(d);
      dev->rec.group_ids = {d % 100 + 1, 1000 + d % 7};
      dev->series.push_back(devices::Series{"co", static_cast<core::SeriesKey>(d + 1), 0, 0, false});
      int device_rules = scoped_to_device ? kRulesPerDevice : 1;
      for (int k = 0; k < device_rules; ++k) {
        add(rules::Scope{rules::Scope::Type::device, dev->rec.id, 0}, 50 + 10 * k);
      }
      devices.push_back(std::move(dev));
    }
    if (!scoped_to_device) {
      for (int g = 1; g <= 100; ++g) add(rules::Scope{rules::Scope::Type::group, {}, g}, 70);
      for (int g = 1000; g < 1007; ++g) add(rules::Scope{rules::Scope::Type::group, {}, g}, 80);
      add(rules::Scope{}, 90);
      add(rules::Scope{}, 100);
    }
  }
};

// `alert_share_pct` of readings cross a threshold (and clear again on the
// next reading of that device), exercising the open/resolve path too.
void run(benchmark::State& state, bool scoped_to_device) {
  Fleet fleet(scoped_to_device);
  const int share = static_cast<int>(state.range(0));
  std::uint64_t i = 0;
  for (int d = 0; d < kDevices; ++d) {  // first sight: bindings built outside the timing
    auto& dev = *fleet.devices[d];
    fleet.engine.on_sample(rules::Sample{dev, dev.series[0], 1.0, 0, 0});
  }
  fleet.engine.flush_metrics();
  auto& counter = fleet.metrics.counter("peregrine_rules_evaluations_total", "");
  const std::uint64_t warm = counter.value();
  for (auto _ : state) {
    auto& dev = *fleet.devices[i % kDevices];
    bool hot = share > 0 && (i / kDevices) % 2 == 0 && static_cast<int>(i % 100) < share;
    double v = hot ? 200.0 : 10.0 + static_cast<double>(i % 30);
    fleet.engine.on_sample(rules::Sample{dev, dev.series[0], v, static_cast<core::Micros>(i), 0});
    ++i;
  }
  fleet.engine.flush_metrics();
  auto evals = counter.value() - warm;
  state.counters["evals_per_reading"] = static_cast<double>(evals) / static_cast<double>(state.iterations());
  state.counters["ns_per_eval"] = benchmark::Counter(static_cast<double>(evals), benchmark::Counter::kIsRate |
                                                                                     benchmark::Counter::kInvert);
  state.counters["transitions"] = static_cast<double>(fleet.sink.n);
}

void BM_Threshold_DeviceScoped(benchmark::State& state) { run(state, true); }
void BM_Threshold_MixedScopes(benchmark::State& state) { run(state, false); }

BENCHMARK(BM_Threshold_DeviceScoped)->Arg(0)->Arg(5)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_Threshold_MixedScopes)->Arg(0)->Arg(5)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
