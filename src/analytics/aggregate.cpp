#include <peregrine/analytics/aggregate.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace peregrine::analytics {

void Partial::merge(const Partial& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  count += o.count;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  if (o.first_ts < first_ts) first_ts = o.first_ts, first = o.first;
  if (o.last_ts >= last_ts) last_ts = o.last_ts, last = o.last;
}

std::string_view to_string(Fn f) noexcept {
  switch (f) {
    case Fn::avg: return "avg";
    case Fn::min: return "min";
    case Fn::max: return "max";
    case Fn::count: return "count";
    case Fn::sum: return "sum";
    case Fn::first: return "first";
    case Fn::last: return "last";
  }
  return "avg";
}

std::optional<std::vector<Fn>> parse_fns(std::string_view list) {
  std::vector<Fn> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    bool found = false;
    for (Fn f : {Fn::avg, Fn::min, Fn::max, Fn::count, Fn::sum, Fn::first, Fn::last}) {
      if (name == to_string(f)) {
        if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
        found = true;
      }
    }
    if (!found) return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<core::Micros> parse_duration(std::string_view s) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || n <= 0 || n > 1'000'000) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
  core::Micros per = 0;
  if (unit == "ms") per = 1000;
  else if (unit == "s") per = kSecond;
  else if (unit == "m") per = kMinute;
  else if (unit == "h") per = kHour;
  else if (unit == "d") per = kDay;
  else return std::nullopt;
  return n * per;
}

core::Micros auto_bucket(core::Micros span, std::size_t points) {
  static constexpr std::array<core::Micros, 21> steps = {
      kSecond,     2 * kSecond,  5 * kSecond, 10 * kSecond, 15 * kSecond, 30 * kSecond, kMinute,
      2 * kMinute, 5 * kMinute,  10 * kMinute, 15 * kMinute, 30 * kMinute, kHour,       2 * kHour,
      3 * kHour,   6 * kHour,    12 * kHour,   kDay,         2 * kDay,     7 * kDay,     30 * kDay};
  const core::Micros want = span / static_cast<core::Micros>(std::max<std::size_t>(points, 1));
  for (core::Micros s : steps)
    if (s >= want) return s;
  return steps.back();
}

core::Micros floor_to(core::Micros t, core::Micros step) noexcept {
  const core::Micros q = t / step;
  return (t % step < 0 ? q - 1 : q) * step;
}

core::Micros ceil_to(core::Micros t, core::Micros step) noexcept {
  const core::Micros f = floor_to(t, step);
  return f == t ? t : f + step;
}

std::vector<Segment> plan(core::Micros from, core::Micros to, core::Micros bucket, core::Micros watermark) {
  std::vector<Segment> out;
  const auto add = [&](Source s, core::Micros a, core::Micros b) {
    if (a < b) out.push_back({s, a, b});
  };
  const core::Micros am = ceil_to(from, kMinute), bm = floor_to(to, kMinute);
  if (bucket % kMinute != 0 || am >= bm) {
    add(Source::raw, from, to);
    return out;
  }
  add(Source::raw, from, am);
  const core::Micros ah = ceil_to(am, kHour), bh = floor_to(bm, kHour);
  if (bucket % kHour == 0 && ah < bh) {
    add(Source::rollup_1m, am, ah);
    add(Source::rollup_1h, ah, bh);
    add(Source::rollup_1m, bh, bm);
  } else {
    add(Source::rollup_1m, am, bm);
  }
  // Rollups hold only rows below the watermark; the rest of their stretch is raw.
  add(Source::raw, std::max(am, watermark), bm);
  add(Source::raw, bm, to);
  return out;
}

}  // namespace peregrine::analytics
