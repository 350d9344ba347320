#include <peregrine/storage/device_loader.hpp>

#include <spdlog/spdlog.h>
#include <pqxx/pqxx>

namespace peregrine::storage {

std::size_t load_registry(const PgTarget& target, devices::Registry& registry) {
  const auto conn = connect(target, Scope::all());
  pqxx::read_transaction tx(*conn);

  std::size_t loaded = 0;
  const auto devices = tx.exec(
      "SELECT id, tenant_id, name, type,"
      " (extract(epoch FROM last_seen) * 1000000)::bigint, online, last_seq, seq_gaps"
      " FROM devices ORDER BY id");
  for (const auto& row : devices) {
    devices::DeviceRecord rec;
    rec.id = row[0].as<std::string>();
    rec.tenant = row[1].as<core::TenantId>();
    rec.name = row[2].as<std::string>();
    rec.type = row[3].as<std::string>();
    if (!row[4].is_null()) rec.last_seen = row[4].as<core::Micros>();
    rec.online = row[5].as<bool>();
    if (!row[6].is_null()) rec.last_seq = row[6].as<std::int64_t>();
    rec.seq_gaps = static_cast<std::uint64_t>(row[7].as<std::int64_t>());
    devices::Device& dev = registry.add(std::move(rec));
    if (dev.rec.last_seq) dev.seq.restore(*dev.rec.last_seq, dev.rec.last_seen.value_or(0));
    ++loaded;
  }

  for (const auto& row : tx.exec("SELECT device_id, group_id FROM device_group_members "
                                 "ORDER BY device_id, group_id")) {
    if (devices::Device* dev = registry.find(row[0].as<std::string>()))
      dev->rec.group_ids.push_back(row[1].as<std::int64_t>());
  }

  std::size_t series = 0;
  for (const auto& row : tx.exec("SELECT device_id, metric, id FROM series ORDER BY id")) {
    registry.restore_series(row[0].as<std::string>(), row[1].as<std::string>(),
                            row[2].as<core::SeriesKey>());
    ++series;
  }
  spdlog::info("loaded {} devices and {} series from PostgreSQL", loaded, series);
  return loaded;
}

}  // namespace peregrine::storage
