#pragma once
/// Prometheus metrics: counters, gauges and histograms updated lock-free from
/// any thread, rendered in the text exposition format for `GET /metrics`.
///
/// Creating a metric (counter(), gauge(), histogram()) takes a mutex and
/// returns a reference that stays valid for the registry's lifetime: look it up
/// once, keep the reference, update it on the hot path with relaxed atomics.
/// Asking again for the same name and labels returns the same object; asking
/// for a name already registered as another kind, or an invalid metric or
/// label name, throws std::logic_error (a programming error, found at start).
/// Counter names are rendered as given: pass names ending in `_total`.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace peregrine::metrics {

/// Label pairs, e.g. {{"reason", "malformed_json"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept;
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

/// Cumulative histogram with fixed upper bounds (seconds, bytes, …).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  /// Value at quantile q (0..1), interpolated within the bucket; for logs and
  /// benchmarks, not a substitute for the scraped buckets.
  double quantile(double q) const noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  /// Observations in bucket i alone, (bounds[i-1], bounds[i]]; i == bounds().size()
  /// is the +Inf bucket. Not cumulative: render() accumulates.
  std::uint64_t bucket(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// Exponential bucket bounds: start, start*factor, … (count values).
std::vector<double> exponential_buckets(double start, double factor, int count);

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds, const Labels& labels = {});
  /// A gauge computed when scraped (queue depth, RSS). `fn` runs on the
  /// scraping thread, under the registry's lock: thread-safe, and it must not
  /// call this Registry.
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn);
  /// Like gauge_fn, for a value that only grows (CPU seconds): TYPE counter.
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> fn);

  /// Prometheus text format 0.0.4, families sorted by name. Any thread.
  std::string render() const;

 private:
  enum class Kind { counter, gauge, histogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> fn;
  };
  Family& family(const std::string& name, const std::string& help, Kind kind);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

/// Adds process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_cpu_seconds_total and process_start_time_seconds (from /proc) to `r`.
void register_process_metrics(Registry& r);

}  // namespace peregrine::metrics
