#pragma once
/// A small pool of worker threads, each with its own PostgreSQL connection,
/// for REST queries. `run()` is awaited from a coroutine on the event loop:
/// the function runs on a pool thread with that thread's connection and the
/// coroutine resumes on its own executor with the result (or the exception).
/// pqxx never runs on the loop.
///
/// Connections run as the server's role (storage::connect), so row-level
/// security holds: every call names the tenant scope its SQL runs under, and
/// the pool sets it on the connection before calling (see pg.hpp).

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
// Included, not forward-declared: in libpqxx 6 pqxx::connection is an alias.
#include <pqxx/connection>

#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool {
 public:
  QueryPool(PgTarget target, int threads);
  ~QueryPool();

  /// Runs `f(pqxx::connection&)` on a pool thread, with `scope` in force on
  /// that connection; resumes the caller with its result (R must be
  /// default-constructible) or rethrows its exception. A broken connection is
  /// reopened on the next call.
  ///
  /// `f` must capture by reference (`[&]`): GCC 12 bitwise-copies a closure
  /// temporary inside a co_await expression and then destroys it twice, so a
  /// closure that owns strings or JSON crashes. References into the awaiting
  /// coroutine's frame are safe: the frame stays suspended until `f` returns.
  template <class Fn, class F = std::decay_t<Fn>>
  auto run(Scope scope, Fn&& f)
      -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    static_assert(std::is_trivially_copyable_v<F>,
                  "QueryPool::run: capture by reference ([&]); see the comment above");
    // GCC 12 destroys closure-type parameters of a coroutine twice, and Asio
    // 1.74 hands the initiation to a coroutine by value: so the initiation is
    // a plain struct and the callable lives on the heap, owned by the task.
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr, R)>(
        Initiate<F, R>{this, scope, new F(std::forward<Fn>(f))}, boost::asio::use_awaitable);
  }

  /// Waits for running queries and joins the threads.
  void stop();

 private:
  template <class F, class R>
  struct Initiate {
    QueryPool* pool;
    Scope scope;
    F* fn;
    template <class Handler>
    void operator()(Handler&& handler) const {
      boost::asio::post(pool->pool_, [pool = pool, scope = scope, fn = std::unique_ptr<F>(fn),
                                      h = std::forward<Handler>(handler)]() mutable {
        std::exception_ptr ep;
        std::optional<R> result;
        try {
          pool->call_with_connection(scope,
                                     [&](pqxx::connection& c) { result.emplace((*fn)(c)); });
        } catch (...) {
          ep = std::current_exception();
        }
        fn.reset();  // destroy captures on the pool thread, before resuming
        auto ex = boost::asio::get_associated_executor(h);
        boost::asio::post(ex, [h = std::move(h), ep = std::move(ep), r = std::move(result)]() mutable {
          h(ep, r ? std::move(*r) : R{});
        });
      });
    }
  };

  /// Calls fn with this thread's connection set to `scope`, opening it if
  /// needed, and drops the connection if fn failed because it broke.
  void call_with_connection(Scope scope, const std::function<void(pqxx::connection&)>& fn);

  PgTarget target_;
  boost::asio::thread_pool pool_;
};

}  // namespace peregrine::storage
