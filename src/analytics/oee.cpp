#include <peregrine/analytics/oee.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <date/date.h>
#include <date/tz.h>

namespace peregrine::analytics {

namespace {

using std::chrono::microseconds;
using std::chrono::minutes;

const date::time_zone* zone(const std::string& tz) {
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    throw std::invalid_argument("unknown time zone '" + tz + "'");
  }
}

/// Local midnight of `d` plus `m` minutes, as UTC microseconds. A wall-clock
/// time the clocks skip (DST forward) maps to the moment of the change; one
/// they pass twice (DST back) to its first occurrence.
core::Micros at(const date::time_zone* z, date::local_days d, int m) {
  const date::local_time<minutes> t = d + minutes(m);
  return std::chrono::duration_cast<microseconds>(z->to_sys(t, date::choose::earliest).time_since_epoch()).count();
}

date::local_days local_day(const date::time_zone* z, core::Micros ts) {
  return date::floor<date::days>(z->to_local(date::sys_time<microseconds>(microseconds(ts))));
}

std::string day_label(date::local_days d) {
  const date::year_month_day ymd{d};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

/// `s` minus `cuts` (sorted, disjoint, inside s).
std::vector<Span> subtract(Span s, const std::vector<Span>& cuts) {
  std::vector<Span> out;
  core::Micros at_ = s.from;
  for (const Span& c : cuts) {
    if (c.from > at_) out.push_back({at_, c.from});
    at_ = std::max(at_, c.to);
  }
  if (at_ < s.to) out.push_back({at_, s.to});
  return out;
}

/// Sorts and merges overlapping spans.
void normalise(std::vector<Span>& spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.from < b.from; });
  std::vector<Span> merged;
  for (const Span& s : spans) {
    if (s.to <= s.from) continue;
    if (!merged.empty() && s.from <= merged.back().to)
      merged.back().to = std::max(merged.back().to, s.to);
    else
      merged.push_back(s);
  }
  spans = std::move(merged);
}

/// Time of `wanted` covered by `have` (sorted, disjoint).
core::Micros overlap(const std::vector<Span>& have, Span wanted) {
  auto it = std::lower_bound(have.begin(), have.end(), wanted.from,
                             [](const Span& s, core::Micros t) { return s.to <= t; });
  core::Micros sum = 0;
  for (; it != have.end() && it->from < wanted.to; ++it)
    sum += std::min(it->to, wanted.to) - std::max(it->from, wanted.from);
  return sum;
}

}  // namespace

std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4})
    if (s[static_cast<std::size_t>(i)] < '0' || s[static_cast<std::size_t>(i)] > '9') return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::string format_clock(int minutes_) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minutes_ / 60, minutes_ % 60);
  return buf;
}

bool valid_time_zone(const std::string& tz) {
  try {
    date::locate_zone(tz);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

core::Micros Period::planned() const {
  core::Micros p = span.to - span.from;
  for (const Span& b : breaks) p -= b.to - b.from;
  return p;
}

std::vector<Period> shift_periods(const std::vector<Shift>& shifts, core::Micros from, core::Micros to) {
  std::vector<Period> out;
  for (const Shift& s : shifts) {
    const date::time_zone* z = zone(s.tz);
    const bool overnight = s.end_min <= s.start_min;
    // A shift that started the day before `from` may still be running.
    for (date::local_days d = local_day(z, from) - date::days(1); d <= local_day(z, to); d += date::days(1)) {
      if ((s.weekdays & (1u << date::weekday(d).iso_encoding())) == 0) continue;
      const core::Micros a = at(z, d, s.start_min);
      const core::Micros b = at(z, overnight ? d + date::days(1) : d, s.end_min);
      if (b <= from || a >= to || b <= a) continue;
      Period p;
      p.label = day_label(d) + " " + s.name;
      p.shift_id = s.id;
      p.span = {std::max(a, from), std::min(b, to)};
      for (const auto& [bs, be] : s.breaks) {
        // On an overnight shift a break before the start time is on the next day.
        const date::local_days bd = overnight && bs < s.start_min ? d + date::days(1) : d;
        Span cut{at(z, bd, bs), at(z, be > bs ? bd : bd + date::days(1), be)};
        cut.from = std::max(cut.from, p.span.from);
        cut.to = std::min(cut.to, p.span.to);
        if (cut.from < cut.to) p.breaks.push_back(cut);
      }
      normalise(p.breaks);
      out.push_back(std::move(p));
    }
  }
  std::sort(out.begin(), out.end(), [](const Period& a, const Period& b) {
    return a.span.from != b.span.from ? a.span.from < b.span.from : a.shift_id < b.shift_id;
  });
  return out;
}

std::vector<Period> planned_union(const std::vector<Period>& periods) {
  std::vector<Span> spans;
  for (const Period& p : periods)
    for (const Span& s : subtract(p.span, p.breaks)) spans.push_back(s);
  normalise(spans);
  std::vector<Period> out(spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) out[i].span = spans[i];
  return out;
}

std::vector<Period> day_periods(const std::string& tz, core::Micros from, core::Micros to) {
  const date::time_zone* z = zone(tz);
  std::vector<Period> out;
  if (to <= from) return out;
  for (date::local_days d = local_day(z, from); d <= local_day(z, to - 1); d += date::days(1)) {
    Period p;
    p.label = day_label(d);
    p.span = {std::max(at(z, d, 0), from), std::min(at(z, d + date::days(1), 0), to)};
    if (p.span.from < p.span.to) out.push_back(std::move(p));
  }
  return out;
}

Totals& Totals::operator+=(const Totals& o) {
  planned += o.planned;
  run += o.run;
  ideal_s += o.ideal_s;
  total += o.total;
  good += o.good;
  return *this;
}

Factors factors(const Totals& t) {
  Factors f;
  if (t.planned > 0) f.availability = static_cast<double>(t.run) / static_cast<double>(t.planned);
  if (t.run > 0) f.performance = t.ideal_s / (static_cast<double>(t.run) / 1e6);
  if (t.total > 0) f.quality = t.good / t.total;
  if (f.availability && f.performance && f.quality) f.oee = *f.availability * *f.performance * *f.quality;
  return f;
}

double counter_increase(const std::vector<Sample>& counter, core::Micros from, core::Micros to) {
  auto it = std::lower_bound(counter.begin(), counter.end(), from,
                             [](const Sample& s, core::Micros t) { return s.ts < t; });
  double sum = 0;
  for (; it != counter.end() && it->ts < to; ++it) {
    if (it == counter.begin()) continue;  // the first sample ever is only a base
    const double prev = std::prev(it)->value;
    sum += it->value >= prev ? it->value - prev : it->value;  // a drop: the counter restarted
  }
  return sum;
}

std::vector<Totals> machine_totals(const MachineData& m, const std::vector<Period>& periods) {
  // When the machine ran: each running sample until the next sample, or max_gap.
  std::vector<Span> running;
  for (std::size_t i = 0; i < m.state.size(); ++i) {
    if (m.state[i].value != m.running) continue;
    core::Micros end = i + 1 < m.state.size() ? m.state[i + 1].ts : std::max(m.until, m.state[i].ts);
    if (m.max_gap > 0) end = std::min(end, m.state[i].ts + m.max_gap);
    running.push_back({m.state[i].ts, end});
  }
  normalise(running);
  const double ideal_cycle_s = m.ideal_rate_per_hour > 0 ? 3600.0 / m.ideal_rate_per_hour : 0;
  std::vector<Totals> out;
  out.reserve(periods.size());
  for (const Period& p : periods) {
    Totals t;
    for (const Span& planned : subtract(p.span, p.breaks)) {
      t.planned += planned.to - planned.from;
      t.run += overlap(running, planned);
    }
    t.total = counter_increase(m.total, p.span.from, p.span.to);
    t.good = counter_increase(m.good, p.span.from, p.span.to);
    t.ideal_s = t.total * ideal_cycle_s;
    out.push_back(t);
  }
  return out;
}

}  // namespace peregrine::analytics
