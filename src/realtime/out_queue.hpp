#pragma once
/// The bounded send queue of one WebSocket session. While there is room,
/// frames queue in order. When full, a reading replaces the queued reading of
/// the same key (coalescing; the hub's key is the device and its metrics),
/// else the oldest queued reading is dropped;
/// any other frame (alert, presence, job, reply) evicts the oldest reading or,
/// when only such frames are queued, reports overflow: the caller closes the
/// session rather than lose it. Frames leave in the order they were queued,
/// so their seq stays increasing. Loop thread only.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace peregrine::realtime {

using Text = std::shared_ptr<const std::string>;

/// Transparent hash so maps keyed by std::string are searched by string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class OutQueue {
 public:
  enum class Result { queued, coalesced, dropped, overflow };

  explicit OutQueue(std::size_t capacity);

  /// coalesced / dropped: one reading was lost (replaced, evicted, or this one).
  Result push_reading(std::string_view key, Text text);
  /// dropped: a reading was evicted to make room; overflow: nothing queued.
  Result push(Text text);
  /// Oldest frame. Precondition: !empty().
  Text pop();

  bool empty() const noexcept { return live_ == 0; }
  std::size_t size() const noexcept { return live_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Entry {
    Text text;           // null once superseded
    std::string key;  // empty unless a reading
  };

  void append(Text text, std::string_view key);
  bool drop_oldest_reading();
  void build_index();
  void compact();
  void forget(std::uint64_t abs, const std::string& key);

  std::deque<Entry> entries_;
  std::uint64_t head_ = 0;  // absolute position of entries_.front()
  std::size_t live_ = 0;
  std::size_t capacity_;
  // key → absolute position of its newest queued reading; kept only while
  // the queue is saturated, so the common case costs no map work.
  bool indexed_ = false;
  std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>> by_key_;
};

}  // namespace peregrine::realtime
