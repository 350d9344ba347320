#include <peregrine/storage/device_loader.hpp>

#include "pg_test.hpp"

namespace peregrine::storage {
namespace {

using DeviceLoaderTest = testing::PgTest;

TEST_F(DeviceLoaderTest, RestoresDevicesSeqStateAndSeriesKeys) {
  migrate_db();
  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    tx.exec(
        "INSERT INTO devices (id, tenant_id, name, type, last_seen, online, last_seq, seq_gaps) "
        "VALUES ('pump-1', 1, 'Pump', 'pump', '2020-01-01 00:00:00.5+00', true, 7, 2),"
        "       ('pump-2', 1, '', '', NULL, false, NULL, 0)");
    tx.exec(
        "INSERT INTO series (id, tenant_id, device_id, metric) VALUES (5, 1, 'pump-1', 'temp')");
    tx.commit();
  }

  devices::Registry registry;
  EXPECT_EQ(load_registry(target(), registry), 2u);

  devices::Device* pump = registry.find("pump-1");
  ASSERT_NE(pump, nullptr);
  EXPECT_EQ(pump->rec.name, "Pump");
  EXPECT_TRUE(pump->rec.online);
  EXPECT_EQ(pump->rec.last_seq, 7);
  EXPECT_EQ(pump->rec.seq_gaps, 2u);
  EXPECT_EQ(pump->rec.last_seen, 1'577'836'800'500'000);
  EXPECT_TRUE(pump->seq.has_seq());
  EXPECT_EQ(pump->seq.last_seq(), 7);
  bool created = true;
  EXPECT_EQ(registry.series(*pump, "temp", created).key, 5u);
  EXPECT_FALSE(created);
  EXPECT_GT(registry.series(*pump, "flow", created).key, 5u);
  EXPECT_TRUE(created);

  devices::Device* idle = registry.find("pump-2");
  ASSERT_NE(idle, nullptr);
  EXPECT_FALSE(idle->rec.last_seen.has_value());
  EXPECT_FALSE(idle->seq.has_seq());
}

}  // namespace
}  // namespace peregrine::storage
