#pragma once
/// Per-device `seq` bookkeeping: gaps (lost messages), QoS 1 redeliveries
/// (duplicates, not stored twice) and counter resets (device restarted).
/// Pure; owned by the event loop through devices::Device.

#include <cstdint>

#include <peregrine/core/types.hpp>

namespace peregrine::devices {

enum class SeqVerdict {
  first,      ///< first seq seen from this device
  next,       ///< last + 1
  gap,        ///< jumped forward; `missing` says by how many
  late,       ///< older than last, never seen before (fills a gap): stored
  duplicate,  ///< already seen: not stored
  reset,      ///< the device restarted its counter: stored, window restarts
};

struct SeqResult {
  SeqVerdict verdict;
  std::uint64_t missing = 0;  ///< for `gap`
  /// For `late`: the seq was one a `gap` counted as missing (it lies above
  /// where the window last restarted), so that loss did not happen.
  bool fills_gap = false;
};

/// Remembers the newest seq and which of the 64 seqs below it were seen
/// (an anti-replay window). For a seq at or below the newest:
/// - if the message carries a device `ts` newer than the newest one seen, the
///   device restarted its counter: `reset` (a redelivery carries its old ts);
/// - more than 64 below the newest: `reset`;
/// - seen before (or equal to the newest): `duplicate`;
/// - otherwise `late` (it fills a gap) and is marked seen.
/// A seq above the newest is `next` or `gap` (`missing` = seqs skipped).
/// After a reset the window restarts from that seq with nothing below it
/// seen; a later seq below that start is `late` without `fills_gap`.
class SeqTracker {
 public:
  static constexpr std::int64_t kWindow = 64;

  SeqResult observe(std::int64_t seq, core::Micros ts_us, bool ts_given) noexcept;

  bool has_seq() const noexcept { return has_; }
  std::int64_t last_seq() const noexcept { return last_; }
  /// Restores state persisted across a restart (window unknown: all seen).
  /// `last_ts` is the newest device ts known, 0 when unknown.
  void restore(std::int64_t last_seq, core::Micros last_ts) noexcept;

 private:
  bool has_ = false;
  std::int64_t last_ = 0;
  std::int64_t base_ = 0;   ///< where the window last restarted: gaps are counted above it
  std::uint64_t seen_ = 0;  ///< bit i: seq (last_ - 1 - i) seen
  core::Micros last_ts_ = 0;  ///< newest device ts seen, valid when has_ts_
  bool has_ts_ = false;
};

}  // namespace peregrine::devices
