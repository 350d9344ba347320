#pragma once
/// Timers and posts on the event loop that never outlive their owner: each
/// completion handler holds a shared state, not the owner's `this`, and an
/// owner that is gone (or cancelled) is never called back. Loop thread only.
///
/// - Periodic: runs `fn` every `period` until cancelled or destroyed.
/// - Deadline: runs `fn` once at a time point; re-arming replaces the wait.
/// - LoopPoster: posts work to the loop that is dropped once the poster is
///   gone (for an owner that must not be called back re-entrantly).

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace peregrine::core {

class Periodic {
 public:
  Periodic(boost::asio::io_context& ioc, std::chrono::milliseconds period, std::function<void()> fn)
      : state_(std::make_shared<State>(ioc, period, std::move(fn))) {
    arm(state_);
  }
  ~Periodic() { cancel(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void cancel() {
    state_->cancelled = true;
    state_->timer.cancel();
  }

 private:
  struct State {
    State(boost::asio::io_context& ioc, std::chrono::milliseconds p, std::function<void()> f)
        : timer(ioc), period(p), fn(std::move(f)) {}
    boost::asio::steady_timer timer;
    std::chrono::milliseconds period;
    std::function<void()> fn;
    bool cancelled = false;
  };
  static void arm(const std::shared_ptr<State>& s) {
    s->timer.expires_after(s->period);
    s->timer.async_wait([s](const boost::system::error_code& ec) {
      if (ec || s->cancelled) return;
      s->fn();
      arm(s);
    });
  }
  std::shared_ptr<State> state_;
};

class Deadline {
 public:
  Deadline(boost::asio::io_context& ioc, std::function<void()> fn)
      : state_(std::make_shared<State>(ioc, std::move(fn))) {}
  ~Deadline() { cancel(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  /// Runs fn after `wait` (replacing any pending wait).
  void arm_after(std::chrono::microseconds wait) {
    const std::uint64_t gen = ++state_->gen;
    state_->cancelled = false;
    state_->timer.expires_after(wait);
    state_->timer.async_wait([s = state_, gen](const boost::system::error_code& ec) {
      // A wait replaced by a later arm_after completes too: only the latest runs.
      if (ec || s->cancelled || gen != s->gen) return;
      s->fn();
    });
  }
  void cancel() {
    state_->cancelled = true;
    state_->timer.cancel();
  }

 private:
  struct State {
    State(boost::asio::io_context& ioc, std::function<void()> f) : timer(ioc), fn(std::move(f)) {}
    boost::asio::steady_timer timer;
    std::function<void()> fn;
    std::uint64_t gen = 0;
    bool cancelled = false;
  };
  std::shared_ptr<State> state_;
};

class LoopPoster {
 public:
  explicit LoopPoster(boost::asio::io_context& ioc) : ioc_(ioc), alive_(std::make_shared<bool>(true)) {}
  ~LoopPoster() { *alive_ = false; }
  LoopPoster(const LoopPoster&) = delete;
  LoopPoster& operator=(const LoopPoster&) = delete;

  /// Runs fn on the loop later, unless this poster is destroyed first.
  void post(std::function<void()> fn) {
    boost::asio::post(ioc_, [alive = alive_, fn = std::move(fn)] {
      if (*alive) fn();
    });
  }

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<bool> alive_;
};

}  // namespace peregrine::core
