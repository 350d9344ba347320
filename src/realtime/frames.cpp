#include "realtime/frames.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

#include <peregrine/core/time_format.hpp>

namespace peregrine::realtime {

namespace {

void append_uint(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void open_frame(std::string& out, std::uint64_t seq, std::string_view type) {
  out += "{\"seq\":";
  append_uint(out, seq);
  out += ",\"type\":\"";
  out += type;
  out += '"';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  std::array<char, 32> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

std::string reading_frame(std::uint64_t seq, std::string_view device, const core::Reading& r) {
  std::string out;
  out.reserve(96 + device.size() + r.values.size() * 32);
  open_frame(out, seq, "reading");
  out += ",\"device\":";
  append_json_string(out, device);
  out += ",\"ts\":\"";
  core::append_rfc3339(out, r.ts_us);
  out += "\",\"values\":{";
  bool first = true;
  for (const auto& m : r.values) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, m.name);
    out += ':';
    append_json_number(out, m.value);
  }
  out += "}}";
  return out;
}

std::string presence_frame(std::uint64_t seq, std::string_view device, bool online) {
  std::string out;
  open_frame(out, seq, "device");
  out += ",\"device\":";
  append_json_string(out, device);
  out += online ? ",\"online\":true}" : ",\"online\":false}";
  return out;
}

std::string object_frame(std::uint64_t seq, std::string_view type, const nlohmann::json& obj) {
  std::string out;
  open_frame(out, seq, type);
  out += ",\"";
  out += type;
  out += "\":";
  out += obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '}';
  return out;
}

std::string bare_frame(std::uint64_t seq, std::string_view type) {
  std::string out;
  open_frame(out, seq, type);
  out += '}';
  return out;
}

std::string error_frame(std::uint64_t seq, std::string_view detail) {
  std::string out;
  open_frame(out, seq, "error");
  out += ",\"detail\":";
  // Details may quote client input: nlohmann replaces invalid UTF-8, which a
  // browser would otherwise answer by failing the connection.
  out += nlohmann::json(detail).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '}';
  return out;
}

}  // namespace peregrine::realtime
