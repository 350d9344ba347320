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

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
// Included, not forward-declared: in libpqxx 6 pqxx::connection is an alias.
#include <pqxx/connection>

#include <peregrine/core/offload.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool {
 public:
  /// At most `threads + max_queued` calls are in flight; one more is refused
  /// with core::Overloaded (the HTTP server answers 503) and counted in
  /// peregrine_query_pool_rejected_total when `metrics` is given (it must
  /// outlive the pool), which also gets the gauge peregrine_query_pool_in_flight.
  QueryPool(PgTarget target, int threads, std::size_t max_queued = 256,
            metrics::Registry* metrics = nullptr);
  ~QueryPool();

  /// Runs `f(pqxx::connection&)` on a pool thread, with `scope` in force on
  /// that connection; resumes the caller with its result (R must be
  /// default-constructible) or rethrows its exception. A broken connection is
  /// reopened on the next call. Throws core::Overloaded, before running
  /// anything, when the pool is full.
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
    admit();
    // The callable lives on the heap, owned by the job, so what it captures
    // is destroyed exactly once (see core/offload.hpp).
    return core::offload<R>(pool_, Call<F, R>{this, scope, new F(std::forward<Fn>(f))});
  }

  /// Waits for running queries and joins the threads.
  void stop();

  /// Where the pool's connections go (for a repository that needs a
  /// connection of its own, such as a long export's cursor).
  const PgTarget& target() const noexcept { return target_; }

 private:
  template <class F, class R>
  struct Call {
    QueryPool* pool;
    Scope scope;
    F* fn;
    R operator()() const {
      const std::unique_ptr<F> owned(fn);  // captures die on the pool thread
      const Release release{pool};
      std::optional<R> result;
      pool->call_with_connection(scope, [&](pqxx::connection& c) { result.emplace((*owned)(c)); });
      return std::move(*result);
    }
  };

  struct Release {
    QueryPool* pool;
    ~Release() { pool->release(); }
  };
  /// Counts a call in, or throws core::Overloaded (counted) when full.
  void admit();
  void release() noexcept;

  /// Calls fn with this thread's connection set to `scope`, opening it if
  /// needed, and drops the connection if fn failed because it broke.
  void call_with_connection(Scope scope, const std::function<void(pqxx::connection&)>& fn);

  PgTarget target_;
  std::size_t limit_;
  std::atomic<std::size_t> in_flight_{0};
  metrics::Counter* rejected_ = nullptr;
  boost::asio::thread_pool pool_;
};

}  // namespace peregrine::storage
