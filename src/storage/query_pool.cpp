#include <peregrine/storage/query_pool.hpp>

#include <pqxx/pqxx>

namespace peregrine::storage {

QueryPool::QueryPool(PgTarget target, int threads)
    : target_(std::move(target)), pool_(static_cast<std::size_t>(threads)) {}

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
