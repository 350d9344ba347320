#include <peregrine/devices/registry.hpp>

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace peregrine::devices {
namespace {

DeviceRecord record(std::string id) {
  DeviceRecord r;
  r.id = std::move(id);
  return r;
}

TEST(DeviceRegistry, AddFindRemove) {
  Registry reg;
  EXPECT_EQ(reg.find("d1"), nullptr);
  Device& d = reg.add(record("d1"));
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.find("d1"), &d);
  EXPECT_EQ(d.rec.id, "d1");
  const Registry& cref = reg;
  EXPECT_EQ(cref.find(std::string_view("d1xyz", 2)), &d);
  EXPECT_TRUE(reg.remove("d1"));
  EXPECT_FALSE(reg.remove("d1"));
  EXPECT_EQ(reg.find("d1"), nullptr);
  EXPECT_EQ(reg.size(), 0u);
}

TEST(DeviceRegistry, AddExistingKeepsIt) {
  Registry reg;
  auto r = record("d1");
  r.name = "first";
  Device& a = reg.add(r);
  r.name = "second";
  Device& b = reg.add(r);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(b.rec.name, "first");
  EXPECT_EQ(reg.size(), 1u);
}

TEST(DeviceRegistry, AddRestoresSeqTracker) {
  Registry reg;
  auto r = record("d1");
  r.last_seq = 41;
  Device& d = reg.add(r);
  EXPECT_TRUE(d.seq.has_seq());
  EXPECT_EQ(d.seq.last_seq(), 41);
  EXPECT_EQ(d.seq.observe(41, 1, true).verdict, SeqVerdict::duplicate);
  EXPECT_FALSE(reg.add(record("d2")).seq.has_seq());
}

TEST(DeviceRegistry, SeriesKeysAreFreshAndStable) {
  Registry reg;
  Device& d1 = reg.add(record("d1"));
  Device& d2 = reg.add(record("d2"));
  bool created = false;
  const auto k_co = reg.series(d1, "co", created).key;
  EXPECT_TRUE(created);
  const auto k_temp = reg.series(d1, "temperature", created).key;
  EXPECT_TRUE(created);
  const auto k_co2 = reg.series(d2, "co", created).key;
  EXPECT_TRUE(created);
  EXPECT_EQ(std::set<core::SeriesKey>({k_co, k_temp, k_co2}).size(), 3u);
  Series& again = reg.series(d1, "co", created);
  EXPECT_FALSE(created);
  EXPECT_EQ(again.key, k_co);
  EXPECT_EQ(again.metric, "co");
  EXPECT_EQ(d1.series.size(), 2u);
}

TEST(DeviceRegistry, RestoreSeriesKeepsKeysAboveRestored) {
  Registry reg;
  Device& d = reg.add(record("d1"));
  reg.restore_series("d1", "co", 7);
  reg.restore_series("d1", "temp", 3);
  reg.restore_series("gone", "co", 20);  // device deleted since: key still reserved
  bool created = true;
  EXPECT_EQ(reg.series(d, "co", created).key, 7u);
  EXPECT_FALSE(created);
  EXPECT_EQ(reg.series(d, "temp", created).key, 3u);
  EXPECT_FALSE(created);
  EXPECT_EQ(reg.series(d, "humidity", created).key, 21u);
  EXPECT_TRUE(created);
  EXPECT_EQ(reg.series(reg.add(record("d2")), "co", created).key, 22u);
}

TEST(DeviceRegistry, ForEachVisitsAll) {
  Registry reg;
  reg.add(record("a"));
  reg.add(record("b"));
  reg.add(record("c"));
  std::set<std::string> seen;
  reg.for_each([&](Device& d) {
    seen.insert(d.rec.id);
    d.state_dirty = true;
  });
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(reg.find("b")->state_dirty);
}

}  // namespace
}  // namespace peregrine::devices
