#pragma once
/// Loads the device registry (devices and their series keys) from
/// PostgreSQL at start. Blocking: call before the event loop runs.

#include <string>

#include <peregrine/devices/registry.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

/// Returns the number of devices loaded. Throws on database errors.
std::size_t load_registry(const PgTarget& target, devices::Registry& registry);

}  // namespace peregrine::storage
