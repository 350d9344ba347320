#pragma once
// Query-parameter parsing shared by the REST handlers. Each throws
// http::Problem 400 naming the parameter when a value is malformed.

#include <optional>

#include <peregrine/core/types.hpp>
#include <peregrine/http/router.hpp>

namespace peregrine::api {

/// `?limit=` in 1..max, `fallback` when absent.
std::size_t parse_limit(const http::Request& req, std::size_t fallback, std::size_t max);

struct TimeRange {
  core::Micros from_us;
  core::Micros to_us;
};
/// `?from=&to=` as RFC 3339 or epoch milliseconds; `to` defaults to now,
/// `from` to one hour before `to`. `from` must be before `to`.
TimeRange parse_range(const http::Request& req);

struct BBox {
  double min_lon, min_lat, max_lon, max_lat;
};
/// `?bbox=minLon,minLat,maxLon,maxLat`.
std::optional<BBox> parse_bbox(const http::Request& req);

}  // namespace peregrine::api
