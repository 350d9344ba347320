#include <peregrine/config/config.hpp>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include <toml++/toml.h>

#include "config/keys.hpp"

namespace peregrine::config {
namespace {

using detail::KeyDef;
using detail::ValueKind;

const char* expectation(ValueKind kind) {
  switch (kind) {
    case ValueKind::integer: return "must be an integer";
    case ValueKind::boolean: return "must be true or false";
    case ValueKind::string: break;
  }
  return "must be a string";
}

// The value's text as the setter parses it, or nullopt when the TOML type is wrong.
std::optional<std::string> toml_text(const toml::node& node, ValueKind kind) {
  switch (kind) {
    case ValueKind::string:
      if (const auto* s = node.as_string()) return s->get();
      break;
    case ValueKind::integer:
      if (const auto* i = node.as_integer()) return std::to_string(i->get());
      break;
    case ValueKind::boolean:
      if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
      break;
  }
  return std::nullopt;
}

const KeyDef* find_key(std::string_view path) {
  for (const auto& def : detail::key_defs()) {
    if (path == def.info.toml) return &def;
  }
  return nullptr;
}

std::optional<std::string> apply_file(Config& c, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "config file " + file + ": cannot open (" + std::strerror(errno) + ")";
  std::ostringstream text;
  text << in.rdbuf();

  toml::table root;
  // toml++ reports syntax errors by exception: this is their one boundary.
  try {
    root = toml::parse(text.str(), file);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
           std::string(e.description());
  }

  for (const auto& [section, node] : root) {
    const auto* table = node.as_table();
    if (table == nullptr) return "unknown key " + std::string(section.str()) + " in " + file;
    for (const auto& [name, value] : *table) {
      const std::string path = std::string(section.str()) + "." + std::string(name.str());
      const KeyDef* def = find_key(path);
      if (def == nullptr) return "unknown key " + path + " in " + file;
      const std::string where = path + " (" + file + "): ";
      const auto raw = toml_text(value, def->kind);
      if (!raw) return where + expectation(def->kind);
      if (auto err = def->set(c, *raw)) return where + *err;
    }
  }
  return std::nullopt;
}

std::string default_client_id() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return "peregrine";
  return "peregrine-" + std::string(host.data());
}

}  // namespace

LoadResult load(const std::optional<std::string>& file,
                const std::function<const char*(const char*)>& getenv) {
  Config c;
  if (file) {
    if (auto err = apply_file(c, *file)) return *err;
  }
  for (const auto& def : detail::key_defs()) {
    const char* value = getenv ? getenv(def.info.env) : nullptr;
    if (value == nullptr || *value == '\0') continue;
    if (auto err = def.set(c, value)) return std::string(def.info.env) + ": " + *err;
  }
  if (auto err = detail::check_consistency(c)) return *err;
  if (c.mqtt_client_id.empty()) c.mqtt_client_id = default_client_id();
  return c;
}

const std::vector<KeyInfo>& keys() {
  static const std::vector<KeyInfo> infos = [] {
    std::vector<KeyInfo> out;
    for (const auto& def : detail::key_defs()) out.push_back(def.info);
    return out;
  }();
  return infos;
}

}  // namespace peregrine::config
