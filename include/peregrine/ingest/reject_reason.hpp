#pragma once
/// Why an inbound message was rejected. Each reason is a label value of
/// `peregrine_ingest_rejected_total{reason}`.

#include <array>
#include <string_view>

namespace peregrine::ingest {

enum class RejectReason {
  none = 0,
  malformed_json,    ///< not JSON, or trailing garbage
  not_object,        ///< top level (or array element) is not an object
  bad_ts,            ///< ts neither epoch ms nor RFC 3339
  ts_out_of_range,   ///< ts too far in the past or future
  bad_seq,           ///< seq not a non-negative integer
  bad_metric_name,   ///< member name outside [A-Za-z0-9_]{1,64}
  bad_value,         ///< metric value is an array/object or not finite
  no_metrics,        ///< an object without any metric
  too_many_metrics,  ///< more metrics or entries than the limits allow
  too_large,         ///< payload above mqtt.max_payload_bytes
  bad_topic,         ///< topic not in the contract's table
  bad_device_id,     ///< device id outside [A-Za-z0-9_.-]{1,64}
  unknown_device,    ///< unknown device and auto-provisioning is off
  bad_status,        ///< status payload not online/offline
  device_mismatch,   ///< a `device_id` member names another device than the topic or path
  internal,          ///< an unexpected exception while handling it (logged)
  count_             ///< number of reasons, not a reason
};

constexpr std::string_view to_string(RejectReason r) noexcept {
  constexpr std::array<std::string_view, static_cast<std::size_t>(RejectReason::count_)> names{
      "none",          "malformed_json",   "not_object", "bad_ts",     "ts_out_of_range",
      "bad_seq",       "bad_metric_name",  "bad_value",  "no_metrics", "too_many_metrics",
      "too_large",     "bad_topic",        "bad_device_id", "unknown_device", "bad_status",
      "device_mismatch",
      "internal"};
  return names[static_cast<std::size_t>(r)];
}

}  // namespace peregrine::ingest
