#include <peregrine/rules/engine.hpp>

#include <charconv>

namespace peregrine::rules {
namespace {

// Evaluations are counted in a plain integer and added to the shared atomic
// counter in batches: one relaxed RMW per reading would be a visible share of
// a ~20 ns evaluation.
constexpr std::uint64_t kFlushEvery = 4096;

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void make_key(std::string& out, char tag, std::string_view head, std::string_view metric) {
  out.clear();
  out += tag;
  out += head;
  out += '\x1f';
  out += metric;
}

void make_key(std::string& out, char tag, std::int64_t head, std::string_view metric) {
  out.clear();
  out += tag;
  append_int(out, head);
  out += '\x1f';
  out += metric;
}

bool same_binding(const Rule& a, const Rule& b) {
  return a.tenant == b.tenant && a.metric == b.metric && a.scope == b.scope && a.kind == b.kind &&
         a.enabled == b.enabled;
}

}  // namespace

Engine::Engine(const core::Clock& clock, AlertSink& sink, metrics::Registry& metrics)
    : clock_(clock),
      sink_(sink),
      evaluations_(metrics.counter("peregrine_rules_evaluations_total",
                                   "Rule evaluations (one per reading and matching rule)")) {
  key_buf_.reserve(160);
}

Engine::SeriesEntry& Engine::entry(core::SeriesKey key) {
  if (key >= series_.size()) series_.resize(static_cast<std::size_t>(key) + 1);
  return series_[key];
}

void Engine::on_sample(const Sample& s) {
  SeriesEntry& e = entry(s.series.key);
  if (e.gen != gen_) rebind(e, s.device.rec, s.series);
  if (e.bindings.empty()) return;
  core::Micros now = 0;
  bool have_now = false;
  for (const Binding& b : e.bindings) {
    StateSlot& ss = states_[b.state];
    if (b.slot->clock && !have_now) {
      now = clock_.now_us();
      have_now = true;
    }
    core::Micros before = ss.st.deadline;
    Verdict v = evaluate(b.slot->rule, ss.st, s.value, s.ts_us, now);
    if (ss.st.deadline != before) schedule(b.state);
    if (v == Verdict::none) continue;
    auto kind = v == Verdict::open ? TransitionKind::open
                : v == Verdict::update ? TransitionKind::update
                                       : TransitionKind::resolve;
    emit(kind, Cause::reading, ss, s.value, s.ts_us, s.arrival_ns);
  }
  pending_evals_ += e.bindings.size();
  if (pending_evals_ >= kFlushEvery) flush_metrics();
}

void Engine::rebind(SeriesEntry& e, const devices::DeviceRecord& rec,
                    const devices::Series& series) {
  // A restored entry for this key that names another series means keys were
  // reassigned across the restart: its state is not this series' state.
  if (!e.device.empty() && (e.device != rec.id || e.metric != series.metric)) {
    drop_series(series.key);
    e.bindings.clear();
  }
  e.device = rec.id;
  e.metric = series.metric;
  std::vector<Binding> before = std::move(e.bindings);
  e.bindings.clear();
  make_key(key_buf_, 'd', rec.id, series.metric);
  collect(key_buf_, rec.tenant, e, series.key);
  for (auto g : rec.group_ids) {
    make_key(key_buf_, 'g', g, series.metric);
    collect(key_buf_, rec.tenant, e, series.key);
  }
  make_key(key_buf_, 't', rec.tenant, series.metric);
  collect(key_buf_, rec.tenant, e, series.key);
  e.gen = gen_;
  // Rules that applied before and no longer do (the device left a group):
  // their state for this series goes, and an open alert resolves. A rule
  // that was removed meanwhile has no state left to find.
  for (const Binding& old : before) {
    bool kept = false;
    for (const Binding& b : e.bindings) kept = kept || b.rule == old.rule;
    if (kept) continue;
    const auto it = state_index_.find(StateKey{old.rule, series.key});
    if (it != state_index_.end()) release_state(it->second, true);
  }
}

void Engine::rescope(const devices::Device& dev) {
  for (const devices::Series& s : dev.series) {
    if (s.key < series_.size() && series_[s.key].gen != 0) rebind(series_[s.key], dev.rec, s);
  }
}

void Engine::release_state(std::uint32_t idx, bool resolve_open) {
  StateSlot& ss = states_[idx];
  if (!ss.live) return;
  if (resolve_open && ss.st.open) {
    ss.st.open = false;
    emit(TransitionKind::resolve, Cause::rule_changed, ss, ss.st.last_value, clock_.now_us(), 0);
  }
  std::erase(ss.slot->states, idx);
  state_index_.erase(StateKey{ss.slot->rule.id, ss.series});
  ss.live = false;
  ++ss.token;
  ss.st = SeriesState{};
  free_states_.push_back(idx);
}

void Engine::collect(const std::string& key, core::TenantId tenant, SeriesEntry& e,
                     core::SeriesKey series) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  for (RuleSlot* slot : it->second) {
    if (slot->rule.tenant != tenant) continue;
    bool dup = false;  // a device in two groups of the same rule's scope is impossible, but cheap to rule out
    for (const auto& b : e.bindings) dup = dup || b.slot == slot;
    if (!dup) e.bindings.push_back(Binding{slot, slot->rule.id, state_for(*slot, series)});
  }
}

std::uint32_t Engine::state_for(RuleSlot& slot, core::SeriesKey series) {
  StateKey k{slot.rule.id, series};
  if (auto it = state_index_.find(k); it != state_index_.end()) return it->second;
  std::uint32_t idx;
  if (!free_states_.empty()) {
    idx = free_states_.back();
    free_states_.pop_back();
  } else {
    idx = static_cast<std::uint32_t>(states_.size());
    states_.emplace_back();
  }
  StateSlot& ss = states_[idx];
  ss.st = SeriesState{};
  ss.slot = &slot;
  ss.series = series;
  ss.heap_at = kNever;
  ss.live = true;
  slot.states.push_back(idx);
  state_index_.emplace(k, idx);
  return idx;
}

void Engine::drop_states(RuleSlot& slot, bool resolve_open) {
  core::Micros now = clock_.now_us();
  for (auto idx : slot.states) {
    StateSlot& ss = states_[idx];
    if (resolve_open && ss.st.open) {
      ss.st.open = false;
      emit(TransitionKind::resolve, Cause::rule_changed, ss, ss.st.last_value, now, 0);
    }
    state_index_.erase(StateKey{slot.rule.id, ss.series});
    ss.live = false;
    ++ss.token;
    ss.st = SeriesState{};
    free_states_.push_back(idx);
  }
  slot.states.clear();
}

void Engine::on_series_removed(core::SeriesKey series) {
  drop_series(series);
  if (series < series_.size()) {
    series_[series].bindings.clear();
    series_[series].gen = 0;  // rebind if the key is ever seen again
  }
}

void Engine::drop_series(core::SeriesKey series) {
  for (auto& [id, slot] : rules_) {
    auto& v = slot->states;
    for (std::size_t i = 0; i < v.size();) {
      StateSlot& ss = states_[v[i]];
      if (ss.series != series) { ++i; continue; }
      state_index_.erase(StateKey{id, series});
      ss.live = false;
      ++ss.token;
      free_states_.push_back(v[i]);
      v[i] = v.back();
      v.pop_back();
    }
  }
}

void Engine::index_add(RuleSlot& slot) {
  const Rule& r = slot.rule;
  switch (r.scope.type) {
    case Scope::Type::device: make_key(key_buf_, 'd', r.scope.device, r.metric); break;
    case Scope::Type::group: make_key(key_buf_, 'g', r.scope.group, r.metric); break;
    case Scope::Type::all: make_key(key_buf_, 't', r.tenant, r.metric); break;
  }
  index_[key_buf_].push_back(&slot);
}

void Engine::index_remove(RuleSlot& slot) {
  const Rule& r = slot.rule;
  switch (r.scope.type) {
    case Scope::Type::device: make_key(key_buf_, 'd', r.scope.device, r.metric); break;
    case Scope::Type::group: make_key(key_buf_, 'g', r.scope.group, r.metric); break;
    case Scope::Type::all: make_key(key_buf_, 't', r.tenant, r.metric); break;
  }
  auto it = index_.find(key_buf_);
  if (it == index_.end()) return;
  std::erase(it->second, &slot);
  if (it->second.empty()) index_.erase(it);
}

void Engine::upsert_rule(Rule rule) {
  auto it = rules_.find(rule.id);
  if (it == rules_.end()) {
    auto slot = std::make_unique<RuleSlot>();
    slot->rule = std::move(rule);
    slot->clock = needs_clock(slot->rule);
    if (slot->rule.enabled) index_add(*slot);
    rules_.emplace(slot->rule.id, std::move(slot));
    ++gen_;
    return;
  }
  RuleSlot& slot = *it->second;
  if (!same_binding(slot.rule, rule)) {
    if (slot.rule.enabled) index_remove(slot);
    drop_states(slot, true);
    slot.rule = std::move(rule);
    slot.clock = needs_clock(slot.rule);
    if (slot.rule.enabled) index_add(slot);
    ++gen_;
    return;
  }
  bool params_changed = !(slot.rule.params == rule.params);
  slot.rule = std::move(rule);
  slot.clock = needs_clock(slot.rule);
  if (!params_changed) return;
  core::Micros now = clock_.now_us();
  auto* absence = std::get_if<AbsenceParams>(&slot.rule.params);
  for (auto idx : slot.states) {
    SeriesState& st = states_[idx].st;
    st.reset_keep_open();
    if (absence && !st.open) {
      st.deadline = now + absence->timeout_us;
      schedule(idx);
    }
  }
}

bool Engine::remove_rule(RuleId id) {
  auto it = rules_.find(id);
  if (it == rules_.end()) return false;
  if (it->second->rule.enabled) index_remove(*it->second);
  drop_states(*it->second, true);
  rules_.erase(it);
  ++gen_;
  return true;
}

void Engine::for_each_rule(const std::function<void(const Rule&)>& fn) const {
  for (const auto& [id, slot] : rules_) fn(slot->rule);
}

const Rule* Engine::find_rule(RuleId id) const noexcept {
  auto it = rules_.find(id);
  return it == rules_.end() ? nullptr : &it->second->rule;
}

void Engine::schedule(std::uint32_t idx) {
  StateSlot& ss = states_[idx];
  core::Micros at = ss.st.deadline;
  if (at == kNever) return;
  // One live heap entry per state: a later deadline is picked up when the
  // earlier entry pops, so re-arming absence on every reading costs nothing.
  if (ss.heap_at != kNever && ss.heap_at <= at) return;
  timers_.push(Timer{at, idx, ss.token});
  ss.heap_at = at;
}

std::size_t Engine::tick(core::Micros now) {
  flush_metrics();
  std::size_t emitted = 0;
  while (!timers_.empty() && timers_.top().at <= now) {
    Timer t = timers_.top();
    timers_.pop();
    StateSlot& ss = states_[t.state];
    if (!ss.live || ss.token != t.token || ss.heap_at != t.at) continue;
    ss.heap_at = kNever;
    core::Micros due = ss.st.deadline;
    if (due == kNever) continue;
    if (due > now) {
      schedule(t.state);
      continue;
    }
    if (on_deadline(ss.slot->rule, ss.st, now) == Verdict::open) {
      emit(TransitionKind::open, Cause::timer, ss, ss.st.last_value, due, 0);
      ++emitted;
    }
    schedule(t.state);
  }
  return emitted;
}

core::Micros Engine::next_deadline() const noexcept {
  return timers_.empty() ? kNever : timers_.top().at;
}

void Engine::flush_metrics() noexcept {
  if (pending_evals_ == 0) return;
  evaluations_.inc(pending_evals_);
  pending_evals_ = 0;
}

void Engine::emit(TransitionKind kind, Cause cause, const StateSlot& ss, double value, core::Micros ts,
                  std::int64_t arrival_ns) {
  const SeriesEntry& e = series_[ss.series];
  const Rule& r = ss.slot->rule;
  sink_.on_transition(Transition{kind, cause, &r, e.device, e.metric, ss.series, value, ts, r.severity,
                                 arrival_ns});
}

}  // namespace peregrine::rules
