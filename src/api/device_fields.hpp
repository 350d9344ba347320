#pragma once
// Validation of the editable device fields, shared by create and PATCH.
// Each throws http::Problem 422 naming the field.

#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <peregrine/http/router.hpp>

namespace peregrine::api {

struct LatLon {
  double lat, lon;
};

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

/// `metadata`: absent or null → nullopt; else it must be an object (returned as text).
inline std::optional<std::string> parse_metadata(const nlohmann::json& body) {
  const auto m = body.find("metadata");
  if (m == body.end() || m->is_null()) return std::nullopt;
  if (!m->is_object()) throw http::Problem(422, "Unprocessable Entity", "'metadata' must be an object");
  return m->dump();
}

/// `name` at most 200 characters, `type` at most 64.
inline void check_name_type(const std::optional<std::string>& name,
                            const std::optional<std::string>& type) {
  if ((name && name->size() > 200) || (type && type->size() > 64)) {
    throw http::Problem(422, "Unprocessable Entity", "'name' or 'type' too long");
  }
}

}  // namespace peregrine::api
