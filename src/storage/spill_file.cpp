#include "storage/spill_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include <spdlog/spdlog.h>

namespace peregrine::storage {
namespace {

constexpr std::uint32_t kMagic = 0x50535031;  // "PSP1"
constexpr std::size_t kHeader = 12;           // magic, length, crc32
// A length beyond this is garbage, not a batch.
constexpr std::uint32_t kMaxRecord = 1u << 30;

std::uint32_t crc32(const char* data, std::size_t n) noexcept {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<unsigned char>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

class Writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto at = out_.size();
    out_.resize(at + sizeof v);
    std::memcpy(out_.data() + at, &v, sizeof v);
  }
  void put_str(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_ += s;
  }
  std::string& out() noexcept { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  template <class T>
  bool get(T& v) {
    if (static_cast<std::size_t>(end_ - p_) < sizeof v) return false;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return true;
  }
  bool get_str(std::string& s) {
    std::uint32_t n = 0;
    if (!get(n) || static_cast<std::size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  bool done() const noexcept { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

// The frame of a payload: [magic][length][crc32] then the bytes.
std::string frame_of(std::string_view payload) {
  const auto len = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t header[3] = {kMagic, len, crc32(payload.data(), len)};
  std::string out(reinterpret_cast<const char*>(header), sizeof header);
  out.append(payload);
  return out;
}

std::string encode(const SpillRecord& rec) {
  Writer w;
  w.put(rec.id);
  w.put(rec.doubt_id);
  w.put(rec.doubt_rows);
  const WorkBatch& b = rec.batch;
  w.put(static_cast<std::uint32_t>(b.devices.size()));
  for (const auto& d : b.devices) {
    w.put_str(d.id);
    w.put(d.tenant);
    w.put_str(d.name);
    w.put_str(d.type);
  }
  w.put(static_cast<std::uint32_t>(b.series.size()));
  for (const auto& s : b.series) {
    w.put(s.key);
    w.put(s.tenant);
    w.put_str(s.device);
    w.put_str(s.metric);
  }
  w.put(static_cast<std::uint32_t>(b.states.size()));
  for (const auto& [id, st] : b.states) {
    w.put_str(id);
    w.put(static_cast<std::uint8_t>((st.last_seen ? 1 : 0) | (st.online ? 2 : 0) |
                                    (st.last_seq ? 4 : 0)));
    w.put(st.last_seen.value_or(0));
    w.put(st.last_seq.value_or(0));
    w.put(st.seq_gaps);
  }
  w.put(static_cast<std::uint64_t>(b.rows.size()));
  for (const auto& r : b.rows) {
    w.put(r.series);
    w.put(r.ts_us);
    w.put(r.value);
  }
  return std::move(w.out());
}

bool decode(const char* p, std::size_t n, SpillRecord& rec) {
  Reader r(p, n);
  WorkBatch& b = rec.batch;
  b.clear();
  std::uint32_t count = 0;
  if (!r.get(rec.id) || !r.get(rec.doubt_id) || !r.get(rec.doubt_rows) || !r.get(count))
    return false;
  b.devices.resize(count);
  for (auto& d : b.devices) {
    if (!r.get_str(d.id) || !r.get(d.tenant) || !r.get_str(d.name) || !r.get_str(d.type))
      return false;
  }
  if (!r.get(count)) return false;
  b.series.resize(count);
  for (auto& s : b.series) {
    if (!r.get(s.key) || !r.get(s.tenant) || !r.get_str(s.device) || !r.get_str(s.metric))
      return false;
  }
  if (!r.get(count)) return false;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string id;
    std::uint8_t flags = 0;
    core::Micros last_seen = 0;
    std::int64_t last_seq = 0;
    DeviceState st;
    if (!r.get_str(id) || !r.get(flags) || !r.get(last_seen) || !r.get(last_seq) ||
        !r.get(st.seq_gaps))
      return false;
    if (flags & 1) st.last_seen = last_seen;
    st.online = (flags & 2) != 0;
    if (flags & 4) st.last_seq = last_seq;
    b.states.insert_or_assign(std::move(id), st);
  }
  std::uint64_t rows = 0;
  if (!r.get(rows) || rows > n / 20) return false;
  b.rows.resize(rows);
  for (auto& row : b.rows) {
    if (!r.get(row.series) || !r.get(row.ts_us) || !r.get(row.value)) return false;
  }
  return r.done();
}

// Reads exactly `n` bytes at `at`. False on an I/O error (errno set).
bool pread_all(int fd, char* out, std::size_t n, std::uint64_t at) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t k = ::pread(fd, out + got, n - got, static_cast<off_t>(at + got));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return false;
    if (k == 0) {
      errno = EIO;  // shorter than fstat said: the file changed under us
      return false;
    }
    got += static_cast<std::size_t>(k);
  }
  return true;
}

// Checks the record framed at `at` of a `size`-byte file, one record in
// memory at a time (`buf`): `frame` gets its total size, or 0 when it is torn
// or corrupt. False on an I/O error, which is not a reason to cut the file.
bool frame_at(int fd, std::uint64_t at, std::uint64_t size, std::string& buf,
              std::uint64_t& frame) {
  frame = 0;
  if (size - at < kHeader) return true;
  std::uint32_t header[3];
  if (!pread_all(fd, reinterpret_cast<char*>(header), sizeof header, at)) return false;
  if (header[0] != kMagic || header[1] > kMaxRecord || size - at - kHeader < header[1]) return true;
  buf.resize(header[1]);
  if (!pread_all(fd, buf.data(), header[1], at + kHeader)) return false;
  if (crc32(buf.data(), header[1]) == header[2]) frame = kHeader + header[1];
  return true;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

SpillFile::SpillFile(std::string dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)),
      log_path_(dir_ + "/spill.log"),
      offset_path_(dir_ + "/spill.offset"),
      max_bytes_(max_bytes) {}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<SpillFile> SpillFile::open(const std::string& dir, std::uint64_t max_bytes,
                                           std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir + ": " + ec.message();
    return nullptr;
  }
  std::unique_ptr<SpillFile> spill(new SpillFile(dir, max_bytes));
  if (!spill->load(error)) return nullptr;
  return spill;
}

bool SpillFile::load(std::string& error) {
  fd_ = ::open(log_path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error = errno_text("cannot open " + log_path_);
    return false;
  }
  std::ifstream in(offset_path_);
  if (!(in >> consumed_)) consumed_ = 0;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    error = errno_text("cannot stat " + log_path_);
    return false;
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (consumed_ > file_size) consumed_ = 0;  // a stale sidecar: replay all (ids guard)
  std::uint64_t at = consumed_;
  std::string buf;
  while (at < file_size) {
    std::uint64_t n = 0;
    if (!frame_at(fd_, at, file_size, buf, n)) {
      error = errno_text("cannot read " + log_path_);
      return false;
    }
    if (n == 0) break;
    at += n;
  }
  if (at < file_size) {
    spdlog::warn("storage spill: {} bytes of a torn or corrupt record at offset {} of {} ignored",
                 file_size - at, at, log_path_);
    if (::ftruncate(fd_, static_cast<off_t>(at)) != 0 || ::fsync(fd_) != 0) {
      error = errno_text("cannot truncate " + log_path_);
      return false;
    }
  }
  size_ = at;
  next_end_ = consumed_;
  if (empty()) remove_files();
  return true;
}

SpillFile::Append SpillFile::append(const SpillRecord& rec, std::string& error) {
  return append_bytes(encode(rec), error);
}

SpillFile::Append SpillFile::append_bytes(std::string_view payload, std::string& error) {
  const std::string frame = frame_of(payload);
  if (size_ + frame.size() > max_bytes_ || frame.size() - kHeader > kMaxRecord) return Append::full;
  if (fd_ < 0) {
    fd_ = ::open(log_path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      error = errno_text("cannot open " + log_path_);
      return Append::failed;
    }
    fsync_dir(dir_);
  }
  std::size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::write(fd_, frame.data() + done, frame.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (done < frame.size() || ::fsync(fd_) != 0) {
    error = errno_text("cannot write " + log_path_);
    // Leave no partial record behind for the next append to follow.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      spdlog::error("storage spill: cannot cut a partial record from {}", log_path_);
    }
    return Append::failed;
  }
  size_ += frame.size();
  return Append::ok;
}

bool SpillFile::next(SpillRecord& rec, std::string& error) {
  std::string payload;
  if (!next_bytes(payload, error)) return false;
  if (!decode(payload.data(), payload.size(), rec)) {
    error = "unreadable record at offset " + std::to_string(consumed_) + " of " + log_path_;
    return false;
  }
  return true;
}

bool SpillFile::next_bytes(std::string& payload, std::string& error) {
  if (empty() || fd_ < 0) return false;
  std::uint64_t frame = 0;
  if (!frame_at(fd_, consumed_, size_, payload, frame)) {
    error = errno_text("cannot read " + log_path_);
    return false;
  }
  if (frame == 0) {
    error = "unreadable record at offset " + std::to_string(consumed_) + " of " + log_path_;
    return false;
  }
  next_end_ = consumed_ + frame;
  return true;
}

bool SpillFile::commit(std::string& error) {
  if (next_end_ <= consumed_) return true;
  consumed_ = next_end_;
  if (empty()) {
    remove_files();
    return true;
  }
  return save_offset(error);
}

void SpillFile::commit_rest() {
  consumed_ = size_;
  remove_files();
}

bool SpillFile::save_offset(std::string& error) {
  const std::string tmp = offset_path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = errno_text("cannot write " + tmp);
    return false;
  }
  const std::string text = std::to_string(consumed_) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), offset_path_.c_str()) != 0) {
    error = errno_text("cannot write " + offset_path_);
    return false;
  }
  fsync_dir(dir_);
  return true;
}

void SpillFile::remove_files() {
  // The log first: a sidecar without its log is ignored, not the reverse.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(log_path_.c_str());
  ::unlink(offset_path_.c_str());
  fsync_dir(dir_);
  size_ = consumed_ = next_end_ = 0;
}

}  // namespace peregrine::storage
