#pragma once
/// RFC 3339 timestamps. Pure, any thread, no allocation when appending.

#include <optional>
#include <string>
#include <string_view>

#include <peregrine/core/types.hpp>

namespace peregrine::core {

/// Appends `2026-11-22T08:00:00.123Z` (milliseconds) or `.123456Z` when the
/// value has sub-millisecond digits. Always UTC.
void append_rfc3339(std::string& out, Micros ts);
std::string format_rfc3339(Micros ts);

/// Parses RFC 3339 / ISO 8601 date-times with `Z` or `±hh:mm` offsets and
/// optional fractional seconds (truncated to µs). nullopt when malformed.
std::optional<Micros> parse_rfc3339(std::string_view s) noexcept;

}  // namespace peregrine::core
