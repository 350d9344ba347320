#pragma once
// Group membership SQL shared by the group and device repositories: checks
// that named devices and groups are the tenant's, and a device's groups.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage::members {

/// Invalid `field` naming the first of `ids` that is not a device of `tenant`.
std::optional<Failure> check_devices(pqxx::transaction_base& w, core::TenantId tenant,
                                     const std::vector<std::string>& ids, const char* field);
/// Invalid `group_ids` naming the first of `ids` that is not a group of `tenant`.
std::optional<Failure> check_groups(pqxx::transaction_base& w, core::TenantId tenant,
                                    const std::vector<std::int64_t>& ids);
/// Makes `groups` the device's groups (checked before).
void set_device_groups(pqxx::transaction_base& w, core::TenantId tenant, const std::string& device,
                       const std::vector<std::int64_t>& groups);
/// The device's group ids, ascending.
std::vector<std::int64_t> device_groups(pqxx::transaction_base& w, const std::string& device);

}  // namespace peregrine::storage::members
