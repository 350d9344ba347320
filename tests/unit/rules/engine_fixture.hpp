#pragma once
// Shared by the rules unit tests: an Engine on a ManualClock with a sink
// that records every transition, and hand-made devices.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/engine.hpp>

namespace peregrine::rules::testing {

inline constexpr core::Micros kSec = 1'000'000;

struct Recorded {
  TransitionKind kind;
  Cause cause;
  RuleId rule;
  std::string device;
  std::string metric;
  double value;
  core::Micros ts;
};

class RecordingSink final : public AlertSink {
 public:
  void on_transition(const Transition& t) override {
    got.push_back({t.kind, t.cause, t.rule->id, std::string(t.device), std::string(t.metric), t.value, t.ts});
  }
  std::size_t count(TransitionKind k) const {
    std::size_t n = 0;
    for (const auto& r : got) n += r.kind == k;
    return n;
  }
  std::vector<Recorded> got;
};

inline Rule rule_from(const std::string& body, RuleId id, core::TenantId tenant = core::kDefaultTenant) {
  auto r = parse_rule(nlohmann::json::parse(body), tenant);
  if (auto* e = std::get_if<RuleError>(&r)) {
    ADD_FAILURE() << e->field << ": " << e->message;
    return Rule{};
  }
  auto rule = std::get<Rule>(std::move(r));
  rule.id = id;
  return rule;
}

class EngineTest : public ::testing::Test {
 protected:
  devices::Device& device(const std::string& id, std::vector<std::int64_t> groups = {},
                          core::TenantId tenant = core::kDefaultTenant) {
    auto d = std::make_unique<devices::Device>();
    d->rec.id = id;
    d->rec.tenant = tenant;
    d->rec.group_ids = std::move(groups);
    devs_.push_back(std::move(d));
    return *devs_.back();
  }
  devices::Series& series(devices::Device& d, const std::string& metric) {
    for (auto& s : d.series) {
      if (s.metric == metric) return s;
    }
    d.series.reserve(8);
    d.series.push_back(devices::Series{metric, next_key_++, 0, 0, false});
    return d.series.back();
  }
  /// A reading at the clock's current time.
  void feed(devices::Device& d, const std::string& metric, double v) {
    engine_->on_sample(Sample{d, series(d, metric), v, clock_.now_us(), 1});
  }
  void advance(core::Micros d) {
    clock_.advance(d);
    engine_->tick(clock_.now_us());
  }

  core::ManualClock clock_;
  RecordingSink sink_;
  metrics::Registry metrics_;
  std::unique_ptr<Engine> engine_ = std::make_unique<Engine>(clock_, sink_, metrics_);
  std::vector<std::unique_ptr<devices::Device>> devs_;
  core::SeriesKey next_key_ = 1;
};

}  // namespace peregrine::rules::testing
