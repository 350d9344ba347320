#pragma once
/// Aggregates of series over any range (analytics/aggregate.hpp): each part
/// of the range read from the coarsest source that gives the raw rows'
/// answer — the 1 h and 1 min rollups, raw rows at the edges and past the
/// rollups' watermark — in one repeatable-read transaction, merged per
/// output bucket. Awaited on the loop, run on the query pool.

#include <cstdint>
#include <map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <peregrine/analytics/aggregate.hpp>
#include <peregrine/analytics/oee.hpp>
#include <peregrine/core/types.hpp>

namespace peregrine::storage {

class QueryPool;

/// Per series key: (bucket start, partial) oldest first, only buckets with rows.
using AggregateResult = std::map<core::SeriesKey, std::vector<std::pair<core::Micros, analytics::Partial>>>;

class AggregateRepository {
 public:
  explicit AggregateRepository(QueryPool& pool) : pool_(pool) {}
  /// `series` must be the tenant's (the caller resolved them).
  boost::asio::awaitable<AggregateResult> query(core::TenantId tenant, std::vector<core::SeriesKey> series,
                                                core::Micros from, core::Micros to, core::Micros bucket);
  /// Raw samples of `series` in [from, to), oldest first, each led by its
  /// last sample in the `lookback` before `from` (the state or counter
  /// value the range starts with). For OEE (analytics/oee.hpp).
  boost::asio::awaitable<std::map<core::SeriesKey, std::vector<analytics::Sample>>> samples(
      core::TenantId tenant, std::vector<core::SeriesKey> series, core::Micros from, core::Micros to,
      core::Micros lookback);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
