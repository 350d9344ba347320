#pragma once
/// Time sources. Domain code takes a `const Clock&` so tests can inject time.

#include <atomic>

#include <peregrine/core/types.hpp>

namespace peregrine::core {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time (UTC), µs since the epoch.
  virtual Micros now_us() const noexcept = 0;
};

/// std::chrono::system_clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  Micros now_us() const noexcept override;
};

/// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start = 1'700'000'000'000'000) : now_(start) {}
  Micros now_us() const noexcept override { return now_.load(); }
  void set(Micros t) noexcept { now_.store(t); }
  void advance(Micros d) noexcept { now_.fetch_add(d); }

 private:
  std::atomic<Micros> now_;
};

/// Wall-clock µs since the epoch, for code that has no Clock injected
/// (timestamps of arrival, partition bookkeeping). Thread-safe.
Micros wall_us() noexcept;

/// Monotonic nanoseconds, for latency measurement only.
std::int64_t steady_ns() noexcept;

}  // namespace peregrine::core
