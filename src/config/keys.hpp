#pragma once
// The table of configuration keys: one entry drives the TOML file, the
// environment override, the help text and validation of each Config field.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <peregrine/config/config.hpp>

namespace peregrine::config::detail {

/// What a TOML value must be before its text reaches the setter.
enum class ValueKind { string, integer, boolean };

/// Parses `text` into its Config field; on failure, why (without the key).
using Setter = std::function<std::optional<std::string>(Config&, std::string_view text)>;

struct KeyDef {
  KeyInfo info;
  ValueKind kind;
  Setter set;
};

const std::vector<KeyDef>& key_defs();

/// Checks between keys; the message names the key.
std::optional<std::string> check_consistency(const Config& c);

}  // namespace peregrine::config::detail
