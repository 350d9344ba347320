#include <peregrine/devices/registry.hpp>

#include <algorithm>

namespace peregrine::devices {

Device* Registry::find(std::string_view id) noexcept {
  const auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : it->second.get();
}

const Device* Registry::find(std::string_view id) const noexcept {
  const auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : it->second.get();
}

Device& Registry::add(DeviceRecord rec) {
  if (Device* existing = find(rec.id)) return *existing;
  auto dev = std::make_unique<Device>();
  if (rec.last_seq) dev->seq.restore(*rec.last_seq, 0);
  dev->rec = std::move(rec);
  std::string id = dev->rec.id;
  return *devices_.emplace(std::move(id), std::move(dev)).first->second;
}

bool Registry::remove(std::string_view id) {
  const auto it = devices_.find(id);
  if (it == devices_.end()) return false;
  devices_.erase(it);
  return true;
}

Series& Registry::series(Device& dev, std::string_view metric, bool& created) {
  for (Series& s : dev.series) {
    if (s.metric == metric) {
      created = false;
      return s;
    }
  }
  created = true;
  Series& s = dev.series.emplace_back();
  s.metric = metric;
  s.key = next_key_++;
  return s;
}

void Registry::restore_series(std::string_view device, std::string_view metric,
                              core::SeriesKey key) {
  next_key_ = std::max<core::SeriesKey>(next_key_, key + 1);
  Device* dev = find(device);
  if (dev == nullptr) return;
  for (Series& s : dev->series) {
    if (s.metric == metric) {
      s.key = key;
      return;
    }
  }
  Series& s = dev->series.emplace_back();
  s.metric = metric;
  s.key = key;
}

std::vector<Device*> Registry::members(core::TenantId tenant, std::int64_t group) {
  std::vector<Device*> out;
  for (auto& [id, dev] : devices_) {
    if (dev->rec.tenant != tenant) continue;
    const auto& g = dev->rec.group_ids;
    if (std::find(g.begin(), g.end(), group) != g.end()) out.push_back(dev.get());
  }
  std::sort(out.begin(), out.end(), [](const Device* a, const Device* b) { return a->rec.id < b->rec.id; });
  return out;
}

void Registry::for_each(const std::function<void(Device&)>& fn) {
  for (auto& [id, dev] : devices_) fn(*dev);
}

}  // namespace peregrine::devices
