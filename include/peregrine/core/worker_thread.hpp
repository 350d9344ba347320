#pragma once
/// The scaffold every background thread of the server shares (the storage
/// writer, the alert store, the Redis live-state thread): one thread running
/// the owner's loop, the mutex and condition variable that guard the owner's
/// queue, a stop request with a deadline, and exponential back-off for
/// reconnecting. The owner keeps its queue; this keeps the plumbing.
///
/// Threading: start() and stop() from the owning thread; wake() from any;
/// the `*_locked` accessors and the waits with the mutex held (the body, or
/// a producer pushing to the queue).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace peregrine::core {

/// Exponential back-off: current() starts at `min`, each failure() doubles
/// it up to `max`, success() goes back to `min`.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max) : min_(min), max_(max), cur_(min) {}
  std::chrono::milliseconds current() const noexcept { return cur_; }
  bool at_min() const noexcept { return cur_ == min_; }
  void failure() noexcept { cur_ = std::min(cur_ * 2, max_); }
  void success() noexcept { cur_ = min_; }

 private:
  std::chrono::milliseconds min_, max_, cur_;
};

class WorkerThread {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerThread() = default;
  /// Joins a thread still running (owners call stop() in their destructor,
  /// before the members the body uses are gone).
  ~WorkerThread() { stop(); }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  /// Runs `body` on a new thread (no-op while one runs). The body returns
  /// once stop_requested_locked() holds and its work allows.
  void start(std::function<void()> body) {
    if (thread_.joinable()) return;
    {
      std::lock_guard lk(mu_);
      stopping_ = false;
    }
    thread_ = std::thread(std::move(body));
  }

  /// Requests a stop (the body may take until `deadline` to finish its
  /// work), wakes the body and joins it.
  void stop(Clock::duration grace = std::chrono::seconds(10)) {
    {
      std::lock_guard lk(mu_);
      if (!thread_.joinable()) return;
      if (!stopping_) deadline_ = Clock::now() + grace;
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  bool running() const noexcept { return thread_.joinable(); }

  std::mutex& mutex() noexcept { return mu_; }
  /// Wakes the body (after a producer changed the queue).
  void wake() noexcept { cv_.notify_one(); }

  bool stop_requested_locked() const noexcept { return stopping_; }
  Clock::time_point stop_deadline_locked() const noexcept { return deadline_; }

  /// With `lock` held: waits up to `d` for `pred` or a stop request.
  template <class Pred>
  void wait_for(std::unique_lock<std::mutex>& lock, Clock::duration d, Pred pred) {
    cv_.wait_for(lock, d, [&] { return stopping_ || pred(); });
  }
  template <class Pred>
  void wait_until(std::unique_lock<std::mutex>& lock, Clock::time_point t, Pred pred) {
    cv_.wait_until(lock, t, [&] { return stopping_ || pred(); });
  }
  /// The same, not cut short by a stop request (a retry pause while stopping).
  template <class Pred>
  void pause_for(std::unique_lock<std::mutex>& lock, Clock::duration d, Pred pred) {
    cv_.wait_for(lock, d, pred);
  }
  template <class Pred>
  void wait(std::unique_lock<std::mutex>& lock, Pred pred) {
    cv_.wait(lock, [&] { return stopping_ || pred(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;            // guarded by mu_
  Clock::time_point deadline_{};     // guarded by mu_
  std::thread thread_;
};

}  // namespace peregrine::core
