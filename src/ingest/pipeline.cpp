#include <peregrine/ingest/pipeline.hpp>

#include <spdlog/spdlog.h>

#include <peregrine/core/ids.hpp>

namespace peregrine::ingest {
namespace {

constexpr std::string_view kSensorsPrefix = "sensors/";
constexpr std::string_view kTelemetrySuffix = "/telemetry";
constexpr std::string_view kStatusSuffix = "/status";
constexpr std::string_view kDevicesPrefix = "devices/";
constexpr std::string_view kAckSuffix = "/commands/ack";
constexpr std::string_view kAppliedSuffix = "/config/applied";
constexpr core::Micros kRejectLogEvery = 1'000'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t' || s.front() == '"'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t' || s.back() == '"'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions opts, const core::Clock& clock, devices::Registry& registry,
                   ReadingStore& store, LiveStateSink& live, RealtimeSink& realtime,
                   rules::ReadingHook& rules, metrics::Registry& metrics)
    : opts_(opts),
      clock_(clock),
      registry_(registry),
      store_(store),
      live_(live),
      realtime_(realtime),
      rules_(rules),
      messages_(metrics.counter("peregrine_ingest_messages_total",
                                "Inbound telemetry and status messages, accepted or not")),
      readings_(metrics.counter("peregrine_ingest_readings_total",
                                "Readings accepted (one per timestamped object)")),
      values_(metrics.counter("peregrine_ingest_values_total",
                              "Metric values accepted (one row of readings each)")),
      gaps_(metrics.counter("peregrine_ingest_gaps_total",
                            "Messages missing according to devices' seq counters, when the jump was seen")),
      gaps_filled_(metrics.counter("peregrine_ingest_gaps_filled_total",
                                   "Messages counted in peregrine_ingest_gaps_total that arrived later "
                                   "(reordered or redelivered): lost = gaps - gaps_filled")),
      duplicates_(metrics.counter("peregrine_ingest_duplicates_total",
                                  "Readings dropped as redeliveries of a seq already stored")),
      resets_(metrics.counter("peregrine_ingest_seq_resets_total",
                              "Devices that restarted their seq counter")),
      provisioned_(metrics.counter("peregrine_devices_provisioned_total",
                                   "Unknown devices created by auto-provisioning")) {
  for (std::size_t i = 1; i < static_cast<std::size_t>(RejectReason::count_); ++i) {
    rejected_[i] = &metrics.counter("peregrine_ingest_rejected_total",
                                    "Inbound messages rejected, by reason",
                                    {{"reason", std::string(to_string(RejectReason(i)))}});
  }
}

void Pipeline::reject(RejectReason reason, std::string_view where) {
  rejected_[static_cast<std::size_t>(reason)]->inc();
  const core::Micros now = clock_.now_us();
  if (now - last_reject_log_us_ < kRejectLogEvery) {
    ++suppressed_logs_;
    return;
  }
  spdlog::warn("rejected message from '{}': {} ({} similar lines suppressed)", where,
               to_string(reason), suppressed_logs_);
  last_reject_log_us_ = now;
  suppressed_logs_ = 0;
}

void Pipeline::on_mqtt(std::string_view topic, const std::string& payload,
                       core::Micros arrival_us, std::int64_t arrival_ns) {
  if (topic.starts_with(kDevicesPrefix)) return device_reply(topic, topic.substr(kDevicesPrefix.size()), payload);
  if (!topic.starts_with(kSensorsPrefix)) {
    messages_.inc();
    return reject(RejectReason::bad_topic, topic);
  }
  std::string_view rest = topic.substr(kSensorsPrefix.size());
  IngestOutcome out;
  if (rest.ends_with(kTelemetrySuffix)) {
    out = on_telemetry(rest.substr(0, rest.size() - kTelemetrySuffix.size()), payload, arrival_us,
                       arrival_ns);
  } else if (rest.ends_with(kStatusSuffix)) {
    out = on_status(rest.substr(0, rest.size() - kStatusSuffix.size()), payload, arrival_us);
  } else {
    messages_.inc();
    reject(RejectReason::bad_topic, topic);
  }
  (void)out;  // on_telemetry/on_status count their own rejections
}

void Pipeline::device_reply(std::string_view topic, std::string_view rest, const std::string& payload) {
  const bool ack = rest.ends_with(kAckSuffix), applied = rest.ends_with(kAppliedSuffix);
  if (!ack && !applied) return reject(RejectReason::bad_topic, topic);
  const std::string_view id = rest.substr(0, rest.size() - (ack ? kAckSuffix : kAppliedSuffix).size());
  if (!core::valid_device_id(id)) return reject(RejectReason::bad_device_id, topic);
  const devices::Device* dev = registry_.find(id);
  if (dev == nullptr) return reject(RejectReason::unknown_device, topic);
  // The command and config services count what they refuse
  // (peregrine_command_acks_total, peregrine_config_reports_total).
  if (events_ == nullptr) return;
  try {
    if (ack)
      events_->on_command_ack(*dev, payload);
    else
      events_->on_config_applied(*dev, payload);
  } catch (const std::exception& e) {
    spdlog::error("device reply on '{}' failed: {}", topic, e.what());
    reject(RejectReason::internal, topic);
  }
}

void Pipeline::on_oversized(std::string_view topic) {
  messages_.inc();
  reject(RejectReason::too_large, topic);
}

devices::Device* Pipeline::resolve_device(std::string_view id, core::Micros now_us,
                                          RejectReason& why) {
  if (!core::valid_device_id(id)) {
    why = RejectReason::bad_device_id;
    return nullptr;
  }
  if (devices::Device* dev = registry_.find(id)) return dev;
  if (!opts_.auto_provision) {
    why = RejectReason::unknown_device;
    return nullptr;
  }
  devices::DeviceRecord rec;
  rec.id = std::string(id);
  rec.name = rec.id;
  rec.last_seen = now_us;
  devices::Device& dev = registry_.add(std::move(rec));
  store_.declare_device(dev.rec);
  provisioned_.inc();
  spdlog::info("device '{}' auto-provisioned into the default tenant", id);
  return &dev;
}

IngestOutcome Pipeline::on_telemetry(std::string_view device, const std::string& payload,
                                     core::Micros arrival_us, std::int64_t arrival_ns) {
  messages_.inc();
  IngestOutcome out;
  // The one catch of the intake path: nothing in it should throw, but an
  // unexpected exception (bad_alloc, a library's) must cost one message,
  // counted, not the event loop.
  try {
    out = telemetry(device, payload, arrival_us, arrival_ns);
  } catch (const std::exception& e) {
    spdlog::error("ingest: telemetry of '{}' failed: {}", device, e.what());
    out = IngestOutcome{};
    out.reject = RejectReason::internal;
  }
  if (out.reject != RejectReason::none) reject(out.reject, device);
  return out;
}

IngestOutcome Pipeline::telemetry(std::string_view device, const std::string& payload,
                                  core::Micros arrival_us, std::int64_t arrival_ns) {
  IngestOutcome out;
  if (payload.size() > opts_.max_payload_bytes) {
    out.reject = RejectReason::too_large;
    return out;
  }
  devices::Device* dev = resolve_device(device, arrival_us, out.reject);
  if (!dev) return out;
  out.reject = decoder_.decode(payload, arrival_us, decoded_);
  if (out.reject != RejectReason::none) return out;
  if (!decoded_.device_id.empty() && decoded_.device_id != device) {
    out.reject = RejectReason::device_mismatch;
    return out;
  }
  for (const auto& e : decoded_.entries) {
    if (e.ts_us < arrival_us - opts_.max_past_us || e.ts_us > arrival_us + opts_.max_future_us) {
      out.reject = RejectReason::ts_out_of_range;
      return out;
    }
  }

  rows_.clear();
  bool has_seq = false;
  for (const auto& e : decoded_.entries) {
    if (e.seq) {
      const devices::SeqResult r = dev->seq.observe(*e.seq, e.ts_us, e.ts_given);
      if (r.verdict == devices::SeqVerdict::duplicate) {
        duplicates_.inc();
        ++out.duplicates;
        continue;
      }
      has_seq = true;
      if (r.verdict == devices::SeqVerdict::gap) {
        gaps_.inc(r.missing);
        dev->rec.seq_gaps += r.missing;
      } else if (r.fills_gap) {
        // Reordered or redelivered late: the gap it was counted in shrinks.
        gaps_filled_.inc();
        if (dev->rec.seq_gaps > 0) --dev->rec.seq_gaps;
      } else if (r.verdict == devices::SeqVerdict::reset) {
        resets_.inc();
        spdlog::info("device '{}' restarted its seq counter at {}", dev->rec.id, *e.seq);
      }
      dev->rec.last_seq = dev->seq.last_seq();
    }
    accept(*dev, decoded_.reading(e), arrival_ns);
    ++out.stored;
  }
  dev->rec.last_seen = arrival_us;
  if (!dev->rec.online) {
    dev->rec.online = true;
    live_.set_presence(dev->rec.tenant, dev->rec.id, true, arrival_us);
    realtime_.publish_presence(dev->rec.tenant, dev->rec.id, true);
    if (events_ != nullptr) events_->on_presence(*dev, true);
  }
  // With a seq, the device's bookkeeping goes with its rows (one
  // transaction): a crash then cannot count stored readings as lost.
  if (has_seq)
    store_.append(rows_, dev->rec);
  else if (!rows_.empty())
    store_.append(rows_);
  readings_.inc(out.stored);
  if (!dev->state_dirty) {
    dev->state_dirty = true;
    state_dirty_.push_back(dev);
  }
  return out;
}

void Pipeline::accept(devices::Device& dev, const core::Reading& r, std::int64_t arrival_ns) {
  for (const core::MetricValue& mv : r.values) {
    bool created = false;
    devices::Series& s = registry_.series(dev, mv.name, created);
    if (created) store_.declare_series(s.key, dev.rec.tenant, dev.rec.id, s.metric);
    // Rules see the reading before it is queued for storage (DESIGN.md).
    rules_.on_sample({dev, s, mv.value, r.ts_us, arrival_ns});
    rows_.push_back({s.key, r.ts_us, mv.value});
    // Out-of-order readings (late arrivals, backfill) must not roll the live
    // value back.
    if (r.ts_us >= s.last_ts) {
      s.last_value = mv.value;
      s.last_ts = r.ts_us;
      if (!s.live_dirty) {
        s.live_dirty = true;
        live_dirty_.push_back({&dev, static_cast<std::uint32_t>(&s - dev.series.data())});
      }
    }
  }
  values_.inc(r.values.size());
  if (realtime_.wants_readings(dev.rec.tenant, dev.rec.id))
    realtime_.publish_reading(dev.rec.tenant, dev.rec.id, r);
}

IngestOutcome Pipeline::on_status(std::string_view device, std::string_view payload,
                                  core::Micros arrival_us) {
  messages_.inc();
  IngestOutcome out;
  try {  // as on_telemetry
    out = status(device, payload, arrival_us);
  } catch (const std::exception& e) {
    spdlog::error("ingest: status of '{}' failed: {}", device, e.what());
    out = IngestOutcome{};
    out.reject = RejectReason::internal;
  }
  if (out.reject != RejectReason::none) reject(out.reject, device);
  return out;
}

IngestOutcome Pipeline::status(std::string_view device, std::string_view payload,
                               core::Micros arrival_us) {
  IngestOutcome out;
  const std::string_view p = trim(payload);
  bool online;
  if (p == "online") {
    online = true;
  } else if (p == "offline") {
    online = false;
  } else {
    out.reject = RejectReason::bad_status;
    return out;
  }
  devices::Device* dev = resolve_device(device, arrival_us, out.reject);
  if (!dev) return out;
  if (online) dev->rec.last_seen = arrival_us;
  const bool changed = dev->rec.online != online;
  dev->rec.online = online;
  live_.set_presence(dev->rec.tenant, dev->rec.id, online, dev->rec.last_seen.value_or(0));
  if (changed) {
    realtime_.publish_presence(dev->rec.tenant, dev->rec.id, online);
    if (events_ != nullptr) events_->on_presence(*dev, online);
  }
  if (!dev->state_dirty) {
    dev->state_dirty = true;
    state_dirty_.push_back(dev);
  }
  return out;
}

bool Pipeline::remove_device(std::string_view id) {
  devices::Device* dev = registry_.find(id);
  if (!dev) return false;
  std::erase_if(live_dirty_, [dev](const DirtySeries& d) { return d.device == dev; });
  std::erase_if(state_dirty_, [dev](const devices::Device* d) { return d == dev; });
  for (const devices::Series& s : dev->series) rules_.on_series_removed(s.key);
  return registry_.remove(id);
}

void Pipeline::flush_live() {
  for (const DirtySeries& d : live_dirty_) {
    devices::Series& s = d.device->series[d.index];
    live_.set_value(d.device->rec.tenant, d.device->rec.id, s.metric, s.last_value, s.last_ts);
    s.live_dirty = false;
  }
  live_dirty_.clear();
}

void Pipeline::flush_device_states() {
  for (devices::Device* dev : state_dirty_) {
    store_.update_device(dev->rec);
    // last_seen moves with every message; Redis gets it once a second.
    live_.set_presence(dev->rec.tenant, dev->rec.id, dev->rec.online,
                       dev->rec.last_seen.value_or(0));
    dev->state_dirty = false;
  }
  state_dirty_.clear();
}

}  // namespace peregrine::ingest
