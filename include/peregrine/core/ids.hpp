#pragma once
/// Validation of the names devices choose (CONTRACT.md). Pure, any thread.

#include <string_view>

namespace peregrine::core {

/// `[A-Za-z0-9_.-]{1,64}`
bool valid_device_id(std::string_view id) noexcept;
/// `[A-Za-z0-9_]{1,64}`
bool valid_metric_name(std::string_view name) noexcept;

}  // namespace peregrine::core
