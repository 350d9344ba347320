// Replaying the spill: shared by the writer thread and the start-up replay.
#include <limits>

#include <spdlog/spdlog.h>

#include <peregrine/storage/reading_writer.hpp>

#include "storage/spill_file.hpp"

namespace peregrine::storage {
namespace {

// Writes one record like the writer writes a batch: whole, then once more,
// then declarations and rows apart so one bad value cannot lose the rest.
WriteOutcome write_record(BatchSink& sink, SpillRecord& rec, ReplayResult& res,
                          std::string& error) {
  WorkBatch& batch = rec.batch;
  WriteOutcome out = sink.write(batch, true, true, error, rec.id);
  if (out == WriteOutcome::data_error) out = sink.write(batch, true, true, error, rec.id);
  if (out != WriteOutcome::data_error) return out;
  if (batch.has_meta()) {
    out = sink.write(batch, true, false, error, rec.id);
    if (out == WriteOutcome::data_error) {
      spdlog::error("storage spill: dropping {} device and {} series declarations: {}",
                    batch.devices.size(), batch.series.size(), error);
    } else if (out != WriteOutcome::ok) {
      return out;
    }
  }
  if (batch.rows.empty()) return WriteOutcome::ok;
  out = sink.write(batch, false, true, error, rec.id);
  if (out != WriteOutcome::data_error) return out;
  spdlog::error("storage spill: dropping {} rows rejected by PostgreSQL: {}", batch.rows.size(),
                error);
  res.dropped += batch.rows.size();
  batch.rows.clear();
  return WriteOutcome::ok;
}

}  // namespace

ReplayResult replay_records(SpillFile& spill, BatchSink& sink,
                            const std::function<void(std::uint64_t rows)>& on_record) {
  ReplayResult res;
  SpillRecord rec;
  std::string error;
  while (!spill.empty()) {
    if (!spill.next(rec, error)) {
      // The records were checked when the file was opened: the disk failed.
      spdlog::error("storage spill: {}; giving up its last {} bytes", error, spill.pending_bytes());
      spill.commit_rest();
      break;
    }
    try {
      if (sink.batch_committed(rec.id)) {
        // Written before a crash or a lost COMMIT, progress not yet saved.
        spdlog::warn("storage spill: a record of {} rows was already written; skipping it",
                     rec.batch.rows.size());
        rec.batch.clear();
      } else if (rec.doubt_id != 0 && sink.xid_committed(rec.doubt_id)) {
        const auto n = static_cast<std::ptrdiff_t>(
            std::min<std::uint64_t>(rec.doubt_rows, rec.batch.rows.size()));
        spdlog::warn("storage spill: a COMMIT in doubt had written {} rows; not writing them again",
                     n);
        rec.batch.rows.erase(rec.batch.rows.begin(), rec.batch.rows.begin() + n);
      }
    } catch (const std::exception& e) {
      res.error = e.what();
      res.outcome = sink.connected() ? WriteOutcome::failed : WriteOutcome::broken;
      return res;
    }
    if (!rec.batch.empty()) {
      const WriteOutcome out = write_record(sink, rec, res, error);
      if (out != WriteOutcome::ok) {
        res.outcome = out;
        res.error = error;
        return res;
      }
    }
    const std::uint64_t rows = rec.batch.rows.size();
    if (!spill.commit(error)) {
      // Written, but progress not saved: the record's id keeps it from
      // being written twice when it is read again.
      res.outcome = WriteOutcome::failed;
      res.error = error;
      return res;
    }
    res.rows += rows;
    if (on_record) on_record(rows);
  }
  return res;
}

SpillReplay replay_spill(const PgTarget& target, const std::string& dir,
                         metrics::Registry* metrics) {
  SpillReplay out;
  auto spill = SpillFile::open(dir, std::numeric_limits<std::uint64_t>::max(), out.error);
  if (!spill) {
    out.usable = false;
    out.ok = false;
    return out;
  }
  if (spill->empty()) return out;
  metrics::Counter* replayed =
      metrics ? &metrics->counter("peregrine_storage_replayed_rows_total",
                                  "Spilled rows written to PostgreSQL from the spill file")
              : nullptr;
  try {
    BatchSink sink(target, 0, rollups::Retention{0, 0, 0});
    sink.connect();
    const auto res = replay_records(*spill, sink, [&](std::uint64_t rows) {
      if (replayed) replayed->inc(rows);
    });
    out.rows = res.rows;
    out.dropped = res.dropped;
    if (res.outcome != WriteOutcome::ok) {
      out.ok = false;
      out.error = res.error;
    }
  } catch (const std::exception& e) {
    out.ok = false;
    out.error = e.what();
  }
  if (metrics && out.dropped > 0) {
    metrics->counter("peregrine_storage_rows_dropped_total",
                     "Rows given up: rejected twice by PostgreSQL, or unwritten at shutdown")
        .inc(out.dropped);
  }
  return out;
}

}  // namespace peregrine::storage
