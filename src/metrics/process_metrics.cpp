#include <peregrine/metrics/registry.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace peregrine::metrics {
namespace {

// Fields of /proc/self/stat after the `(comm)` field, which may itself
// contain spaces and parentheses: field 3 (state) is index 0.
constexpr int kUtimeIndex = 11;
constexpr int kStimeIndex = 12;
constexpr int kStartTimeIndex = 19;

std::optional<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return std::nullopt;
  return line.substr(close + 2);
}

std::optional<double> stat_field(const std::string& fields, int index) {
  std::istringstream ss(fields);
  std::string tok;
  for (int i = 0; i <= index; ++i) {
    if (!(ss >> tok)) return std::nullopt;
  }
  return std::strtod(tok.c_str(), nullptr);
}

double cpu_seconds() {
  const auto fields = stat_fields();
  if (!fields) return 0;
  const auto utime = stat_field(*fields, kUtimeIndex);
  const auto stime = stat_field(*fields, kStimeIndex);
  if (!utime || !stime) return 0;
  return (*utime + *stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// statm counts pages: field 0 is the virtual size, field 1 the resident set.
double statm_bytes(int index) {
  std::ifstream in("/proc/self/statm");
  double pages[2] = {0, 0};
  if (!(in >> pages[0] >> pages[1])) return 0;
  return pages[index] * static_cast<double>(sysconf(_SC_PAGESIZE));
}

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    if (ss >> key >> value && key == "btime") return value;
  }
  return std::nullopt;
}

std::optional<double> start_time_seconds() {
  const auto fields = stat_fields();
  const auto boot = boot_time_seconds();
  if (!fields || !boot) return std::nullopt;
  const auto ticks = stat_field(*fields, kStartTimeIndex);
  if (!ticks) return std::nullopt;
  return *boot + *ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

void register_process_metrics(Registry& r) {
  r.gauge_fn("process_resident_memory_bytes", "Resident memory size in bytes.",
             [] { return statm_bytes(1); });
  r.gauge_fn("process_virtual_memory_bytes", "Virtual memory size in bytes.",
             [] { return statm_bytes(0); });
  r.counter_fn("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
               cpu_seconds);
  if (const auto start = start_time_seconds()) {
    const double value = *start;
    r.gauge_fn("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.",
               [value] { return value; });
  }
}

}  // namespace peregrine::metrics
