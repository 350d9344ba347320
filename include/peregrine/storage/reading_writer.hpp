#pragma once
/// The storage writer: a dedicated thread with its own PostgreSQL connection
/// that takes queued rows in batches (by size, or every few milliseconds) and
/// writes them with COPY into `readings_raw` (see migrations/). Implements
/// ingest::ReadingStore; its enqueue methods are called on the event loop and
/// only take a mutex for a swap. On PostgreSQL errors it keeps the batch and
/// retries with back-off; stop() drains everything queued before it returns.
/// With a spill directory, rows held while PostgreSQL is unreachable (more
/// than half of queue_rows, or whatever is left at the stop deadline) go to
/// an append-only spill file instead of memory or the floor, and are written
/// back, oldest first, once PostgreSQL answers again (or at the next start,
/// by replay_spill()).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <peregrine/ingest/sinks.hpp>
#include <peregrine/core/worker_thread.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

struct WorkBatch;
class BatchSink;
class SpillFile;

struct WriterOptions {
  PgTarget target;
  std::size_t batch_rows = 5000;
  std::chrono::milliseconds batch_age{5};
  std::size_t queue_rows = 2'000'000;  ///< pressure() above this, off again below half
  int partitions_ahead_days = 3;
  int retention_days = 0;  ///< drop day partitions older than this (0 = keep)
  int rollup_1m_retention_days = 365;  ///< 1-minute rollups kept this many days (0 = keep)
  int rollup_1h_retention_days = 0;    ///< 1-hour rollups (0 = keep)
  std::string spill_dir{};  ///< spill file directory (empty = no spill: rows dropped at the deadline)
  std::uint64_t spill_max_bytes = 1ull << 30;  ///< appends beyond this are refused
  /// Rollups (1 min, 1 h): the watermark moves to now - rollup_lag this
  /// often, by at most rollup_max_step at a time (a backfill goes in steps).
  std::chrono::milliseconds rollup_every{5'000};
  std::chrono::milliseconds rollup_lag{2'000};
  std::chrono::milliseconds rollup_max_step{3'600'000};
};

/// What replay_spill() did.
struct SpillReplay {
  bool usable = true;  ///< false: the directory cannot be used (`error` says why)
  bool ok = true;      ///< false: stopped on an error, the rest stays spilled
  std::uint64_t rows = 0;     ///< rows written
  std::uint64_t dropped = 0;  ///< rows rejected twice by PostgreSQL (counted, logged)
  std::string error;
};

/// At start-up, before the device registry is loaded (spilled series must be
/// in the database before new series keys are handed out): writes the spill
/// a previous run left in `dir` (created if missing) to PostgreSQL, oldest
/// record first, each in one transaction, and removes it. Counts into
/// `metrics` when given. Blocks; call it before the writer starts.
SpillReplay replay_spill(const PgTarget& target, const std::string& dir,
                         metrics::Registry* metrics);

class ReadingWriter final : public ingest::ReadingStore {
 public:
  /// Registers the storage metrics (peregrine_storage_*, peregrine_pg_connected)
  /// in `metrics`, which must outlive the writer.
  ReadingWriter(WriterOptions opts, metrics::Registry& metrics);
  ~ReadingWriter() override;

  /// Starts the thread. Connects lazily; does not throw if PostgreSQL is down.
  void start();
  /// Writes everything queued, then stops the thread. Blocks (call it off the
  /// loop or after the loop stopped). Gives up after `deadline` only if
  /// PostgreSQL stays unreachable, logging how many rows were not written.
  void stop(std::chrono::seconds deadline = std::chrono::seconds(60));

  // ingest::ReadingStore (event loop)
  void declare_device(const devices::DeviceRecord& rec) override;
  void declare_series(core::SeriesKey key, core::TenantId tenant, std::string_view device,
                      std::string_view metric) override;
  void append(std::span<const ingest::StoredRow> rows) override;
  void update_device(const devices::DeviceRecord& rec) override;
  /// Rows and the device's state under one lock (one batch, one transaction).
  void append(std::span<const ingest::StoredRow> rows, const devices::DeviceRecord& rec) override;
  bool pressure() const noexcept override { return pressure_.load(std::memory_order_relaxed); }

  /// Rows queued and not yet committed. Any thread.
  std::size_t queue_depth() const noexcept { return depth_.load(std::memory_order_relaxed); }
  /// Whether the writer's connection is up. Any thread.
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }

 private:
  void run();
  /// Writes `batch` (retrying once, then in parts, on data errors); false
  /// when it must be retried after a back-off. Writer thread.
  bool flush(BatchSink& sink, WorkBatch& batch);
  /// Moves the rollups' watermark when it is due (writer thread).
  /// True while the rollups are more than one step behind (a backfill): the
  /// loop then takes the next step at once instead of idling.
  bool maybe_refresh_rollups(BatchSink& sink, std::chrono::steady_clock::time_point& next);
  void set_connected(bool up) noexcept;
  void rows_done(std::size_t n) noexcept;
  /// Appends rows (and the device's state, when given) to the pending
  /// batch; the caller holds the lock. True when the writer must be woken.
  bool append_locked(std::span<const ingest::StoredRow> rows, const devices::DeviceRecord* rec);
  void update_pressure(std::size_t depth) noexcept;
  /// Appends `batch` to the spill and empties it; false (batch kept) when
  /// the spill is off, full or failing. Writer thread.
  bool spill(BatchSink& sink, WorkBatch& batch);
  /// Writes the spilled records back; false when PostgreSQL failed. Writer thread.
  bool replay(BatchSink& sink);

  WriterOptions opts_;
  std::unique_ptr<WorkBatch> pending_;  // guarded by worker_.mutex()
  std::atomic<std::size_t> depth_{0};
  std::atomic<bool> pressure_{false};
  std::atomic<bool> connected_{false};
  core::WorkerThread worker_;

  metrics::Counter& rows_written_;
  metrics::Counter& write_errors_;
  metrics::Counter& rows_dropped_;
  metrics::Histogram& batch_seconds_;
  metrics::Gauge& pg_connected_;
  metrics::Counter& spilled_rows_;
  metrics::Counter& replayed_rows_;
  metrics::Gauge& spill_bytes_;
  metrics::Histogram& rollup_seconds_;
  metrics::Counter& rollup_late_rows_;
  std::atomic<core::Micros> rollup_watermark_{0};
  std::unique_ptr<SpillFile> spill_;  // writer thread; null when off or unusable
  bool spill_refused_ = false;        // writer thread: the last append was refused
  std::uint64_t written_ = 0;  // writer thread: rows committed since start
};

}  // namespace peregrine::storage
