#include <peregrine/rules/backtest.hpp>

#include <memory>
#include <unordered_map>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/engine.hpp>

namespace peregrine::rules {
namespace {

class Collector final : public AlertSink {
 public:
  explicit Collector(BacktestResult& out) : out_(out) {}

  void on_transition(const Transition& t) override {
    if (t.kind == TransitionKind::open) {
      open_[t.series] = out_.alerts.size();
      out_.alerts.push_back(BacktestAlert{std::string(t.device), std::string(t.metric), t.ts, std::nullopt,
                                          t.value});
    } else if (t.kind == TransitionKind::resolve) {
      if (auto it = open_.find(t.series); it != open_.end()) {
        out_.alerts[it->second].resolved_at = t.ts;
        open_.erase(it);
      }
    }
  }

 private:
  BacktestResult& out_;
  std::unordered_map<core::SeriesKey, std::size_t> open_;
};

}  // namespace

BacktestResult backtest(const Rule& rule, std::span<const BacktestPoint> points,
                        std::optional<core::Micros> until) {
  BacktestResult result;
  Collector sink(result);
  metrics::Registry scratch;  // the live counter must not count backtests
  core::ManualClock clock(points.empty() ? 0 : points.front().ts);
  Engine engine(clock, sink, scratch);

  Rule r = rule;
  if (r.id == 0) r.id = 1;
  r.enabled = true;
  r.scope = Scope{};  // the caller already picked the devices in scope
  engine.upsert_rule(r);

  std::unordered_map<std::string, std::unique_ptr<devices::Device>> devs;
  core::SeriesKey next_key = 1;
  for (const auto& p : points) {
    auto& dev = devs[p.device];
    if (!dev) {
      dev = std::make_unique<devices::Device>();
      dev->rec.id = p.device;
      dev->rec.tenant = r.tenant;
      dev->series.push_back(devices::Series{r.metric, next_key++, 0, 0, false});
    }
    clock.set(p.ts);
    engine.tick(p.ts);
    engine.on_sample(Sample{*dev, dev->series.front(), p.value, p.ts, 0});
    ++result.evaluated;
  }
  core::Micros end = until.value_or(points.empty() ? 0 : points.back().ts);
  if (!points.empty() && end >= points.back().ts) {
    clock.set(end);
    engine.tick(end);
  }
  return result;
}

nlohmann::json to_json(const BacktestResult& r) {
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& a : r.alerts) {
    alerts.push_back({{"device", a.device},
                      {"metric", a.metric},
                      {"opened_at", core::format_rfc3339(a.opened_at)},
                      {"resolved_at", a.resolved_at ? nlohmann::json(core::format_rfc3339(*a.resolved_at))
                                                    : nlohmann::json(nullptr)},
                      {"value", a.value}});
  }
  return {{"alerts", std::move(alerts)}, {"evaluated", r.evaluated}};
}

}  // namespace peregrine::rules
