#include <peregrine/rules/engine.hpp>

#include <algorithm>

namespace peregrine::rules {
namespace {

using nlohmann::json;

json micros_or_null(core::Micros t) { return t == kNever ? json(nullptr) : json(t); }

core::Micros micros_or_never(const json& j, const char* key) {
  auto it = j.find(key);
  return (it == j.end() || !it->is_number_integer()) ? kNever : it->get<core::Micros>();
}

// Threshold states that are neither open nor holding carry nothing a restart
// needs; skipping them keeps the snapshot proportional to what is going on.
bool worth_keeping(const Rule& r, const SeriesState& st) {
  if (r.kind == Kind::threshold) return st.open || st.holding;
  return true;
}

}  // namespace

EngineSnapshot Engine::capture() const {
  EngineSnapshot snap;
  for (const auto& [id, slot] : rules_) {
    for (auto idx : slot->states) {
      const StateSlot& ss = states_[idx];
      if (!worth_keeping(slot->rule, ss.st)) continue;
      const SeriesEntry& e = series_[ss.series];
      snap.entries.push_back({id, slot->rule.kind, ss.series, e.device, e.metric, ss.st});
    }
  }
  return snap;
}

json to_json(const EngineSnapshot& snap) {
  json states = json::array();
  for (const EngineSnapshot::Entry& en : snap.entries) {
    const SeriesState& st = en.st;
    json j = {{"rule", en.rule},
              {"kind", to_string(en.kind)},
              {"series", en.series},
              {"device", en.device},
              {"metric", en.metric},
              {"open", st.open},
              {"last_value", st.last_value},
              {"last_ts", st.last_ts},
              {"deadline", micros_or_null(st.deadline)}};
    if (st.holding) {
      j["hold_since_ts"] = st.hold_since_ts;
      j["hold_since_now"] = st.hold_since_now;
    }
    if (en.kind == Kind::anomaly) {
      j["samples"] = st.samples;
      j["mean"] = st.mean;
      j["var"] = st.var;
    }
    if (en.kind == Kind::rate) {
      json w = json::array();
      for (std::uint32_t i = 0; i < st.window.size(); ++i) {
        w.push_back({st.window.at(i).ts, st.window.at(i).value});
      }
      j["window"] = std::move(w);
    }
    states.push_back(std::move(j));
  }
  return json{{"version", 1}, {"states", std::move(states)}};
}

std::size_t Engine::restore(const json& snap) {
  if (!snap.is_object() || !snap.contains("states") || !snap["states"].is_array()) return 0;
  core::Micros now = clock_.now_us();
  std::size_t restored = 0;
  for (const auto& j : snap["states"]) {
    try {
      auto it = rules_.find(j.at("rule").get<RuleId>());
      if (it == rules_.end()) continue;
      RuleSlot& slot = *it->second;
      if (!slot.rule.enabled || j.at("kind").get<std::string>() != to_string(slot.rule.kind)) continue;
      auto series = j.at("series").get<core::SeriesKey>();
      SeriesEntry& e = entry(series);
      auto device = j.at("device").get<std::string>();
      auto metric = j.at("metric").get<std::string>();
      if (metric != slot.rule.metric) continue;
      if (!e.device.empty() && (e.device != device || e.metric != metric)) continue;
      e.device = device;
      e.metric = metric;
      e.gen = 0;  // bindings are built on the series' first sample
      std::uint32_t idx = state_for(slot, series);
      SeriesState& st = states_[idx].st;
      st.open = j.at("open").get<bool>();
      st.last_value = j.at("last_value").get<double>();
      st.last_ts = j.at("last_ts").get<core::Micros>();
      st.deadline = micros_or_never(j, "deadline");
      if (j.contains("hold_since_ts")) {
        st.holding = true;
        st.hold_since_ts = j["hold_since_ts"].get<core::Micros>();
        st.hold_since_now = j["hold_since_now"].get<core::Micros>();
      }
      if (slot.rule.kind == Kind::anomaly) {
        st.samples = j.at("samples").get<std::uint32_t>();
        st.mean = j.at("mean").get<double>();
        st.var = j.at("var").get<double>();
      }
      if (slot.rule.kind == Kind::rate) {
        for (const auto& p : j.at("window")) st.window.push(p.at(0).get<core::Micros>(), p.at(1).get<double>());
      }
      if (auto* a = std::get_if<AbsenceParams>(&slot.rule.params); a && !st.open) {
        st.deadline = std::max(st.deadline == kNever ? 0 : st.deadline, now + a->timeout_us);
      }
      schedule(idx);
      ++restored;
    } catch (const json::exception&) {
      continue;  // one malformed entry must not lose the others
    }
  }
  return restored;
}

}  // namespace peregrine::rules
