#include <peregrine/rules/evaluators.hpp>

#include <algorithm>
#include <cmath>

namespace peregrine::rules {

void RateWindow::push(core::Micros ts, double value) {
  if (size_ == buf_.size()) {
    if (buf_.size() >= kMaxPoints) {
      head_ = (head_ + 1) % static_cast<std::uint32_t>(buf_.size());
      --size_;
    } else {
      // Unroll the ring into a larger buffer; growth stops once the ring
      // holds a window's worth of readings.
      std::vector<Point> bigger;
      bigger.reserve(std::max<std::size_t>(8, buf_.size() * 2));
      for (std::uint32_t i = 0; i < size_; ++i) bigger.push_back(at(i));
      bigger.resize(bigger.capacity());
      buf_ = std::move(bigger);
      head_ = 0;
    }
  }
  buf_[(head_ + size_) % buf_.size()] = Point{ts, value};
  ++size_;
}

void RateWindow::evict_before(core::Micros cutoff) noexcept {
  while (size_ > 0 && buf_[head_].ts < cutoff) {
    head_ = (head_ + 1) % static_cast<std::uint32_t>(buf_.size());
    --size_;
  }
}

double RateWindow::min() const noexcept {
  double m = INFINITY;
  for (std::uint32_t i = 0; i < size_; ++i) m = std::min(m, at(i).value);
  return m;
}

double RateWindow::max() const noexcept {
  double m = -INFINITY;
  for (std::uint32_t i = 0; i < size_; ++i) m = std::max(m, at(i).value);
  return m;
}

void SeriesState::reset_keep_open() noexcept {
  holding = false;
  samples = 0;
  hold_since_ts = hold_since_now = 0;
  deadline = kNever;
  mean = var = 0;
  window.clear();
}

bool breaches(const ThresholdParams& p, double v) noexcept {
  switch (p.op) {
    case Op::gt: return v > p.value;
    case Op::ge: return v >= p.value;
    case Op::lt: return v < p.value;
    case Op::le: return v <= p.value;
  }
  return false;
}

bool clears(const ThresholdParams& p, double v) noexcept {
  bool upward = p.op == Op::gt || p.op == Op::ge;
  return upward ? v < p.clear_level() : v > p.clear_level();
}

Verdict eval_threshold(const ThresholdParams& p, SeriesState& s, double v, core::Micros ts,
                       core::Micros now) noexcept {
  s.last_value = v;
  s.last_ts = ts;
  if (s.open) {
    if (clears(p, v)) {
      s.open = false;
      s.holding = false;
      return Verdict::resolve;
    }
    return breaches(p, v) ? Verdict::update : Verdict::none;
  }
  if (!breaches(p, v)) {
    s.holding = false;
    s.deadline = kNever;
    return Verdict::none;
  }
  if (p.for_us > 0) {
    if (!s.holding) {
      s.holding = true;
      s.hold_since_ts = ts;
      s.hold_since_now = now;
      s.deadline = now + p.for_us;
      return Verdict::none;
    }
    // Met by reading time (readings replayed after a reconnect may span the
    // hold at once) or by engine time (what the timer measures), whichever
    // comes first; a skewed device clock then cannot stretch the hold.
    if (ts - s.hold_since_ts < p.for_us && now - s.hold_since_now < p.for_us) return Verdict::none;
  }
  s.holding = false;
  s.deadline = kNever;
  s.open = true;
  return Verdict::open;
}

Verdict eval_rate(const RateParams& p, SeriesState& s, double v, core::Micros ts) {
  s.last_value = v;
  s.last_ts = ts;
  s.window.evict_before(ts - p.window_us);
  s.window.push(ts, v);
  bool cond = (p.rise && v - s.window.min() >= *p.rise) || (p.fall && s.window.max() - v >= *p.fall);
  if (cond) {
    if (s.open) return Verdict::update;
    s.open = true;
    return Verdict::open;
  }
  if (!s.open) return Verdict::none;
  s.open = false;
  return Verdict::resolve;
}

Verdict eval_absence(const AbsenceParams& p, SeriesState& s, double v, core::Micros ts,
                     core::Micros now) noexcept {
  s.last_value = v;
  s.last_ts = ts;
  s.deadline = now + p.timeout_us;
  if (!s.open) return Verdict::none;
  s.open = false;
  return Verdict::resolve;
}

double anomaly_z(const SeriesState& s, double v) noexcept {
  if (s.samples == 0) return 0;
  double sd = std::sqrt(s.var);
  double d = v - s.mean;
  // A perfectly flat baseline has no spread: any change is infinitely
  // unlikely under it, no change is not anomalous at all.
  if (sd <= 1e-12 * std::max(1.0, std::fabs(s.mean))) return d == 0 ? 0 : std::copysign(INFINITY, d);
  return d / sd;
}

Verdict eval_anomaly(const AnomalyParams& p, SeriesState& s, double v, core::Micros ts) noexcept {
  s.last_value = v;
  s.last_ts = ts;
  bool warm = s.samples >= p.warmup;
  bool anomalous = warm && std::fabs(anomaly_z(s, v)) > p.z;
  if (anomalous) {
    // Anomalous samples stay out of the baseline, so a spike (or a slow
    // drift that starts as one) cannot teach the baseline that it is normal
    // and resolve itself.
    if (s.open) return Verdict::update;
    s.open = true;
    return Verdict::open;
  }
  if (s.samples == 0) {
    s.mean = v;
    s.var = 0;
  } else {
    // West's incremental EWMA of mean and variance.
    double d = v - s.mean;
    double inc = p.alpha * d;
    s.mean += inc;
    s.var = (1 - p.alpha) * (s.var + d * inc);
  }
  if (s.samples < p.warmup) ++s.samples;
  if (!s.open) return Verdict::none;
  s.open = false;
  return Verdict::resolve;
}

Verdict evaluate(const Rule& rule, SeriesState& s, double v, core::Micros ts, core::Micros now) {
  if (!std::isfinite(v)) return Verdict::none;
  switch (rule.kind) {
    case Kind::threshold: return eval_threshold(*std::get_if<ThresholdParams>(&rule.params), s, v, ts, now);
    case Kind::rate: return eval_rate(*std::get_if<RateParams>(&rule.params), s, v, ts);
    case Kind::absence: return eval_absence(*std::get_if<AbsenceParams>(&rule.params), s, v, ts, now);
    case Kind::anomaly: return eval_anomaly(*std::get_if<AnomalyParams>(&rule.params), s, v, ts);
  }
  return Verdict::none;
}

Verdict on_deadline(const Rule& rule, SeriesState& s, core::Micros now) noexcept {
  if (s.deadline > now) return Verdict::none;
  s.deadline = kNever;
  if (s.open) return Verdict::none;
  if (rule.kind == Kind::threshold) {
    if (!s.holding) return Verdict::none;
    s.holding = false;
  } else if (rule.kind != Kind::absence) {
    return Verdict::none;
  }
  s.open = true;
  return Verdict::open;
}

bool needs_clock(const Rule& rule) noexcept {
  if (rule.kind == Kind::absence) return true;
  auto* t = std::get_if<ThresholdParams>(&rule.params);
  return t && t->for_us > 0;
}

}  // namespace peregrine::rules
