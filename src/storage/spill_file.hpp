#pragma once
/// A spill: an append-only file (`<dir>/spill.log`) of
/// framed records, each one batch the storage writer (or, in a directory of
/// its own, the alert store) could not write to PostgreSQL,
/// plus a sidecar (`<dir>/spill.offset`) saying how many bytes have been
/// replayed and committed. Each record is [magic u32][length u32][crc32 u32]
/// then `length` bytes of payload in the host's byte order (the file never
/// leaves the machine). Every append and every progress update is fsynced.
/// A torn or corrupt tail (a crash in the middle of an append) is found when
/// the file is opened, logged and cut off. Once everything is replayed both
/// files are removed. Not thread-safe: one owner at a time (the start-up
/// replay, then the writer thread).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/batch_sink.hpp"

namespace peregrine::storage {

/// One spilled batch. `id` is the storage_batches id its rows are written
/// with when replayed (so a replay whose COMMIT was lost is not repeated);
/// `doubt_id`, when not 0, is the transaction id of a COMMIT in doubt before
/// the batch was spilled, which, if it did commit, wrote the first
/// `doubt_rows` rows already.
struct SpillRecord {
  std::int64_t id = 0;
  std::int64_t doubt_id = 0;
  std::uint64_t doubt_rows = 0;
  WorkBatch batch;
};

class SpillFile {
 public:
  /// Opens the spill in `dir`, creating the directory if missing, checks the
  /// records not yet replayed and cuts off a torn tail. nullptr with `error`
  /// set when the directory or files cannot be used.
  static std::unique_ptr<SpillFile> open(const std::string& dir, std::uint64_t max_bytes,
                                         std::string& error);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  enum class Append { ok, full, failed };
  /// Appends `rec` and fsyncs. `full` when the file would grow past the cap;
  /// `failed` (with `error`) on an I/O error, the file left as it was.
  Append append(const SpillRecord& rec, std::string& error);

  /// The same for a payload of the owner's own encoding (the alert store's).
  Append append_bytes(std::string_view payload, std::string& error);

  /// Whether records are waiting to be replayed.
  bool empty() const noexcept { return consumed_ == size_; }
  /// Bytes of records waiting to be replayed.
  std::uint64_t pending_bytes() const noexcept { return size_ - consumed_; }

  /// Reads the oldest record not yet committed into `rec` (it stays the
  /// oldest until commit()). False at the end, or when the record cannot be
  /// read (`error` set; the rest of the file is then given up by commit_rest()).
  bool next(SpillRecord& rec, std::string& error);
  /// next() for a payload written with append_bytes().
  bool next_bytes(std::string& payload, std::string& error);
  /// Marks the record returned by next() as written, durably; removes the
  /// files when it was the last. False (with `error`) when the progress
  /// cannot be saved.
  bool commit(std::string& error);
  /// Gives up every remaining record (unreadable data): removes the files.
  void commit_rest();

 private:
  SpillFile(std::string dir, std::uint64_t max_bytes);
  bool load(std::string& error);
  bool save_offset(std::string& error);
  void remove_files();

  std::string dir_;
  std::string log_path_;
  std::string offset_path_;
  std::uint64_t max_bytes_;
  int fd_ = -1;
  std::uint64_t size_ = 0;      // bytes in spill.log (all valid records)
  std::uint64_t consumed_ = 0;  // bytes replayed and committed
  std::uint64_t next_end_ = 0;  // end of the record returned by next()
};

/// What replay_records() did.
struct ReplayResult {
  std::uint64_t rows = 0;     ///< rows written to PostgreSQL
  std::uint64_t dropped = 0;  ///< rows rejected twice by PostgreSQL, or unreadable
  WriteOutcome outcome = WriteOutcome::ok;  ///< not ok: stopped there, retry later
  std::string error;
};

/// Writes the spill's records to PostgreSQL through `sink` (connected),
/// oldest first, each record's declarations, rows and device states in one
/// transaction, committing the spill's progress after each. A record whose
/// id storage_batches already holds is not written again. `on_record` gets
/// the rows of each record written. Stops at the first PostgreSQL failure.
ReplayResult replay_records(SpillFile& spill, BatchSink& sink,
                            const std::function<void(std::uint64_t rows)>& on_record);

}  // namespace peregrine::storage
