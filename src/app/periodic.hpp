#pragma once
// A task the event loop runs every `period` until cancelled. Loop thread only.

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace peregrine::app {

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
  // The handler holds the state, so a cancelled timer never touches a
  // destroyed Periodic.
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

}  // namespace peregrine::app
