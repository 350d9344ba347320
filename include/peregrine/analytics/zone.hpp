#pragma once
/// A time zone for chart labels: UTC, a fixed offset (`+02:00`) or an IANA
/// name (`Europe/Berlin`, from the system's tz database), whose offset
/// follows DST over a range. Cheap to copy; any thread.

#include <optional>
#include <string_view>

#include <peregrine/core/types.hpp>

namespace peregrine::analytics {

class Zone {
 public:
  Zone() = default;  ///< UTC
  /// nullopt for a name that is neither an offset nor a known zone.
  static std::optional<Zone> parse(std::string_view tz);
  /// Local wall-clock time of `utc`, as microseconds since the local epoch.
  core::Micros to_local(core::Micros utc) const;
  /// The UTC instant of a local wall-clock time (a skipped time maps to the
  /// change, a repeated one to its first occurrence).
  core::Micros to_utc(core::Micros local) const;

 private:
  const void* tz_ = nullptr;  // date::time_zone, when named
  int fixed_minutes_ = 0;
};

}  // namespace peregrine::analytics
