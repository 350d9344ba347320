#include <peregrine/ingest/telemetry_decoder.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include <simdjson.h>

#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>

namespace peregrine::ingest {

namespace od = simdjson::ondemand;

static_assert(kPayloadPadding >= simdjson::SIMDJSON_PADDING);

namespace {

// 9999-12-31T23:59:59.999Z: anything later is not an epoch-ms timestamp.
constexpr std::int64_t kMaxEpochMs = 253'402'300'799'999;
// Enough for typical messages so the first ones do not grow the parser.
constexpr std::size_t kInitialCapacity = 64 * 1024;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// simdjson reports both "1e400" (valid JSON, not representable) and "01"
// (not JSON) as NUMBER_ERROR; the grammar tells a bad value from bad JSON.
bool is_json_number(std::string_view tok) {
  while (!tok.empty() &&
         (tok.back() == ' ' || tok.back() == '\t' || tok.back() == '\n' || tok.back() == '\r')) {
    tok.remove_suffix(1);
  }
  std::size_t i = 0;
  const std::size_t n = tok.size();
  if (i < n && tok[i] == '-') ++i;
  if (i >= n) return false;
  if (tok[i] == '0') {
    ++i;
  } else if (is_digit(tok[i])) {
    while (i < n && is_digit(tok[i])) ++i;
  } else {
    return false;
  }
  if (i < n && tok[i] == '.') {
    ++i;
    if (i >= n || !is_digit(tok[i])) return false;
    while (i < n && is_digit(tok[i])) ++i;
  }
  if (i < n && (tok[i] == 'e' || tok[i] == 'E')) {
    ++i;
    if (i < n && (tok[i] == '+' || tok[i] == '-')) ++i;
    if (i >= n || !is_digit(tok[i])) return false;
    while (i < n && is_digit(tok[i])) ++i;
  }
  return i == n;
}

RejectReason number_error(od::value& v, RejectReason if_valid_json) {
  return is_json_number(v.raw_json_token()) ? if_valid_json : RejectReason::malformed_json;
}

// The key exactly as written in the payload (simdjson 3.0.1 has no
// escaped_key()). Stage 1 has validated the string, so a closing quote exists.
std::string_view raw_key(const od::raw_json_string& key, bool& has_escape) {
  const char* begin = key.raw();
  const char* end = begin;
  while (*end != '"' && *end != '\\') ++end;
  has_escape = *end == '\\';
  return {begin, static_cast<std::size_t>(end - begin)};
}

RejectReason read_ts(od::value& v, DecodedTelemetry::Entry& entry) {
  od::json_type type;
  if (v.type().get(type)) return RejectReason::malformed_json;
  std::int64_t us = 0;
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return RejectReason::malformed_json;
    auto parsed = core::parse_rfc3339(s);
    if (!parsed) return RejectReason::bad_ts;
    us = *parsed;
  } else if (type == od::json_type::number) {
    od::number_type nt;
    if (v.get_number_type().get(nt)) return number_error(v, RejectReason::bad_ts);
    if (nt == od::number_type::signed_integer) {
      std::int64_t ms = 0;
      if (v.get_int64().get(ms)) return RejectReason::malformed_json;
      if (ms < 0 || ms > kMaxEpochMs) return RejectReason::bad_ts;
      us = ms * 1000;
    } else if (nt == od::number_type::floating_point_number) {
      double ms = 0;
      if (v.get_double().get(ms)) return number_error(v, RejectReason::bad_ts);
      // Fractional ms carry the load generator's µs send time.
      if (!std::isfinite(ms) || ms < 0 || ms > static_cast<double>(kMaxEpochMs)) {
        return RejectReason::bad_ts;
      }
      us = std::llround(ms * 1000.0);
    } else {
      return RejectReason::bad_ts;
    }
  } else {
    return RejectReason::bad_ts;
  }
  if (us < 0) return RejectReason::bad_ts;
  entry.ts_us = us;
  entry.ts_given = true;
  return RejectReason::none;
}

RejectReason read_seq(od::value& v, DecodedTelemetry::Entry& entry) {
  od::json_type type;
  if (v.type().get(type)) return RejectReason::malformed_json;
  if (type != od::json_type::number) return RejectReason::bad_seq;
  od::number_type nt;
  if (v.get_number_type().get(nt)) return number_error(v, RejectReason::bad_seq);
  if (nt != od::number_type::signed_integer) return RejectReason::bad_seq;
  std::int64_t seq = 0;
  if (v.get_int64().get(seq)) return RejectReason::malformed_json;
  if (seq < 0) return RejectReason::bad_seq;
  entry.seq = seq;
  return RejectReason::none;
}

// Reads a metric value; `present` is false for the ignored kinds (string, null).
RejectReason read_metric(od::value& v, double& out, bool& present) {
  present = false;
  od::json_type type;
  if (v.type().get(type)) return RejectReason::malformed_json;
  switch (type) {
    case od::json_type::number: {
      if (v.get_double().get(out)) return number_error(v, RejectReason::bad_value);
      if (!std::isfinite(out)) return RejectReason::bad_value;
      present = true;
      return RejectReason::none;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (v.get_bool().get(b)) return RejectReason::malformed_json;
      out = b ? 1.0 : 0.0;
      present = true;
      return RejectReason::none;
    }
    case od::json_type::string: {
      // Unescaping validates the string; it writes into the parser's buffer.
      std::string_view s;
      return v.get_string().get(s) ? RejectReason::malformed_json : RejectReason::none;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null) return RejectReason::malformed_json;
      return RejectReason::none;
    }
    case od::json_type::array:
    case od::json_type::object:
      return RejectReason::bad_value;
  }
  return RejectReason::malformed_json;
}

// Duplicate keys: the last occurrence wins, for ts, seq and metrics alike,
// as in most JSON libraries (and JavaScript's JSON.parse).
RejectReason decode_object(od::object& obj, core::Micros arrival_us, const DecodeLimits& limits,
                           DecodedTelemetry& out) {
  DecodedTelemetry::Entry entry;
  entry.ts_us = arrival_us;
  entry.first = static_cast<std::uint32_t>(out.values.size());
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field)) return RejectReason::malformed_json;
    bool has_escape = false;
    std::string_view name = raw_key(field.key(), has_escape);
    if (has_escape) {
      // Only ts and seq could still match once unescaped; a metric name
      // never contains an escape.
      if (field.unescaped_key().get(name)) return RejectReason::malformed_json;
      if (name != "ts" && name != "seq") return RejectReason::bad_metric_name;
    }
    od::value& v = field.value();
    if (name == "ts") {
      if (auto r = read_ts(v, entry); r != RejectReason::none) return r;
      continue;
    }
    if (name == "seq") {
      if (auto r = read_seq(v, entry); r != RejectReason::none) return r;
      continue;
    }
    if (name == "device_id") {
      od::json_type type;
      if (v.type().get(type)) return RejectReason::malformed_json;
      if (type == od::json_type::string) {
        if (v.get_string().get(out.device_id)) return RejectReason::malformed_json;
        continue;
      }
    }
    if (!core::valid_metric_name(name)) return RejectReason::bad_metric_name;
    double value = 0;
    bool present = false;
    if (auto r = read_metric(v, value, present); r != RejectReason::none) return r;
    if (!present) continue;
    bool replaced = false;
    for (std::size_t i = entry.first; i < out.values.size(); ++i) {
      if (out.values[i].name == name) {
        out.values[i].value = value;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (entry.count >= limits.max_metrics) return RejectReason::too_many_metrics;
    out.values.push_back({name, value});
    ++entry.count;
  }
  if (entry.count == 0) return RejectReason::no_metrics;
  out.entries.push_back(entry);
  return RejectReason::none;
}

}  // namespace

std::string make_padded(std::string_view bytes) {
  std::string s;
  s.reserve(bytes.size() + kPayloadPadding);
  s.assign(bytes);
  return s;
}

struct TelemetryDecoder::Impl {
  od::parser parser;
};

TelemetryDecoder::TelemetryDecoder(DecodeLimits limits)
    : impl_(std::make_unique<Impl>()), limits_(limits) {
  // A failed allocation here is retried (and reported) by iterate().
  [[maybe_unused]] auto err = impl_->parser.allocate(kInitialCapacity);
}

TelemetryDecoder::~TelemetryDecoder() = default;

namespace {

/// Reads a scalar (or skips a container) of the given type; false when it is
/// not well-formed JSON.
template <class V>
bool consume_scalar(V& v, od::json_type type) {
  switch (type) {
    case od::json_type::null: {
      bool is_null = false;
      return !v.is_null().get(is_null) && is_null;
    }
    case od::json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case od::json_type::number: {
      double d;
      return !v.get_double().get(d);
    }
    case od::json_type::string: {
      std::string_view sv;
      return !v.get_string().get(sv);
    }
    default:
      return true;  // containers: their own parse reports errors
  }
}

}  // namespace

RejectReason TelemetryDecoder::decode(std::string_view payload, core::Micros arrival_us,
                                      DecodedTelemetry& out) {
  out.clear();
  auto reject = [&out](RejectReason r) {
    out.clear();
    return r;
  };
  od::document doc;
  if (impl_->parser.iterate(payload.data(), payload.size(), payload.size() + kPayloadPadding)
          .get(doc)) {
    return RejectReason::malformed_json;
  }
  od::json_type type;
  if (doc.type().get(type)) return reject(RejectReason::malformed_json);
  if (type == od::json_type::object) {
    od::object obj;
    if (doc.get_object().get(obj)) return reject(RejectReason::malformed_json);
    if (auto r = decode_object(obj, arrival_us, limits_, out); r != RejectReason::none) {
      return reject(r);
    }
  } else if (type == od::json_type::array) {
    od::array arr;
    if (doc.get_array().get(arr)) return reject(RejectReason::malformed_json);
    for (auto element_result : arr) {
      od::value element;
      if (std::move(element_result).get(element)) return reject(RejectReason::malformed_json);
      od::json_type element_type;
      if (element.type().get(element_type)) return reject(RejectReason::malformed_json);
      if (element_type != od::json_type::object) {
        return reject(consume_scalar(element, element_type) ? RejectReason::not_object
                                                            : RejectReason::malformed_json);
      }
      if (out.entries.size() >= limits_.max_entries) {
        return reject(RejectReason::too_many_metrics);
      }
      od::object obj;
      if (element.get_object().get(obj)) return reject(RejectReason::malformed_json);
      if (auto r = decode_object(obj, arrival_us, limits_, out); r != RejectReason::none) {
        return reject(r);
      }
    }
    if (out.entries.empty()) return reject(RejectReason::no_metrics);
  } else {
    // On-Demand types a value by its first byte ("nope" looks like null):
    // only a well-formed scalar with nothing after it is `not_object`.
    if (!consume_scalar(doc, type) || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return reject(RejectReason::malformed_json);
    }
    return reject(RejectReason::not_object);
  }
  // On-Demand stops at the end of the value it was asked for; anything after
  // it is trailing garbage.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return reject(RejectReason::malformed_json);
  }
  return RejectReason::none;
}

}  // namespace peregrine::ingest
