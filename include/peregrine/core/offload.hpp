#pragma once
/// Runs blocking work on a thread pool from a coroutine on the event loop:
/// `R r = co_await core::offload<R>(pool, job)` calls `job()` on a pool
/// thread and resumes the caller on its own executor with the result, or
/// rethrows the job's exception there. The loop never blocks.
///
/// `job` must be trivially copyable (a struct of pointers, or a `[&]`
/// closure): GCC 12 bitwise-copies closure temporaries inside a co_await
/// expression and destroys them twice, and Asio 1.74 hands the initiation to
/// the coroutine by value. Pointers into the awaiting coroutine's frame are
/// safe: the frame stays suspended until the job has returned.

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace peregrine::core {

namespace detail {

template <class R, class Job>
struct OffloadInitiate {
  boost::asio::thread_pool* pool;
  Job job;
  template <class Handler>
  void operator()(Handler&& handler) const {
    boost::asio::post(*pool, [job = job, h = std::forward<Handler>(handler)]() mutable {
      std::exception_ptr ep;
      std::optional<R> result;
      try {
        result.emplace(job());
      } catch (...) {
        ep = std::current_exception();
      }
      auto ex = boost::asio::get_associated_executor(h);
      boost::asio::post(ex, [h = std::move(h), ep = std::move(ep), r = std::move(result)]() mutable {
        h(ep, r ? std::move(*r) : R{});
      });
    });
  }
};

}  // namespace detail

/// R must be default-constructible (the value handed over with an exception).
template <class R, class Job>
boost::asio::awaitable<R> offload(boost::asio::thread_pool& pool, Job job) {
  static_assert(std::is_trivially_copyable_v<Job>,
                "core::offload: the job must be trivially copyable; see the comment above");
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, R)>(
      detail::OffloadInitiate<R, Job>{&pool, job}, boost::asio::use_awaitable);
}

}  // namespace peregrine::core
