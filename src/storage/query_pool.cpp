#include <peregrine/storage/query_pool.hpp>

#include <pqxx/pqxx>

#include <peregrine/core/errors.hpp>

namespace peregrine::storage {

QueryPool::QueryPool(PgTarget target, int threads, std::size_t max_queued,
                     metrics::Registry* metrics)
    : target_(std::move(target)),
      limit_(static_cast<std::size_t>(threads) + max_queued),
      pool_(static_cast<std::size_t>(threads)) {
  if (metrics != nullptr) {
    rejected_ = &metrics->counter("peregrine_query_pool_rejected_total",
                                  "REST queries refused (503) because the query pool's queue was full");
    metrics->gauge_fn("peregrine_query_pool_in_flight",
                      "REST queries running or waiting for a PostgreSQL connection",
                      [this] { return static_cast<double>(in_flight_.load(std::memory_order_relaxed)); });
  }
}

void QueryPool::admit() {
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) + 1 > limit_) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (rejected_ != nullptr) rejected_->inc();
    throw core::Overloaded("the query pool is full (PEREGRINE_QUERY_QUEUE)");
  }
}

void QueryPool::release() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

QueryPool::~QueryPool() { stop(); }

void QueryPool::stop() { pool_.join(); }

void QueryPool::call_with_connection(Scope scope,
                                     const std::function<void(pqxx::connection&)>& fn) {
  // One connection per pool thread, closed when the thread exits (at join).
  // `current` mirrors its `peregrine.tenant`: only the pool sets it, so a
  // call for the same tenant as the one before skips the round trip.
  thread_local std::unique_ptr<pqxx::connection> conn;
  thread_local Scope current = Scope::none();
  if (conn && !conn->is_open()) conn.reset();
  try {
    if (!conn) {
      conn = connect(target_, scope);
      current = scope;
    } else if (!(current == scope)) {
      set_scope(*conn, scope);
      current = scope;
    }
    fn(*conn);
  } catch (const pqxx::broken_connection&) {
    conn.reset();
    throw;
  }
}

}  // namespace peregrine::storage
