#pragma once
/// Raw readings for CSV export (`GET /api/v1/export/readings.csv`), read in
/// pieces from a PostgreSQL cursor so that memory stays flat however many
/// rows the range holds.
///
/// Each export has its own connection and one repeatable-read transaction
/// (one snapshot from the first row to the last). It reads one series after
/// another in the order given, each by time along the (series_id, ts)
/// index, so nothing is sorted. Pieces are fetched on the repository's own
/// small thread pool: an export never holds a query-pool thread between
/// pieces, and the next piece is fetched only after the caller has written
/// the last one (back-pressure from the client's socket).

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <peregrine/core/types.hpp>

namespace peregrine::storage {

class QueryPool;

class ExportRepository {
 public:
  struct Series {
    core::SeriesKey key = 0;
    std::string device;
    std::string metric;
  };
  class Cursor;

  /// At most `max_open` exports at once; `threads` fetch their pieces.
  explicit ExportRepository(QueryPool& pool, int threads = 2, std::size_t max_open = 4);
  ~ExportRepository();
  ExportRepository(const ExportRepository&) = delete;
  ExportRepository& operator=(const ExportRepository&) = delete;

  /// Opens an export of `series` (the tenant's, resolved by the caller) over
  /// [from, to). Throws core::Overloaded when `max_open` exports are running.
  /// The cursor is closed, on the export pool, when the last owner lets go.
  boost::asio::awaitable<std::shared_ptr<Cursor>> open(core::TenantId tenant, std::vector<Series> series,
                                                       core::Micros from, core::Micros to);
  /// The next records `time,device_id,metric,value` (CRLF-terminated, at
  /// most `rows` of them); empty once every series is read.
  boost::asio::awaitable<std::string> next(Cursor& cursor, std::size_t rows);

  /// Exports open now (any thread).
  std::size_t open_count() const noexcept { return open_.load(std::memory_order_relaxed); }

 private:
  QueryPool& queries_;
  std::size_t max_open_;
  std::atomic<std::size_t> open_{0};
  boost::asio::thread_pool pool_;
};

}  // namespace peregrine::storage
