#pragma once
/// Basic value types shared by every module. Header-only, no I/O, any thread.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace peregrine::core {

/// Tenant (municipality, customer) id; every tenant-owned row carries one.
using TenantId = std::int64_t;
inline constexpr TenantId kDefaultTenant = 1;

/// Loop-assigned dense id of one (device, metric) series. Assigned by
/// devices::Registry, declared to storage before the first row that uses it,
/// and used as the key for rule state and live state.
using SeriesKey = std::uint32_t;

/// Microseconds since the Unix epoch, UTC. The resolution of timestamptz.
using Micros = std::int64_t;

/// One metric of one reading. `name` points into the message buffer it was
/// decoded from and is valid only while that buffer is.
struct MetricValue {
  std::string_view name;
  double value = 0;
};

/// One decoded reading: the metrics a device reported at one instant.
struct Reading {
  Micros ts_us = 0;                 ///< the device's ts, or arrival time when absent
  bool ts_given = false;            ///< whether the device sent `ts`
  std::optional<std::int64_t> seq;  ///< the device's own message counter
  std::span<const MetricValue> values;
};

}  // namespace peregrine::core
