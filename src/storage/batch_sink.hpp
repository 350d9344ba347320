#pragma once
/// The PostgreSQL side of the storage writer: one connection, the daily
/// partitions known to exist, and the write of one batch in one transaction.
/// Used only by the ReadingWriter thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pqxx/connection>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/pg.hpp>
#include <peregrine/ingest/sinks.hpp>

#include "storage/rollups.hpp"

namespace peregrine::storage {

struct DeviceDecl {
  std::string id;
  core::TenantId tenant = core::kDefaultTenant;
  std::string name;
  std::string type;
};

struct SeriesDecl {
  core::SeriesKey key = 0;
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  std::string metric;
};

struct DeviceState {
  std::optional<core::Micros> last_seen;
  bool online = false;
  std::optional<std::int64_t> last_seq;
  std::uint64_t seq_gaps = 0;
};

/// Queued work in queue order: declarations, rows, and the latest state of
/// each device (coalesced: only the newest matters).
struct WorkBatch {
  std::vector<DeviceDecl> devices;
  std::vector<SeriesDecl> series;
  std::vector<ingest::StoredRow> rows;
  std::unordered_map<std::string, DeviceState> states;
  std::chrono::steady_clock::time_point first_at;  ///< when the first item was queued

  bool empty() const noexcept { return rows.empty() && !has_meta(); }
  bool has_meta() const noexcept { return !devices.empty() || !series.empty() || !states.empty(); }
  void clear_meta() noexcept;
  /// Empties the batch, keeping the vectors' capacity.
  void clear() noexcept;
  /// Appends `newer` (queued after this batch) and empties it; its device
  /// states replace older ones.
  void absorb(WorkBatch& newer);
};

enum class WriteOutcome {
  ok,
  broken,      ///< connection lost: reconnect and retry
  data_error,  ///< the server rejected the data (22xxx, 23xxx): retrying may not help
  failed,      ///< other error with the connection alive: retry after back-off
};

class BatchSink {
 public:
  /// `retention.raw_days` 0 keeps every partition; the rollups and the
  /// tenants' own retention are applied once a day too (rollups.hpp).
  BatchSink(PgTarget target, int partitions_ahead_days, rollups::Retention retention);
  ~BatchSink();

  bool connected() const noexcept;
  /// Opens the connection and creates the partitions ahead. Throws.
  void connect();
  void disconnect() noexcept;

  /// Once per UTC day: creates the partitions for yesterday … today + ahead
  /// and drops those older than the retention. Throws.
  void ensure_ahead(core::Micros now_us);

  /// Writes the batch's declarations and device states (`meta`) and/or its
  /// rows (`rows`) in one transaction. `error` gets the server's message.
  /// When the COMMIT of rows is lost with the connection, the transaction's
  /// id (txid_current) is kept for committed_in_doubt(). A caller-chosen
  /// `batch_id` (not 0, for spill replays) is instead stored in
  /// `storage_batches` with the rows: the caller checks it with
  /// batch_committed().
  WriteOutcome write(const WorkBatch& batch, bool meta, bool rows, std::string& error,
                     std::int64_t batch_id = 0);

  /// Whether rows were committed with `batch_id` (ids are kept a day). Throws.
  bool batch_committed(std::int64_t batch_id);
  /// Whether transaction `xid` committed (txid_status; false when too old to
  /// tell). Throws.
  bool xid_committed(std::int64_t xid);
  /// The COMMIT in doubt, if any: {transaction id, rows}.
  std::optional<std::pair<std::int64_t, std::size_t>> doubt() const noexcept;
  /// Forgets it (its batch was spilled with the doubt, to be settled at
  /// replay); committed_in_doubt() is then 0.
  void forget_doubt() noexcept { doubt_.reset(); }
  /// Merges the raw rows of [watermark, up_to) into the rollups and moves
  /// the watermark there (storage/rollups.hpp). Throws.
  void refresh_rollups(core::Micros up_to);
  core::Micros rollup_watermark() const noexcept { return watermark_; }
  /// Rows of the last write() that were below the watermark (merged into
  /// the rollups in its transaction).
  std::size_t last_late_rows() const noexcept { return last_late_; }

  /// A fresh random batch id (not 0).
  std::int64_t new_batch_id() { return static_cast<std::int64_t>(batch_ids_() >> 1) | 1; }

  /// After connect(): how many leading rows of the batch a COMMIT in doubt
  /// did write after all (0 when it did not, or none was in doubt). Those
  /// must not be written again; declarations are idempotent. Throws.
  std::size_t committed_in_doubt();

 private:
  void ensure_partitions(const std::vector<ingest::StoredRow>& rows);
  void create_partition(std::int64_t day);
  void drop_partitions_before(std::int64_t day);
  void copy_rows(pqxx::transaction_base& tx, const std::vector<ingest::StoredRow>& rows);

  PgTarget target_;
  int ahead_days_;
  rollups::Retention retention_;
  std::unique_ptr<pqxx::connection> conn_;
  std::set<std::int64_t> known_days_;
  std::int64_t ahead_done_day_;
  std::string ts_buf_;  // reused for every row's timestamp
  std::mt19937_64 batch_ids_;
  struct Doubt {
    std::int64_t xid;
    std::size_t rows;
  };
  std::optional<Doubt> doubt_;
  core::Micros watermark_ = 0;
  std::size_t last_late_ = 0;
};

}  // namespace peregrine::storage
