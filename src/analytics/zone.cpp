#include <peregrine/analytics/zone.hpp>

#include <chrono>
#include <string>

#include <date/tz.h>

#include <peregrine/analytics/svg_chart.hpp>

namespace peregrine::analytics {

namespace {
using std::chrono::microseconds;
const date::time_zone* as_zone(const void* p) { return static_cast<const date::time_zone*>(p); }
}  // namespace

std::optional<Zone> Zone::parse(std::string_view tz) {
  Zone z;
  if (const auto fixed = parse_utc_offset(tz)) {
    z.fixed_minutes_ = *fixed;
    return z;
  }
  try {
    z.tz_ = date::locate_zone(std::string(tz));
    return z;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

core::Micros Zone::to_local(core::Micros utc) const {
  if (!tz_) return utc + static_cast<core::Micros>(fixed_minutes_) * 60'000'000;
  return as_zone(tz_)->to_local(date::sys_time<microseconds>(microseconds(utc))).time_since_epoch().count();
}

core::Micros Zone::to_utc(core::Micros local) const {
  if (!tz_) return local - static_cast<core::Micros>(fixed_minutes_) * 60'000'000;
  return as_zone(tz_)
      ->to_sys(date::local_time<microseconds>(microseconds(local)), date::choose::earliest)
      .time_since_epoch()
      .count();
}

}  // namespace peregrine::analytics
