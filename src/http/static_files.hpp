#pragma once
/// Files of the dashboard under the web root, for GET/HEAD requests that no
/// route matched. Blocking file reads of small files; loop thread.

#include <filesystem>
#include <string>
#include <string_view>

namespace peregrine::http {

struct StaticFile {
  unsigned status = 404;          ///< 200, 403 (traversal) or 404
  std::string body;               ///< file contents when 200
  std::string_view content_type;  ///< by extension; application/octet-stream if unknown
  bool no_cache = false;          ///< html: always revalidate
};

class StaticFiles {
 public:
  /// `root` need not exist (then everything is 404).
  explicit StaticFiles(const std::filesystem::path& root);
  /// `path` is the request path without query, still percent-encoded. `/`
  /// and paths ending in `/` mean index.html. `..` segments and paths that
  /// leave the root after resolving symlinks are refused (403).
  StaticFile lookup(std::string_view path) const;

 private:
  std::filesystem::path root_;  // canonical, empty if missing
};

std::string_view content_type_for(const std::filesystem::path& file);

}  // namespace peregrine::http
