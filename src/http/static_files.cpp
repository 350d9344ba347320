#include "http/static_files.hpp"

#include <array>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include <peregrine/http/router.hpp>

namespace peregrine::http {

namespace fs = std::filesystem;

namespace {

bool has_dot_dot_segment(std::string_view path) {
  while (!path.empty()) {
    const auto slash = path.find_first_of("/\\");
    if (path.substr(0, slash) == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

// True when `p` is `root` or below it (both canonical).
bool is_within(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

}  // namespace

StaticFiles::StaticFiles(const fs::path& root) {
  std::error_code ec;
  root_ = fs::canonical(root, ec);
  if (ec) root_.clear();
}

std::string_view content_type_for(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".ico", "image/x-icon"},
      {".map", "application/json"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  const auto ext = file.extension().string();
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

StaticFile StaticFiles::lookup(std::string_view path) const {
  StaticFile out;
  auto decoded = percent_decode(path, false);
  if (!decoded || decoded->empty() || decoded->front() != '/') return out;
  if (decoded->find('\0') != std::string::npos || has_dot_dot_segment(*decoded)) {
    out.status = 403;
    return out;
  }
  if (root_.empty()) return out;
  if (decoded->back() == '/') *decoded += "index.html";

  std::error_code ec;
  const fs::path file = fs::weakly_canonical(root_ / fs::path(decoded->substr(1)), ec);
  if (ec) return out;
  if (!is_within(root_, file)) {
    out.status = 403;
    return out;
  }
  if (!fs::is_regular_file(file, ec)) return out;

  std::ifstream in(file, std::ios::binary);
  if (!in) return out;
  out.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  out.status = 200;
  out.content_type = content_type_for(file);
  out.no_cache = file.extension() == ".html";
  return out;
}

}  // namespace peregrine::http
