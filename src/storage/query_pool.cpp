#include <peregrine/storage/query_pool.hpp>

#include <pqxx/pqxx>

namespace peregrine::storage {

QueryPool::QueryPool(std::string pg_url, int threads)
    : pg_url_(std::move(pg_url)), pool_(static_cast<std::size_t>(threads)) {}

QueryPool::~QueryPool() { stop(); }

void QueryPool::stop() { pool_.join(); }

void QueryPool::call_with_connection(const std::function<void(pqxx::connection&)>& fn) {
  // One connection per pool thread, closed when the thread exits (at join).
  thread_local std::unique_ptr<pqxx::connection> conn;
  if (conn && !conn->is_open()) conn.reset();
  if (!conn) conn = std::make_unique<pqxx::connection>(pg_url_);
  try {
    fn(*conn);
  } catch (const pqxx::broken_connection&) {
    conn.reset();
    throw;
  }
}

}  // namespace peregrine::storage
