#pragma once
/// What the ingest pipeline hands readings to. Domain-side interfaces:
/// storage::ReadingWriter, cache::LiveState and realtime::Hub implement them,
/// so the pipeline never sees pqxx, hiredis or Beast. All methods are called
/// on the event loop thread and must not block.

#include <cstdint>
#include <span>
#include <string_view>

#include <peregrine/core/types.hpp>
#include <peregrine/devices/registry.hpp>

namespace peregrine::ingest {

/// One row of `readings`.
struct StoredRow {
  core::SeriesKey series;
  core::Micros ts_us;
  double value;
};

/// Durable storage (PostgreSQL). Work is queued in call order: a device is
/// declared before its series, a series before its first row.
class ReadingStore {
 public:
  virtual ~ReadingStore() = default;
  /// Creates the device row if it does not exist (auto-provisioning).
  virtual void declare_device(const devices::DeviceRecord& rec) = 0;
  /// Creates the series row with this key if it does not exist.
  virtual void declare_series(core::SeriesKey key, core::TenantId tenant, std::string_view device,
                              std::string_view metric) = 0;
  /// Queues rows. Never drops: the queue is bounded by back-pressure on
  /// intake (see pressure()).
  virtual void append(std::span<const StoredRow> rows) = 0;
  /// Persists presence and seq bookkeeping of a device.
  virtual void update_device(const devices::DeviceRecord& rec) = 0;
  /// Queues rows and the device's seq bookkeeping after them, so that both
  /// are written in one transaction: after a crash the stored `last_seq`
  /// matches the stored rows, and the first seq after a restart counts as
  /// a gap exactly the messages that were acknowledged and not stored.
  virtual void append(std::span<const StoredRow> rows, const devices::DeviceRecord& rec) {
    append(rows);
    update_device(rec);
  }
  /// True while the queue is above its high-water mark: intake should pause.
  virtual bool pressure() const noexcept = 0;
};

/// Latest value per series, presence per device (Redis). Implementations
/// coalesce and write asynchronously.
class LiveStateSink {
 public:
  virtual ~LiveStateSink() = default;
  virtual void set_value(core::TenantId tenant, std::string_view device, std::string_view metric,
                         double value, core::Micros ts_us) = 0;
  virtual void set_presence(core::TenantId tenant, std::string_view device, bool online,
                            core::Micros last_seen_us) = 0;
};

/// Live fan-out to WebSocket subscribers.
class RealtimeSink {
 public:
  virtual ~RealtimeSink() = default;
  /// Cheap check so that nothing is serialised when nobody listens.
  virtual bool wants_readings(core::TenantId tenant, std::string_view device) const noexcept = 0;
  virtual void publish_reading(core::TenantId tenant, std::string_view device,
                               const core::Reading& reading) = 0;
  virtual void publish_presence(core::TenantId tenant, std::string_view device, bool online) = 0;
};

/// What devices tell the server besides readings: presence changes and
/// replies on `devices/{id}/…` topics (the command service takes them).
class DeviceEvents {
 public:
  virtual ~DeviceEvents() = default;
  /// The device went online or offline (status topic, or a reading).
  virtual void on_presence(const devices::Device& device, bool online) = 0;
  /// A `devices/{id}/commands/ack` payload of a known device.
  virtual void on_command_ack(const devices::Device& device, std::string_view payload) = 0;
  /// A `devices/{id}/config/applied` payload of a known device.
  virtual void on_config_applied(const devices::Device& device, std::string_view payload) = 0;
};

}  // namespace peregrine::ingest
