#include <peregrine/core/ids.hpp>

namespace peregrine::core {
namespace {

constexpr std::size_t kMaxNameLength = 64;

constexpr bool is_alnum_or_underscore(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool valid_device_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxNameLength) return false;
  for (char c : id) {
    if (!is_alnum_or_underscore(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!is_alnum_or_underscore(c)) return false;
  }
  return true;
}

}  // namespace peregrine::core
