#pragma once
/// Server-rendered charts (CONTRACT.md "chart"): aggregated buckets drawn as
/// a standalone SVG with no CSS or script — a time axis with ticks in a
/// fixed UTC offset, a value axis, a min–max band behind each line, gaps
/// where buckets are empty, threshold lines and a legend. Pure; any thread.

#include <optional>
#include <string>
#include <vector>

#include <peregrine/analytics/zone.hpp>
#include <peregrine/core/types.hpp>

namespace peregrine::analytics {

struct ChartPoint {
  core::Micros ts = 0;  ///< bucket start
  double avg = 0, min = 0, max = 0;
};

struct ChartSeries {
  std::string label;
  std::vector<ChartPoint> points;  ///< oldest first; missing buckets are gaps
};

struct Threshold {
  double value = 0;
  std::string label;
};

struct ChartSpec {
  core::Micros from = 0, to = 0, bucket = 0;
  int width = 800, height = 300;
  bool bars = false;
  bool dark = false;
  std::string title;
  std::string unit;
  Zone zone;  ///< the time axis's labels and round ticks (UTC by default)
  std::vector<ChartSeries> series;
  std::vector<Threshold> thresholds;
};

/// "UTC", "Z", "+02:00", "-0530" → minutes east of UTC.
std::optional<int> parse_utc_offset(std::string_view tz);

std::string render_svg(const ChartSpec& spec);

}  // namespace peregrine::analytics
