#include <peregrine/core/clock.hpp>
#include <peregrine/storage/reading_writer.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "storage/batch_sink.hpp"
#include "storage/spill_file.hpp"

namespace peregrine::storage {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kBackoffMin = std::chrono::milliseconds(100);
constexpr auto kBackoffMax = std::chrono::milliseconds(5000);
// Wake up now and then when idle so that tomorrow's partitions get created
// even when no readings arrive.
constexpr auto kIdleWake = std::chrono::seconds(60);

}  // namespace

ReadingWriter::ReadingWriter(WriterOptions opts, metrics::Registry& metrics)
    : opts_(std::move(opts)),
      pending_(std::make_unique<WorkBatch>()),
      rows_written_(metrics.counter("peregrine_storage_rows_written_total",
                                    "Readings rows committed to PostgreSQL")),
      write_errors_(metrics.counter("peregrine_storage_write_errors_total",
                                    "Failed PostgreSQL write attempts (batches are retried)")),
      rows_dropped_(metrics.counter("peregrine_storage_rows_dropped_total",
                                    "Rows given up: rejected twice by PostgreSQL, or unwritten at "
                                    "shutdown")),
      batch_seconds_(metrics.histogram("peregrine_storage_batch_seconds",
                                       "Time to write one batch in one transaction",
                                       metrics::exponential_buckets(0.0005, 2, 14))),
      pg_connected_(metrics.gauge("peregrine_pg_connected",
                                  "1 while the storage writer is connected to PostgreSQL")),
      spilled_rows_(metrics.counter("peregrine_storage_spilled_rows_total",
                                    "Rows appended to the spill file while PostgreSQL was "
                                    "unreachable")),
      replayed_rows_(metrics.counter("peregrine_storage_replayed_rows_total",
                                     "Spilled rows written to PostgreSQL from the spill file")),
      spill_bytes_(metrics.gauge("peregrine_storage_spill_bytes",
                                 "Bytes in the spill file waiting to be written to PostgreSQL")),
      rollup_seconds_(metrics.histogram("peregrine_storage_rollup_seconds",
                                        "Time to merge one stretch of raw rows into the 1 min and 1 h rollups",
                                        metrics::exponential_buckets(0.0005, 2, 16))),
      rollup_late_rows_(metrics.counter("peregrine_storage_rollup_late_rows_total",
                                        "Rows stored below the rollups' watermark (late), merged into "
                                        "the rollups in their own transaction")) {
  metrics.gauge_fn("peregrine_storage_rollup_lag_seconds",
                   "How far the rollups' watermark is behind now (newer rows are read raw)", [this] {
                     const core::Micros w = rollup_watermark_.load(std::memory_order_relaxed);
                     return w == 0 ? 0.0 : static_cast<double>(core::wall_us() - w) * 1e-6;
                   });
  metrics.gauge_fn("peregrine_storage_queue_depth", "Rows queued or being written",
                   [this] { return static_cast<double>(depth_.load(std::memory_order_relaxed)); });
}

ReadingWriter::~ReadingWriter() { stop(); }

void ReadingWriter::start() {
  worker_.start([this] { run(); });
}

void ReadingWriter::stop(std::chrono::seconds deadline) { worker_.stop(deadline); }

void ReadingWriter::declare_device(const devices::DeviceRecord& rec) {
  bool wake;
  {
    std::lock_guard lk(worker_.mutex());
    wake = pending_->empty();
    if (wake) pending_->first_at = SteadyClock::now();
    pending_->devices.push_back({rec.id, rec.tenant, rec.name, rec.type});
  }
  if (wake) worker_.wake();
}

void ReadingWriter::declare_series(core::SeriesKey key, core::TenantId tenant,
                                   std::string_view device, std::string_view metric) {
  bool wake;
  {
    std::lock_guard lk(worker_.mutex());
    wake = pending_->empty();
    if (wake) pending_->first_at = SteadyClock::now();
    pending_->series.push_back({key, tenant, std::string(device), std::string(metric)});
  }
  if (wake) worker_.wake();
}

bool ReadingWriter::append_locked(std::span<const ingest::StoredRow> rows,
                                 const devices::DeviceRecord* rec) {
  const bool was_empty = pending_->empty();
  if (was_empty) pending_->first_at = SteadyClock::now();
  const std::size_t before = pending_->rows.size();
  pending_->rows.insert(pending_->rows.end(), rows.begin(), rows.end());
  if (rec != nullptr) {
    auto [it, inserted] = pending_->states.try_emplace(rec->id);
    it->second = {rec->last_seen, rec->online, rec->last_seq, rec->seq_gaps};
  }
  // Wake the writer to start the age timer, or when a full batch is ready.
  return was_empty || (before < opts_.batch_rows && pending_->rows.size() >= opts_.batch_rows);
}

void ReadingWriter::append(std::span<const ingest::StoredRow> rows) {
  if (rows.empty()) return;
  bool wake;
  {
    std::lock_guard lk(worker_.mutex());
    wake = append_locked(rows, nullptr);
  }
  update_pressure(depth_.fetch_add(rows.size(), std::memory_order_relaxed) + rows.size());
  if (wake) worker_.wake();
}

void ReadingWriter::append(std::span<const ingest::StoredRow> rows, const devices::DeviceRecord& rec) {
  bool wake;
  {
    std::lock_guard lk(worker_.mutex());
    wake = append_locked(rows, &rec);
  }
  update_pressure(depth_.fetch_add(rows.size(), std::memory_order_relaxed) + rows.size());
  if (wake) worker_.wake();
}

void ReadingWriter::update_device(const devices::DeviceRecord& rec) {
  bool wake;
  {
    std::lock_guard lk(worker_.mutex());
    wake = pending_->empty();
    if (wake) pending_->first_at = SteadyClock::now();
    auto [it, inserted] = pending_->states.try_emplace(rec.id);
    it->second = {rec.last_seen, rec.online, rec.last_seq, rec.seq_gaps};
  }
  if (wake) worker_.wake();
}

void ReadingWriter::update_pressure(std::size_t depth) noexcept {
  if (depth > opts_.queue_rows) {
    pressure_.store(true, std::memory_order_relaxed);
  } else if (depth < opts_.queue_rows / 2) {
    pressure_.store(false, std::memory_order_relaxed);
  }
}

void ReadingWriter::rows_done(std::size_t n) noexcept {
  update_pressure(depth_.fetch_sub(n, std::memory_order_relaxed) - n);
}

void ReadingWriter::set_connected(bool up) noexcept {
  connected_.store(up, std::memory_order_relaxed);
  pg_connected_.set(up ? 1 : 0);
}

bool ReadingWriter::flush(BatchSink& sink, WorkBatch& batch) {
  const auto t0 = SteadyClock::now();
  std::string error;
  auto committed = [&] {
    const std::size_t n = batch.rows.size();
    batch_seconds_.observe(std::chrono::duration<double>(SteadyClock::now() - t0).count());
    rows_written_.inc(n);
    rollup_late_rows_.inc(sink.last_late_rows());
    written_ += n;
    rows_done(n);
    batch.clear();
    return true;
  };
  auto retry_later = [&](WriteOutcome out) {
    write_errors_.inc();
    if (out == WriteOutcome::broken) {
      sink.disconnect();
      set_connected(false);
      spdlog::warn("storage writer lost PostgreSQL ({}); keeping {} rows queued", error,
                   depth_.load(std::memory_order_relaxed));
    } else {
      spdlog::error("storage batch of {} rows failed, will retry: {}", batch.rows.size(), error);
    }
    return false;
  };

  WriteOutcome out = sink.write(batch, true, true, error);
  if (out == WriteOutcome::data_error) {
    write_errors_.inc();
    spdlog::warn("storage batch rejected, retrying once: {}", error);
    out = sink.write(batch, true, true, error);
  }
  if (out == WriteOutcome::ok) return committed();
  if (out != WriteOutcome::data_error) return retry_later(out);

  // Rejected twice: write declarations and rows apart, so that one bad value
  // cannot lose the declarations later rows depend on.
  write_errors_.inc();
  if (batch.has_meta()) {
    out = sink.write(batch, true, false, error);
    if (out == WriteOutcome::data_error) {
      write_errors_.inc();
      spdlog::error("dropping {} device and {} series declarations and {} device updates: {}",
                    batch.devices.size(), batch.series.size(), batch.states.size(), error);
    } else if (out != WriteOutcome::ok) {
      return retry_later(out);
    }
    batch.clear_meta();
  }
  if (batch.rows.empty()) return true;
  out = sink.write(batch, false, true, error);
  if (out == WriteOutcome::ok) return committed();
  if (out != WriteOutcome::data_error) return retry_later(out);
  write_errors_.inc();
  const std::size_t n = batch.rows.size();
  spdlog::error("dropping {} rows rejected by PostgreSQL: {}", n, error);
  rows_dropped_.inc(n);
  rows_done(n);
  batch.clear();
  return true;
}

bool ReadingWriter::spill(BatchSink& sink, WorkBatch& batch) {
  if (!spill_) return false;
  SpillRecord rec;
  rec.id = sink.new_batch_id();
  // The kept batch may lead with rows whose COMMIT is in doubt: the record
  // carries the doubt, settled when it is replayed.
  const auto doubt = sink.doubt();
  if (doubt) {
    rec.doubt_id = doubt->first;
    rec.doubt_rows = doubt->second;
  }
  std::swap(rec.batch, batch);
  std::string error;
  const auto res = spill_->append(rec, error);
  std::swap(rec.batch, batch);
  if (res != SpillFile::Append::ok) {
    if (!spill_refused_) {
      if (res == SpillFile::Append::full) {
        spdlog::error("storage spill full ({} bytes, spill_max_mb): keeping {} rows in memory",
                      spill_->pending_bytes(), depth_.load(std::memory_order_relaxed));
      } else {
        spdlog::error("storage spill failed ({}): keeping {} rows in memory", error,
                      depth_.load(std::memory_order_relaxed));
      }
    }
    spill_refused_ = true;
    return false;
  }
  spill_refused_ = false;
  if (doubt) sink.forget_doubt();
  const std::size_t n = batch.rows.size();
  spilled_rows_.inc(n);
  spill_bytes_.set(static_cast<double>(spill_->pending_bytes()));
  rows_done(n);
  spdlog::warn(
      "storage: PostgreSQL unreachable, spilled {} rows, {} declarations and {} device updates "
      "to {} ({} bytes waiting)",
      n, batch.devices.size() + batch.series.size(), batch.states.size(), opts_.spill_dir,
      spill_->pending_bytes());
  batch.clear();
  return true;
}

bool ReadingWriter::replay(BatchSink& sink) {
  const auto res = replay_records(*spill_, sink, [this](std::uint64_t rows) {
    replayed_rows_.inc(rows);
    spill_bytes_.set(static_cast<double>(spill_->pending_bytes()));
  });
  spill_bytes_.set(static_cast<double>(spill_->pending_bytes()));
  if (res.dropped > 0) rows_dropped_.inc(res.dropped);
  if (res.rows > 0 || res.dropped > 0) {
    spdlog::info("storage: replayed {} spilled rows ({} dropped), {} bytes still spilled", res.rows,
                 res.dropped, spill_->pending_bytes());
  }
  if (res.outcome == WriteOutcome::ok) return true;
  write_errors_.inc();
  if (res.outcome == WriteOutcome::broken) {
    sink.disconnect();
    set_connected(false);
    spdlog::warn("storage writer lost PostgreSQL while replaying the spill: {}", res.error);
  } else {
    spdlog::error("storage spill replay failed, will retry: {}", res.error);
  }
  return false;
}

bool ReadingWriter::maybe_refresh_rollups(BatchSink& sink, SteadyClock::time_point& next) {
  const auto now = SteadyClock::now();
  if (now < next || !sink.connected()) return false;
  next = now + opts_.rollup_every;
  const core::Micros w = sink.rollup_watermark();
  const core::Micros target = core::wall_us() - opts_.rollup_lag.count() * 1000;
  const core::Micros up_to = std::min(target, w + opts_.rollup_max_step.count() * 1000);
  if (up_to <= w) return false;
  const auto t0 = SteadyClock::now();
  bool behind = false;
  try {
    sink.refresh_rollups(up_to);
    rollup_seconds_.observe(std::chrono::duration<double>(SteadyClock::now() - t0).count());
    if (up_to < target) {  // backfilling: the next step at once
      next = now;
      behind = true;
    }
  } catch (const std::exception& e) {
    spdlog::warn("storage: rollup refresh failed ({}); retried", e.what());
    if (!sink.connected()) set_connected(false);
  }
  rollup_watermark_.store(sink.rollup_watermark(), std::memory_order_relaxed);
  return behind;
}

void ReadingWriter::run() {
  BatchSink sink(opts_.target, opts_.partitions_ahead_days,
                 rollups::Retention{opts_.retention_days, opts_.rollup_1m_retention_days, opts_.rollup_1h_retention_days});
  if (!opts_.spill_dir.empty()) {
    std::string error;
    spill_ = SpillFile::open(opts_.spill_dir, opts_.spill_max_bytes, error);
    if (spill_) {
      spill_bytes_.set(static_cast<double>(spill_->pending_bytes()));
    } else {
      spdlog::error("storage spill off: {}", error);
    }
  }
  auto batch = std::make_unique<WorkBatch>();
  core::Backoff backoff(kBackoffMin, kBackoffMax);
  auto next_rollup = SteadyClock::now();
  bool rollups_behind = false;
  std::size_t given_up = 0;
  for (;;) {
    bool stopping;
    SteadyClock::time_point deadline;
    {
      std::unique_lock lk(worker_.mutex());
      if (batch->empty()) {
        const bool settled = sink.connected() && (!spill_ || spill_->empty());
        const auto idle = !settled          ? backoff.current()
                          : rollups_behind ? std::chrono::milliseconds(0)
                                           : std::min<std::chrono::milliseconds>(kIdleWake, opts_.rollup_every);
        if (!worker_.stop_requested_locked() && pending_->empty()) {
          worker_.wait_for(lk, idle, [&] { return !pending_->empty(); });
        }
        if (!worker_.stop_requested_locked() && !pending_->empty()) {
          worker_.wait_until(lk, pending_->first_at + opts_.batch_age,
                             [&] { return pending_->rows.size() >= opts_.batch_rows; });
        }
        std::swap(batch, pending_);
      } else {
        batch->absorb(*pending_);  // a batch kept after a failure goes first
      }
      stopping = worker_.stop_requested_locked();
      deadline = worker_.stop_deadline_locked();
    }
    // Spilled rows are safe on disk: stopping need not wait to replay them.
    if (stopping && batch->empty() && (!spill_ || spill_->empty() || !sink.connected())) break;

    bool ok = true;
    if (!sink.connected()) {
      try {
        sink.connect();
        set_connected(true);
        spdlog::info("storage writer connected to PostgreSQL");
        if (const std::size_t n = std::min(sink.committed_in_doubt(), batch->rows.size()); n > 0) {
          // The rows of a batch whose COMMIT was in doubt lead the kept batch.
          spdlog::warn("storage: a COMMIT in doubt had written {} rows; not writing them again", n);
          batch->rows.erase(batch->rows.begin(), batch->rows.begin() + static_cast<std::ptrdiff_t>(n));
          rows_written_.inc(n);
          written_ += n;
          rows_done(n);
        }
      } catch (const std::exception& e) {
        sink.disconnect();
        set_connected(false);
        if (backoff.at_min()) spdlog::warn("storage writer cannot connect: {}", e.what());
        ok = false;
      }
    }
    // Spilled rows are older than anything queued: they go first.
    if (ok && spill_ && !spill_->empty()) ok = replay(sink);
    if (ok && !batch->empty()) {
      ok = flush(sink, *batch);
    } else if (ok) {
      try {
        sink.ensure_ahead(core::wall_us());
      } catch (const std::exception& e) {
        spdlog::warn("storage writer cannot create partitions: {}", e.what());
        if (!sink.connected()) set_connected(false);
      }
    }
    if (ok) {
      rollups_behind = maybe_refresh_rollups(sink, next_rollup);
      backoff.success();
      continue;
    }

    const auto now = SteadyClock::now();
    // Stopping while PostgreSQL is away: with a spill, the rows are safe on
    // disk at once (an orchestrator's stop timeout is often shorter than the
    // deadline); without one, wait for PostgreSQL until the deadline.
    if (stopping && (now >= deadline || (spill_ && !sink.connected()))) {
      {
        std::lock_guard lk(worker_.mutex());
        batch->absorb(*pending_);
      }
      const bool spilled = batch->empty() || spill(sink, *batch);
      if (spilled || now >= deadline) {
        if (!spilled) given_up = batch->rows.size();
        break;
      }
    }
    if (!sink.connected() && depth_.load(std::memory_order_relaxed) > opts_.queue_rows / 2 &&
        spill_) {
      {
        std::lock_guard lk(worker_.mutex());
        batch->absorb(*pending_);
      }
      spill(sink, *batch);
    }
    if (!batch->empty() || stopping) {
      auto pause = backoff.current();
      if (stopping) {
        pause =
            std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      }
      std::this_thread::sleep_for(pause);
    }
    backoff.failure();
  }

  if (given_up > 0) {
    rows_dropped_.inc(given_up);
    rows_done(given_up);
    spdlog::error(
        "storage writer stopped: {} rows written, {} rows NOT written (PostgreSQL "
        "unreachable until the deadline)",
        written_, given_up);
  } else if (spill_ && !spill_->empty()) {
    spdlog::warn(
        "storage writer stopped: {} rows written, the rest spilled to {} ({} bytes), to be "
        "written at the next start",
        written_, opts_.spill_dir, spill_->pending_bytes());
  } else {
    spdlog::info("storage writer stopped: {} rows written, all queued rows written", written_);
  }
  set_connected(false);
}

}  // namespace peregrine::storage
