#pragma once
/// Aggregates over any range (CONTRACT.md "aggregates"): the bucket
/// arithmetic and the plan that reads each part of a range from the
/// coarsest source that gives the same answer as raw rows. Rollups
/// (migrations/0010) hold exactly the rows with ts below the watermark, in
/// 1-minute and 1-hour buckets aligned to UTC; output buckets are aligned to
/// UTC multiples of their size. A rollup level serves a stretch of the range
/// when the output bucket is a multiple of it; the edges that do not fill a
/// rollup bucket, and rows at or past the watermark, are read raw. Pure;
/// any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <peregrine/core/types.hpp>

namespace peregrine::analytics {

inline constexpr core::Micros kSecond = 1'000'000;
inline constexpr core::Micros kMinute = 60 * kSecond;
inline constexpr core::Micros kHour = 60 * kMinute;
inline constexpr core::Micros kDay = 24 * kHour;
inline constexpr std::size_t kMaxBuckets = 10'000;

/// count, sum, min, max, first and last of some rows; merges exactly.
struct Partial {
  std::int64_t count = 0;
  double sum = 0, min = 0, max = 0, first = 0, last = 0;
  core::Micros first_ts = 0, last_ts = 0;
  void merge(const Partial& o);
};

enum class Fn : std::uint8_t { avg, min, max, count, sum, first, last };
std::string_view to_string(Fn f) noexcept;
/// "avg,min,max" → the functions in that order; nullopt on an unknown one.
std::optional<std::vector<Fn>> parse_fns(std::string_view list);

/// "500ms", "10s", "5m", "1h", "1d", "7d" (a positive integer and a unit).
std::optional<core::Micros> parse_duration(std::string_view s);
/// The smallest of 1s 2s 5s 10s 15s 30s 1m 2m 5m 10m 15m 30m 1h 2h 3h 6h
/// 12h 1d 2d 7d 30d giving at most `points` buckets over `span`.
core::Micros auto_bucket(core::Micros span, std::size_t points);

/// floor / ceil to a multiple of `step` (UTC epoch alignment).
core::Micros floor_to(core::Micros t, core::Micros step) noexcept;
core::Micros ceil_to(core::Micros t, core::Micros step) noexcept;

enum class Source : std::uint8_t { raw, rollup_1m, rollup_1h };
struct Segment {
  Source source;
  core::Micros from, to;  ///< [from, to): ts of raw rows, or bucket starts of rollup rows
};
/// Where to read [from, to) with output buckets of `bucket` given the
/// rollups' `watermark`. The segments' rows are disjoint and together are
/// exactly the raw rows of [from, to).
std::vector<Segment> plan(core::Micros from, core::Micros to, core::Micros bucket, core::Micros watermark);

}  // namespace peregrine::analytics
