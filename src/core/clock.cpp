#include <peregrine/core/clock.hpp>

#include <chrono>

namespace peregrine::core {

Micros wall_us() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

Micros SystemClock::now_us() const noexcept { return wall_us(); }

std::int64_t steady_ns() noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace peregrine::core
