#pragma once
// Validation of the editable device fields, shared by create and PATCH
// (each throws http::Problem 422 naming the field), and the device JSON.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <peregrine/core/time_format.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/storage/device_repository.hpp>

namespace peregrine::api {

using storage::LatLon;

/// A device as the API shows it (CONTRACT.md devices), before the registry's
/// newer presence is overlaid.
inline nlohmann::json device_json(const storage::DeviceRow& r) {
  nlohmann::json d = {{"id", r.id},
                      {"name", r.name},
                      {"type", r.type},
                      {"group_ids", r.group_ids},
                      {"location", nullptr},
                      {"metadata", r.metadata},
                      {"last_seen", nullptr},
                      {"online", r.online},
                      {"seq_gaps", r.seq_gaps}};
  if (r.location) d["location"] = {{"lat", r.location->lat}, {"lon", r.location->lon}};
  if (r.last_seen) d["last_seen"] = core::format_rfc3339(*r.last_seen);
  return d;
}

/// `location`: absent → nullopt (no change); null → {nullopt} (clear).
inline std::optional<std::optional<LatLon>> parse_location(const nlohmann::json& body) {
  const auto loc = body.find("location");
  if (loc == body.end()) return std::nullopt;
  if (loc->is_null()) return std::optional<LatLon>{};
  const auto lat = loc->is_object() ? loc->find("lat") : loc->end();
  const auto lon = loc->is_object() ? loc->find("lon") : loc->end();
  if (lat == loc->end() || lon == loc->end() || !lat->is_number() || !lon->is_number() ||
      std::fabs(lat->get<double>()) > 90 || std::fabs(lon->get<double>()) > 180) {
    throw http::Problem(422, "Unprocessable Entity",
                        "'location' must be {\"lat\": -90..90, \"lon\": -180..180}");
  }
  return std::optional<LatLon>{LatLon{lat->get<double>(), lon->get<double>()}};
}

/// `metadata`: absent or null → nullopt; else it must be an object.
inline std::optional<nlohmann::json> parse_metadata(const nlohmann::json& body) {
  const auto m = body.find("metadata");
  if (m == body.end() || m->is_null()) return std::nullopt;
  if (!m->is_object()) throw http::Problem(422, "Unprocessable Entity", "'metadata' must be an object");
  return *m;
}

/// `group_ids`: absent or null → nullopt; else an array of positive integers
/// (duplicates removed, ascending).
inline std::optional<std::vector<std::int64_t>> parse_group_ids(const nlohmann::json& body) {
  const auto g = body.find("group_ids");
  if (g == body.end() || g->is_null()) return std::nullopt;
  std::vector<std::int64_t> out;
  bool ok = g->is_array() && g->size() <= 100;
  if (ok) {
    for (const auto& id : *g) {
      ok = ok && id.is_number_integer() && id.get<std::int64_t>() > 0;
      if (ok) out.push_back(id.get<std::int64_t>());
    }
  }
  if (!ok)
    throw http::Problem(422, "Unprocessable Entity",
                        "'group_ids' must be an array of at most 100 group ids");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// `name` at most 200 characters, `type` at most 64.
inline void check_name_type(const std::optional<std::string>& name,
                            const std::optional<std::string>& type) {
  if ((name && name->size() > 200) || (type && type->size() > 64)) {
    throw http::Problem(422, "Unprocessable Entity", "'name' or 'type' too long");
  }
}

}  // namespace peregrine::api
