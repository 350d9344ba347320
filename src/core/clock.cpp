#include <peregrine/core/clock.hpp>

#include <chrono>

namespace peregrine::core {

Micros SystemClock::now_us() const noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t steady_ns() noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace peregrine::core
