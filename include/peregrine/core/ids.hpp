#pragma once
/// Validation of the names devices choose (CONTRACT.md), and UUIDs. Any thread.

#include <string>
#include <string_view>

namespace peregrine::core {

/// `[A-Za-z0-9_.-]{1,64}`
bool valid_device_id(std::string_view id) noexcept;
/// `[A-Za-z0-9_]{1,64}`
bool valid_metric_name(std::string_view name) noexcept;
/// A random (version 4) UUID in its 36-character lowercase form. Any thread.
std::string random_uuid();
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits (either case).
bool valid_uuid(std::string_view s) noexcept;

}  // namespace peregrine::core
