#pragma once
/// The in-memory device registry. Owned by the event loop: every method must
/// be called on the loop thread. Loaded from PostgreSQL at start
/// (storage::DeviceLoader), grown by auto-provisioning and REST.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <peregrine/core/types.hpp>
#include <peregrine/devices/seq_tracker.hpp>

namespace peregrine::devices {

/// One (device, metric) series with its latest value.
struct Series {
  std::string metric;
  core::SeriesKey key = 0;
  double last_value = 0;
  core::Micros last_ts = 0;
  bool live_dirty = false;  ///< changed since the last live-state flush
};

/// What PostgreSQL knows of a device (loaded at start, or created).
struct DeviceRecord {
  std::string id;
  core::TenantId tenant = core::kDefaultTenant;
  std::string name;
  std::string type;
  std::vector<std::int64_t> group_ids;
  std::optional<core::Micros> last_seen;
  bool online = false;
  std::optional<std::int64_t> last_seq;
  std::uint64_t seq_gaps = 0;
};

struct Device {
  DeviceRecord rec;
  SeqTracker seq;
  std::vector<Series> series;  ///< few per device: linear search beats hashing
  bool state_dirty = false;    ///< last_seen/online/seq changed since last persisted
};

/// A series seen before, with the key it was given when it was first seen.
struct KnownSeries {
  std::string device;
  std::string metric;
  core::SeriesKey key;
};

class Registry {
 public:
  /// nullptr when unknown. No allocation (heterogeneous lookup).
  Device* find(std::string_view id) noexcept;
  const Device* find(std::string_view id) const noexcept;

  /// Adds a device (or returns the existing one unchanged). A record with a
  /// last_seq restores the device's SeqTracker from it, newest device ts
  /// unknown (last_seen is arrival time: a device clock running ahead would
  /// make QoS 1 redeliveries after a restart look like a counter reset).
  Device& add(DeviceRecord rec);
  bool remove(std::string_view id);

  /// The series of `metric` on `dev`; creates it with a fresh key when first
  /// seen (`created` = true), so the caller can declare it to storage.
  /// Creating a series may move the device's other Series: do not keep
  /// references across calls.
  Series& series(Device& dev, std::string_view metric, bool& created);

  /// Restores a series key known from storage (at start) so keys stay stable;
  /// fresh keys are always above every restored one. Unknown device: only the
  /// key counter moves.
  void restore_series(std::string_view device, std::string_view metric, core::SeriesKey key);

  std::size_t size() const noexcept { return devices_.size(); }
  /// The tenant's devices in `group`, by id. A scan: for actions and batch
  /// operations, not for the per-reading path.
  std::vector<Device*> members(core::TenantId tenant, std::int64_t group);
  void for_each(const std::function<void(Device&)>& fn);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<Device>, Hash, std::equal_to<>> devices_;
  core::SeriesKey next_key_ = 1;
};

}  // namespace peregrine::devices
