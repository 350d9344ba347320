#include <peregrine/analytics/svg_chart.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

#include <peregrine/analytics/aggregate.hpp>

namespace peregrine::analytics {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

/// 1, 2 or 5 × 10^k, giving about `n` steps over `span`.
double nice_step(double span, int n) {
  const double raw = span / std::max(n, 1);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

core::Micros time_step(core::Micros span, int n) {
  static constexpr std::array<core::Micros, 19> steps = {
      kSecond,     5 * kSecond,  10 * kSecond, 30 * kSecond, kMinute,    5 * kMinute, 10 * kMinute,
      15 * kMinute, 30 * kMinute, kHour,       3 * kHour,    6 * kHour,  12 * kHour,  kDay,
      2 * kDay,    7 * kDay,     14 * kDay,    30 * kDay,    365 * kDay};
  for (core::Micros s : steps)
    if (span / s <= n) return s;
  return steps.back();
}

/// `local`: wall-clock microseconds (Zone::to_local).
std::string time_label(core::Micros local, core::Micros step) {
  const std::time_t t = static_cast<std::time_t>(floor_to(local, kSecond) / kSecond);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const char* fmt = step >= kDay ? "%Y-%m-%d" : step >= kMinute ? "%H:%M" : "%H:%M:%S";
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

struct Palette {
  const char *bg, *fg, *grid, *muted;
};
constexpr std::array<const char*, 6> kColors = {"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"};

}  // namespace

std::optional<int> parse_utc_offset(std::string_view tz) {
  if (tz.empty() || tz == "UTC" || tz == "Z" || tz == "utc") return 0;
  if (tz.size() < 3 || (tz[0] != '+' && tz[0] != '-')) return std::nullopt;
  std::string digits;
  for (char c : tz.substr(1))
    if (c != ':') digits += c;
  if ((digits.size() != 4 && digits.size() != 2) ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const int h = std::stoi(digits.substr(0, 2)), m = digits.size() == 4 ? std::stoi(digits.substr(2)) : 0;
  if (h > 14 || m > 59) return std::nullopt;
  return (tz[0] == '-' ? -1 : 1) * (h * 60 + m);
}

std::string render_svg(const ChartSpec& s) {
  const Palette pal = s.dark ? Palette{"#111827", "#e5e7eb", "#374151", "#9ca3af"}
                             : Palette{"#ffffff", "#111827", "#e5e7eb", "#6b7280"};
  const double left = 60, right = 16, top = s.title.empty() ? 16 : 34, bottom = 40;
  const double pw = std::max(10.0, s.width - left - right), ph = std::max(10.0, s.height - top - bottom);

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& ser : s.series)
    for (const auto& p : ser.points) lo = std::min(lo, p.min), hi = std::max(hi, p.max);
  for (const auto& t : s.thresholds) lo = std::min(lo, t.value), hi = std::max(hi, t.value);
  const bool empty = !std::isfinite(lo);
  if (empty) lo = 0, hi = 1;
  if (s.bars) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi - lo < 1e-12) lo -= 1, hi += 1;
  const double step = nice_step(hi - lo, 5);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;

  const double span_t = static_cast<double>(std::max<core::Micros>(s.to - s.from, 1));
  const auto x = [&](core::Micros ts) { return left + pw * static_cast<double>(ts - s.from) / span_t; };
  const auto y = [&](double v) { return top + ph * (1 - (v - lo) / (hi - lo)); };

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(s.width) + "\" height=\"" +
       std::to_string(s.height) + "\" viewBox=\"0 0 " + std::to_string(s.width) + " " + std::to_string(s.height) +
       "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"" + std::string(pal.bg) + "\"/>\n";
  o += "<clipPath id=\"plot\"><rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) +
       "\" height=\"" + num(ph) + "\"/></clipPath>\n";
  if (!s.title.empty())
    o += "<text x=\"" + num(left) + "\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"" + pal.fg + "\">" +
         esc(s.title) + "</text>\n";
  // Value axis: grid lines and labels.
  o += "<g fill=\"" + std::string(pal.muted) + "\" stroke=\"none\">\n";
  for (double v = lo; v <= hi + step / 2; v += step) {
    o += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + pw) + "\" y1=\"" + num(y(v)) + "\" y2=\"" + num(y(v)) +
         "\" stroke=\"" + pal.grid + "\"/>";
    o += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y(v) + 4) + "\" text-anchor=\"end\">" + esc(label(v)) +
         "</text>\n";
  }
  if (!s.unit.empty())
    o += "<text x=\"12\" y=\"" + num(top + ph / 2) + "\" transform=\"rotate(-90 12 " + num(top + ph / 2) +
         ")\" text-anchor=\"middle\">" + esc(s.unit) + "</text>\n";
  // Time axis: ticks at round wall-clock times of the labels' zone (so a
  // day tick is local midnight, on DST days too).
  const core::Micros tstep = time_step(s.to - s.from, std::max(2, static_cast<int>(pw / 90)));
  core::Micros last = std::numeric_limits<core::Micros>::min();
  for (core::Micros local = ceil_to(s.zone.to_local(s.from), tstep);; local += tstep) {
    const core::Micros t = s.zone.to_utc(local);
    if (t > s.to) break;
    if (t < s.from || t == last) continue;  // a skipped hour maps onto the next tick
    last = t;
    o += "<line x1=\"" + num(x(t)) + "\" x2=\"" + num(x(t)) + "\" y1=\"" + num(top) + "\" y2=\"" + num(top + ph + 4) +
         "\" stroke=\"" + pal.grid + "\"/>";
    o += "<text x=\"" + num(x(t)) + "\" y=\"" + num(top + ph + 18) + "\" text-anchor=\"middle\">" +
         esc(time_label(local, tstep)) + "</text>\n";
  }
  o += "</g>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"" + pal.muted + "\"/>\n";

  // Series: the band and line of each run of consecutive buckets; a missing bucket is a gap.
  for (std::size_t i = 0; i < s.series.size(); ++i) {
    const ChartSeries& ser = s.series[i];
    const char* color = kColors[i % kColors.size()];
    o += "<g class=\"series\" clip-path=\"url(#plot)\" data-label=\"" + esc(ser.label) + "\">\n";
    if (s.bars) {
      const double bw = std::max(1.0, pw * static_cast<double>(s.bucket) / span_t - 1);
      for (const auto& p : ser.points) {
        const double y0 = y(0), y1 = y(p.avg);
        o += "<rect class=\"point\" x=\"" + num(x(p.ts)) + "\" y=\"" + num(std::min(y0, y1)) + "\" width=\"" + num(bw) +
             "\" height=\"" + num(std::abs(y0 - y1)) + "\" fill=\"" + color + "\"/>\n";
      }
    } else {
      std::size_t run = 0;
      while (run < ser.points.size()) {
        std::size_t end = run + 1;
        while (end < ser.points.size() && ser.points[end].ts - ser.points[end - 1].ts <= s.bucket) ++end;
        const core::Micros half = s.bucket / 2;
        std::string band, line;
        for (std::size_t k = run; k < end; ++k) band += num(x(ser.points[k].ts + half)) + "," + num(y(ser.points[k].max)) + " ";
        for (std::size_t k = end; k-- > run;) band += num(x(ser.points[k].ts + half)) + "," + num(y(ser.points[k].min)) + " ";
        for (std::size_t k = run; k < end; ++k)
          line += std::string(k == run ? "M" : "L") + num(x(ser.points[k].ts + half)) + "," + num(y(ser.points[k].avg));
        o += "<polygon points=\"" + band + "\" fill=\"" + color + "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
        o += "<path d=\"" + line + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\"/>\n";
        for (std::size_t k = run; k < end; ++k)
          o += "<circle class=\"point\" cx=\"" + num(x(ser.points[k].ts + half)) + "\" cy=\"" +
               num(y(ser.points[k].avg)) + "\" r=\"" + (end - run == 1 ? "2" : "0") + "\" fill=\"" + color + "\"/>\n";
        run = end;
      }
    }
    o += "</g>\n";
  }
  for (const auto& t : s.thresholds) {
    o += "<line class=\"threshold\" x1=\"" + num(left) + "\" x2=\"" + num(left + pw) + "\" y1=\"" + num(y(t.value)) +
         "\" y2=\"" + num(y(t.value)) + "\" stroke=\"#dc2626\" stroke-dasharray=\"6 4\"/>";
    o += "<text x=\"" + num(left + pw - 4) + "\" y=\"" + num(y(t.value) - 4) + "\" text-anchor=\"end\" fill=\"#dc2626\">" +
         esc(t.label) + "</text>\n";
  }
  if (s.series.size() > 1) {
    double lx = left + 8;
    for (std::size_t i = 0; i < s.series.size(); ++i) {
      o += "<rect x=\"" + num(lx) + "\" y=\"" + num(top + 6) + "\" width=\"10\" height=\"10\" fill=\"" +
           kColors[i % kColors.size()] + "\"/><text x=\"" + num(lx + 14) + "\" y=\"" + num(top + 15) + "\" fill=\"" +
           pal.fg + "\">" + esc(s.series[i].label) + "</text>\n";
      lx += 24 + 7 * static_cast<double>(s.series[i].label.size());
    }
  }
  if (empty)
    o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" fill=\"" +
         pal.muted + "\">no data in this range</text>\n";
  o += "</svg>\n";
  return o;
}

}  // namespace peregrine::analytics
