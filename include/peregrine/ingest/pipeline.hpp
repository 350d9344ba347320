#pragma once
/// The ingest path on the event loop: topic → decode → device registry and
/// seq bookkeeping → rules hook → storage queue, live state, WebSocket fan-out.
/// Every method runs on the loop thread; nothing here blocks or throws.

#include <cstdint>
#include <string>
#include <string_view>

#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>
#include <peregrine/ingest/reject_reason.hpp>
#include <peregrine/ingest/sinks.hpp>
#include <peregrine/ingest/telemetry_decoder.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/reading_hook.hpp>

namespace peregrine::ingest {

struct PipelineOptions {
  bool auto_provision = true;
  std::size_t max_payload_bytes = 64 * 1024;
  core::Micros max_past_us = 400LL * 86400 * 1'000'000;  ///< oldest accepted ts
  core::Micros max_future_us = 86400LL * 1'000'000;      ///< newest accepted ts
};

/// Result of offering one message, for HTTP ingest's response.
struct IngestOutcome {
  RejectReason reject = RejectReason::none;
  std::uint32_t stored = 0;      ///< readings (entries) accepted
  std::uint32_t duplicates = 0;  ///< entries dropped as seq duplicates
};

class Pipeline {
 public:
  Pipeline(PipelineOptions opts, const core::Clock& clock, devices::Registry& registry,
           ReadingStore& store, LiveStateSink& live, RealtimeSink& realtime,
           rules::ReadingHook& rules, metrics::Registry& metrics);

  /// Presence changes and device replies go here from now on (may be null).
  void set_device_events(DeviceEvents* events) noexcept { events_ = events; }

  /// An MQTT message: `sensors/{id}/telemetry|status`,
  /// `devices/{id}/commands/ack` or `devices/{id}/config/applied`. `payload` must have kPayloadPadding spare
  /// capacity.
  void on_mqtt(std::string_view topic, const std::string& payload, core::Micros arrival_us,
               std::int64_t arrival_ns);

  /// An MQTT message the subscriber refused to copy (above max_payload).
  void on_oversized(std::string_view topic);

  /// Telemetry of one device (MQTT, or HTTP ingest once authenticated).
  /// Counts its own rejection.
  IngestOutcome on_telemetry(std::string_view device, const std::string& payload,
                             core::Micros arrival_us, std::int64_t arrival_ns);

  /// Presence for a device (`online`/`offline` status topic). Counts its own
  /// rejection.
  IngestOutcome on_status(std::string_view device, std::string_view payload, core::Micros arrival_us);

  /// Counts a rejection and logs it (at most one line a second). `where` is
  /// the topic or device.
  void reject(RejectReason reason, std::string_view where);

  /// Removes a deleted device from the registry, the flush lists and the
  /// rules engine. False when unknown.
  bool remove_device(std::string_view id);

  /// Hands the latest value of every series that changed since the last call
  /// to the live-state sink (each at most once: coalesced per tick).
  void flush_live();
  /// Hands devices whose presence or seq bookkeeping changed to storage.
  void flush_device_states();

 private:
  IngestOutcome telemetry(std::string_view device, const std::string& payload,
                          core::Micros arrival_us, std::int64_t arrival_ns);
  IngestOutcome status(std::string_view device, std::string_view payload, core::Micros arrival_us);
  void device_reply(std::string_view topic, std::string_view rest, const std::string& payload);
  devices::Device* resolve_device(std::string_view id, core::Micros now_us, RejectReason& why);
  void accept(devices::Device& dev, const core::Reading& r, std::int64_t arrival_ns);

  PipelineOptions opts_;
  const core::Clock& clock_;
  devices::Registry& registry_;
  ReadingStore& store_;
  LiveStateSink& live_;
  RealtimeSink& realtime_;
  rules::ReadingHook& rules_;
  DeviceEvents* events_ = nullptr;
  TelemetryDecoder decoder_;
  DecodedTelemetry decoded_;
  std::vector<StoredRow> rows_;  // reused per message
  struct DirtySeries {
    devices::Device* device;
    std::uint32_t index;  // into device->series
  };
  std::vector<DirtySeries> live_dirty_;
  std::vector<devices::Device*> state_dirty_;

  metrics::Counter* rejected_[static_cast<std::size_t>(RejectReason::count_)]{};
  metrics::Counter& messages_;
  metrics::Counter& readings_;
  metrics::Counter& values_;
  metrics::Counter& gaps_;
  metrics::Counter& gaps_filled_;
  metrics::Counter& duplicates_;
  metrics::Counter& resets_;
  metrics::Counter& provisioned_;
  core::Micros last_reject_log_us_ = 0;
  std::uint64_t suppressed_logs_ = 0;
};

}  // namespace peregrine::ingest
