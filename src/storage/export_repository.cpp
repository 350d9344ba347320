#include <peregrine/storage/export_repository.hpp>

#include <algorithm>

#include <boost/asio/post.hpp>
#include <pqxx/pqxx>

#include <peregrine/core/errors.hpp>
#include <peregrine/core/offload.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/pg.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

class ExportRepository::Cursor {
 public:
  Cursor(const PgTarget& target, core::TenantId tenant, std::vector<Series> series, core::Micros from,
         core::Micros to)
      : conn_(connect(target, Scope::tenant(tenant))), series_(std::move(series)), from_(from), to_(to) {
    tx_ = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(*conn_);
    // A long export is meant to run long; a stuck one is cut by the socket's timeout.
    tx_->exec("SET LOCAL statement_timeout = '60s'");
    // Only the tenant's series (row-level security on `series` is the second wall).
    std::string asked = "{";
    for (const auto& s : series_) asked += (asked.size() > 1 ? "," : "") + std::to_string(s.key);
    asked += "}";
    std::vector<core::SeriesKey> mine;
    for (const auto& r : tx_->exec_params("SELECT id FROM series WHERE id = ANY($1::int[]) AND tenant_id = $2",
                                          asked, tenant))
      mine.push_back(r[0].as<core::SeriesKey>());
    std::erase_if(series_, [&](const Series& s) { return std::find(mine.begin(), mine.end(), s.key) == mine.end(); });
  }

  std::string fetch(std::size_t rows) {
    std::string out;
    out.reserve(rows * 48);
    while (rows > 0 && at_ < series_.size()) {
      const Series& s = series_[at_];
      if (!declared_) {
        tx_->exec("DECLARE export NO SCROLL CURSOR FOR SELECT " + sql::micros("ts") +
                  ", value FROM readings_raw WHERE series_id = " + std::to_string(s.key) +
                  " AND ts >= " + sql::ts_literal(from_) + " AND ts < " + sql::ts_literal(to_) + " ORDER BY ts");
        declared_ = true;
      }
      const auto r = tx_->exec("FETCH FORWARD " + std::to_string(rows) + " FROM export");
      for (const auto& row : r) {
        core::append_rfc3339(out, row[0].as<std::int64_t>());
        out += ',';
        out += s.device;  // [A-Za-z0-9_.-]: never needs quoting
        out += ',';
        out += s.metric;  // [A-Za-z0-9_]
        out += ',';
        out += row[1].c_str();  // PostgreSQL's shortest exact text of the double
        out += "\r\n";
      }
      rows -= r.size();
      if (rows > 0) {  // this series is done
        tx_->exec("CLOSE export");
        declared_ = false;
        ++at_;
      }
    }
    return out;
  }

 private:
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>> tx_;
  std::vector<Series> series_;
  core::Micros from_, to_;
  std::size_t at_ = 0;
  bool declared_ = false;
};

namespace {

struct OpenJob {
  const PgTarget* target;
  core::TenantId tenant;
  std::vector<ExportRepository::Series>* series;
  core::Micros from, to;
  ExportRepository::Cursor* operator()() const {
    return new ExportRepository::Cursor(*target, tenant, std::move(*series), from, to);
  }
};

struct FetchJob {
  ExportRepository::Cursor* cursor;
  std::size_t rows;
  std::string operator()() const { return cursor->fetch(rows); }
};

}  // namespace

ExportRepository::ExportRepository(QueryPool& pool, int threads, std::size_t max_open)
    : queries_(pool), max_open_(max_open), pool_(static_cast<std::size_t>(threads)) {}

ExportRepository::~ExportRepository() { pool_.join(); }

awaitable<std::shared_ptr<ExportRepository::Cursor>> ExportRepository::open(core::TenantId tenant,
                                                                           std::vector<Series> series,
                                                                           core::Micros from, core::Micros to) {
  if (open_.fetch_add(1, std::memory_order_relaxed) + 1 > max_open_) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    throw core::Overloaded("too many exports are running; try again shortly", 5);
  }
  Cursor* raw = nullptr;
  try {
    raw = co_await core::offload<Cursor*>(pool_, OpenJob{&queries_.target(), tenant, &series, from, to});
  } catch (...) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  // Closed on the export pool: closing a connection is blocking I/O, kept off the loop.
  co_return std::shared_ptr<Cursor>(raw, [this](Cursor* c) {
    boost::asio::post(pool_, [this, c] {
      try {
        delete c;
      } catch (...) {
      }
      open_.fetch_sub(1, std::memory_order_relaxed);
    });
  });
}

awaitable<std::string> ExportRepository::next(Cursor& cursor, std::size_t rows) {
  co_return co_await core::offload<std::string>(
      pool_, FetchJob{&cursor, rows});
}

}  // namespace peregrine::storage
