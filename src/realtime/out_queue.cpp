#include "realtime/out_queue.hpp"

#include <utility>

namespace peregrine::realtime {

OutQueue::OutQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void OutQueue::append(Text text, std::string_view key) {
  entries_.push_back(Entry{std::move(text), std::string(key)});
  ++live_;
  if (indexed_ && !key.empty()) by_key_[entries_.back().key] = head_ + entries_.size() - 1;
}

void OutQueue::forget(std::uint64_t abs, const std::string& key) {
  if (!indexed_ || key.empty()) return;
  const auto it = by_key_.find(key);
  if (it != by_key_.end() && it->second == abs) by_key_.erase(it);
}

void OutQueue::build_index() {
  by_key_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    if (e.text && !e.key.empty()) by_key_[e.key] = head_ + i;
  }
  indexed_ = true;
}

bool OutQueue::drop_oldest_reading() {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    if (!e.text || e.key.empty()) continue;
    forget(head_ + i, e.key);
    e.text.reset();
    --live_;
    return true;
  }
  return false;
}

// Superseded entries stay in place until popped; a client that never reads
// would let them pile up, so they are squeezed out past twice the capacity.
void OutQueue::compact() {
  if (entries_.size() <= 2 * capacity_ + 16) return;
  std::deque<Entry> kept;
  for (auto& e : entries_) {
    if (e.text) kept.push_back(std::move(e));
  }
  entries_ = std::move(kept);
  if (indexed_) build_index();
}

OutQueue::Result OutQueue::push_reading(std::string_view key, Text text) {
  if (live_ < capacity_) {
    append(std::move(text), key);
    return Result::queued;
  }
  if (!indexed_) build_index();
  Result result = Result::dropped;
  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    entries_[it->second - head_].text.reset();
    --live_;
    result = Result::coalesced;
  } else if (!drop_oldest_reading()) {
    return Result::dropped;  // only alerts and replies queued: this reading goes
  }
  append(std::move(text), key);
  compact();
  return result;
}

OutQueue::Result OutQueue::push(Text text) {
  Result result = Result::queued;
  if (live_ >= capacity_) {
    if (!drop_oldest_reading()) return Result::overflow;
    result = Result::dropped;
  }
  append(std::move(text), {});
  compact();
  return result;
}

Text OutQueue::pop() {
  while (!entries_.empty() && !entries_.front().text) {
    entries_.pop_front();
    ++head_;
  }
  Entry& e = entries_.front();
  Text text = std::move(e.text);
  forget(head_, e.key);
  entries_.pop_front();
  ++head_;
  --live_;
  if (live_ == 0) {
    // Drained: back to the cheap mode until the queue fills again.
    entries_.clear();
    by_key_.clear();
    indexed_ = false;
  }
  return text;
}

}  // namespace peregrine::realtime
