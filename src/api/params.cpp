#include "api/params.hpp"

#include <charconv>
#include <cmath>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/time_format.hpp>

namespace peregrine::api {
namespace {

http::Problem bad(const std::string& name, const std::string& why) {
  return http::Problem(400, "Bad Request", "query parameter '" + name + "': " + why);
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

core::Micros parse_time(const http::Request& req, const std::string& name, core::Micros fallback) {
  const auto v = req.q(name);
  if (!v) return fallback;
  if (auto ms = number<std::int64_t>(*v)) return *ms * 1000;
  if (auto ts = core::parse_rfc3339(*v)) return *ts;
  throw bad(name, "expected RFC 3339 or epoch milliseconds");
}

}  // namespace

std::size_t parse_limit(const http::Request& req, std::size_t fallback, std::size_t max) {
  const auto v = req.q("limit");
  if (!v) return fallback;
  const auto n = number<std::size_t>(*v);
  if (!n || *n == 0 || *n > max) throw bad("limit", "expected 1.." + std::to_string(max));
  return *n;
}

TimeRange parse_range(const http::Request& req) {
  const core::Micros to = parse_time(req, "to", core::SystemClock().now_us());
  const core::Micros from = parse_time(req, "from", to - 3600LL * 1'000'000);
  if (from >= to) throw bad("from", "must be before 'to'");
  return {from, to};
}

std::optional<BBox> parse_bbox(const http::Request& req) {
  const auto v = req.q("bbox");
  if (!v) return std::nullopt;
  double f[4];
  std::string_view s = *v;
  for (int i = 0; i < 4; ++i) {
    const std::size_t comma = i < 3 ? s.find(',') : s.size();
    if (comma == std::string_view::npos) throw bad("bbox", "expected minLon,minLat,maxLon,maxLat");
    const auto d = number<double>(s.substr(0, comma));
    if (!d || !std::isfinite(*d)) throw bad("bbox", "expected minLon,minLat,maxLon,maxLat");
    f[i] = *d;
    s = i < 3 ? s.substr(comma + 1) : std::string_view{};
  }
  if (f[0] > f[2] || f[1] > f[3]) throw bad("bbox", "min must not exceed max");
  return BBox{f[0], f[1], f[2], f[3]};
}

}  // namespace peregrine::api
