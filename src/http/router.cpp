#include <peregrine/http/router.hpp>

#include <utility>

namespace peregrine::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// Matches without filling params: used for 405 detection and Allow.
bool path_matches(const std::vector<std::string>& pattern,
                  const std::vector<std::string_view>& path) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (is_param(pattern[i])) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Response base_response(const RawRequest& req, unsigned status, std::string body,
                       std::string_view content_type) {
  Response res{static_cast<bhttp::status>(status), req.version()};
  res.set(bhttp::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::unordered_map<std::string, std::string> parse_query(std::string_view query) {
  std::unordered_map<std::string, std::string> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                             : pair.substr(eq + 1),
                                true);
    if (!key || !value || key->empty()) continue;
    out[std::move(*key)] = std::move(*value);
  }
  return out;
}

std::optional<std::string_view> Request::q(const std::string& name) const {
  const auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return std::string_view{it->second};
}

nlohmann::json Request::json() const {
  try {
    return nlohmann::json::parse(raw.body());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double
    // (found by fuzz/http_request_fuzz.cpp): both are the client's input.
    throw Problem(400, "Bad Request", std::string("invalid JSON: ") + e.what());
  }
}

void Router::add(bhttp::verb method, std::string pattern, Access access, Handler handler) {
  std::vector<std::string> segs;
  for (const auto seg : split_path(pattern)) segs.emplace_back(seg);
  segments_.push_back(std::move(segs));
  routes_.push_back(Route{method, std::move(pattern), access, std::move(handler)});
}

const Route* Router::match(bhttp::verb method, std::string_view path,
                           std::unordered_map<std::string, std::string>& params,
                           bool& method_mismatch) const {
  method_mismatch = false;
  const auto parts = split_path(path);
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const auto& pattern = segments_[r];
    if (!path_matches(pattern, parts)) continue;
    if (routes_[r].method != method) {
      method_mismatch = true;
      continue;
    }
    params.clear();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!is_param(pattern[i])) continue;
      auto value = percent_decode(parts[i], false);
      if (!value) return nullptr;  // a malformed escape matches nothing
      params.emplace(pattern[i].substr(1, pattern[i].size() - 2), std::move(*value));
    }
    method_mismatch = false;
    return &routes_[r];
  }
  return nullptr;
}

std::string Router::allowed_methods(std::string_view path) const {
  const auto parts = split_path(path);
  std::string out;
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    if (!path_matches(segments_[r], parts)) continue;
    const auto name = bhttp::to_string(routes_[r].method);
    if (out.find(name) != std::string::npos) continue;
    if (!out.empty()) out += ", ";
    out.append(name.data(), name.size());
  }
  return out;
}

Response json_response(const RawRequest& req, unsigned status, const nlohmann::json& body) {
  return base_response(req, status,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/json");
}

Response problem_response(const RawRequest& req, unsigned status, std::string_view title,
                          std::string_view detail) {
  const nlohmann::json body = {{"type", "about:blank"},
                               {"title", title},
                               {"status", status},
                               {"detail", detail}};
  return base_response(req, status,
                       body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/problem+json");
}

Response text_response(const RawRequest& req, unsigned status, std::string body,
                       std::string_view content_type) {
  return base_response(req, status, std::move(body), content_type);
}

}  // namespace peregrine::http
