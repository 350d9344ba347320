#pragma once
// Rollups (migrations/0010): the storage writer's side. Everything runs on
// the writer's thread and connection, between or inside its batch
// transactions, so nothing races: rows with ts below the watermark are in
// rollup_1m/rollup_1h, rows at or above it are not yet. refresh() merges
// the raw rows of [watermark, up_to) into both levels and advances the
// watermark, in one transaction; merge_late() merges a batch's rows below
// the watermark in the batch's own transaction.

#include <cstdint>
#include <vector>

#include <pqxx/pqxx>

#include <peregrine/core/types.hpp>
#include <peregrine/ingest/sinks.hpp>

namespace peregrine::storage::rollups {

inline constexpr core::Micros kMinuteUs = 60'000'000;
inline constexpr core::Micros kHourUs = 3'600'000'000;

/// How many whole UTC days each level keeps (0 = everything); a tenant's own
/// values (tenants.retention) shorten these, never lengthen them: raw rows
/// live in day partitions every tenant shares, dropped whole.
struct Retention {
  int raw_days = 0;
  int rollup_1m_days = 365;
  int rollup_1h_days = 0;
};

struct RetentionResult {
  int partitions_dropped = 0;   ///< rollup partitions, all of them past the server's retention
  std::int64_t rows_deleted = 0;  ///< rows of tenants with a shorter retention of their own
};

/// Drops the rollup partitions wholly older than the server's retention (a
/// level keeps up to one partition, a month or a year, more than it must),
/// and deletes every level's rows of tenants with a shorter one of their own
/// (raw rows included; the server's raw retention drops day partitions, see
/// BatchSink). `today` is the UTC day number. Each step commits alone.
RetentionResult apply_retention(pqxx::connection& conn, const Retention& server, std::int64_t today);

/// The watermark, creating it on first use: the oldest raw row (so rows
/// stored before rollups existed are rolled up by refresh, a step at a
/// time), or now when there are none.
core::Micros load_watermark(pqxx::connection& conn);

/// Merges `rows` with ts < `watermark` into both levels inside `tx`;
/// returns how many there were.
std::size_t merge_late(pqxx::transaction_base& tx, const std::vector<ingest::StoredRow>& rows,
                       core::Micros watermark);

/// Merges the raw rows of [watermark, up_to) and moves the watermark to
/// up_to, in one transaction. Returns the new watermark. Throws.
core::Micros refresh(pqxx::connection& conn, core::Micros watermark, core::Micros up_to);

}  // namespace peregrine::storage::rollups
