#pragma once
/// Decodes `sensors/{device}/telemetry` payloads (CONTRACT.md) with simdjson
/// On-Demand. The hottest code in the server: errors are values, nothing
/// throws, and decoding allocates nothing once `DecodedTelemetry`'s vectors
/// have grown to the fleet's message size. One decoder per thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <peregrine/core/types.hpp>
#include <peregrine/ingest/reject_reason.hpp>

namespace peregrine::ingest {

/// Bytes that must be readable (not necessarily initialised) past the end of a
/// payload handed to decode(): simdjson reads ahead. Buffers built with
/// make_padded() have them.
inline constexpr std::size_t kPayloadPadding = 64;

/// Copies bytes into a string whose capacity leaves kPayloadPadding spare.
std::string make_padded(std::string_view bytes);

/// Output of one decode; reused across messages to avoid allocation.
/// MetricValue::name points into the payload buffer.
struct DecodedTelemetry {
  struct Entry {
    core::Micros ts_us = 0;
    bool ts_given = false;
    std::optional<std::int64_t> seq;
    std::uint32_t first = 0;  ///< index into values
    std::uint32_t count = 0;
  };
  std::vector<Entry> entries;
  std::vector<core::MetricValue> values;
  /// The last string member `device_id` of any object (firmware that names
  /// itself in the body), pointing into the decoder's buffer; empty if none.
  std::string_view device_id;

  core::Reading reading(const Entry& e) const {
    return {e.ts_us, e.ts_given, e.seq, {values.data() + e.first, e.count}};
  }
  void clear() noexcept {
    entries.clear();
    values.clear();
    device_id = {};
  }
};

struct DecodeLimits {
  std::size_t max_entries = 1000;  ///< objects in one array payload
  std::size_t max_metrics = 256;   ///< metrics in one object
};

class TelemetryDecoder {
 public:
  explicit TelemetryDecoder(DecodeLimits limits = {});
  ~TelemetryDecoder();
  TelemetryDecoder(const TelemetryDecoder&) = delete;
  TelemetryDecoder& operator=(const TelemetryDecoder&) = delete;

  /// Decodes `payload` (whose buffer has kPayloadPadding readable bytes past
  /// its end) into `out` (cleared first). `arrival_us` is the ts of objects
  /// without `ts`. A single object or an array of objects; `ts` as epoch ms
  /// (integer or fractional) or RFC 3339; `seq` a non-negative integer; every
  /// A string `device_id` is kept in `out.device_id` (the caller compares it
  /// with the topic's or path's id). Every
  /// other member with a number or boolean value is a metric, strings and
  /// null are ignored, arrays/objects as metric values are rejected.
  /// Duplicate members: the last occurrence wins (ts, seq and metrics).
  /// A member name with a JSON escape is never a metric (only "ts"/"seq"
  /// are recognised unescaped). An empty array is `no_metrics`; more than
  /// max_entries objects or max_metrics metrics is `too_many_metrics`.
  /// On any error `out` is left cleared: a message is taken whole or not at all.
  RejectReason decode(std::string_view payload, core::Micros arrival_us, DecodedTelemetry& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DecodeLimits limits_;
};

}  // namespace peregrine::ingest
