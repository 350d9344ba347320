#include <peregrine/auth/user.hpp>

#include <cctype>

namespace peregrine::auth {

std::optional<std::string> normalize_email(std::string_view email) {
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.front())))
    email.remove_prefix(1);
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.back())))
    email.remove_suffix(1);
  const auto at = email.find('@');
  if (email.size() < 3 || email.size() > 254 || at == 0 || at == std::string_view::npos ||
      at + 1 == email.size() || email.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out(email);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f) return std::nullopt;
    c = static_cast<char>(std::tolower(u));
  }
  return out;
}

}  // namespace peregrine::auth
