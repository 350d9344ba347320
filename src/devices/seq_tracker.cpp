#include <peregrine/devices/seq_tracker.hpp>

namespace peregrine::devices {
namespace {

constexpr auto kWindowBits = static_cast<std::uint64_t>(SeqTracker::kWindow);

// Distance between two seqs as unsigned: exact for any pair of int64 values.
constexpr std::uint64_t distance(std::int64_t hi, std::int64_t lo) noexcept {
  return static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
}

}  // namespace

SeqResult SeqTracker::observe(std::int64_t seq, core::Micros ts_us, bool ts_given) noexcept {
  auto restart = [&](SeqVerdict verdict) noexcept {
    has_ = true;
    last_ = seq;
    base_ = seq;
    seen_ = 0;
    if (ts_given) {
      last_ts_ = ts_us;
      has_ts_ = true;
    }
    return SeqResult{verdict};
  };
  if (!has_) return restart(SeqVerdict::first);

  if (seq > last_) {
    const std::uint64_t d = distance(seq, last_);
    // The old newest moves to distance d, i.e. bit d - 1.
    if (d > kWindowBits) {
      seen_ = 0;
    } else if (d == kWindowBits) {
      seen_ = std::uint64_t{1} << (kWindowBits - 1);
    } else {
      seen_ = (seen_ << d) | (std::uint64_t{1} << (d - 1));
    }
    last_ = seq;
    if (ts_given && (!has_ts_ || ts_us > last_ts_)) {
      last_ts_ = ts_us;
      has_ts_ = true;
    }
    return d == 1 ? SeqResult{SeqVerdict::next} : SeqResult{SeqVerdict::gap, d - 1};
  }

  // A redelivery repeats its original ts; only a restarted device sends an
  // old seq with a ts newer than everything seen.
  if (ts_given && has_ts_ && ts_us > last_ts_) return restart(SeqVerdict::reset);
  const std::uint64_t d = distance(last_, seq);
  if (d > kWindowBits) return restart(SeqVerdict::reset);
  if (d == 0) return {SeqVerdict::duplicate};
  const std::uint64_t bit = std::uint64_t{1} << (d - 1);
  if (seen_ & bit) return {SeqVerdict::duplicate};
  seen_ |= bit;
  return {SeqVerdict::late, 0, seq > base_};
}

void SeqTracker::restore(std::int64_t last_seq, core::Micros last_ts) noexcept {
  has_ = true;
  last_ = last_seq;
  base_ = last_seq;
  seen_ = ~std::uint64_t{0};
  last_ts_ = last_ts;
  has_ts_ = last_ts != 0;
}

}  // namespace peregrine::devices
