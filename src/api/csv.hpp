#pragma once
// RFC 4180 CSV: fields separated by commas, optionally in double quotes
// (a quote inside doubled), records by CRLF or LF. Pure; any thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::api {

using CsvRecord = std::vector<std::string>;

/// Every record of `text`; blank lines are skipped. nullopt (with the
/// 1-based line in `bad_line`) when a quoted field is not closed or a quote
/// is followed by anything but a separator.
inline std::optional<std::vector<CsvRecord>> parse_csv(std::string_view text, std::size_t& bad_line) {
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string field;
  bool quoted = false, was_quoted = false, any = false;
  std::size_t line = 1;
  const auto end_record = [&] {
    if (any || !field.empty() || !rec.empty()) {
      rec.push_back(std::move(field));
      out.push_back(std::move(rec));
    }
    rec.clear();
    field.clear();
    any = was_quoted = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (!field.empty() || was_quoted) {
        bad_line = line;
        return std::nullopt;
      }
      quoted = was_quoted = any = true;
    } else if (c == ',') {
      rec.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else {
      if (was_quoted) {
        bad_line = line;
        return std::nullopt;
      }
      field += c;
    }
  }
  if (quoted) {
    bad_line = line;
    return std::nullopt;
  }
  end_record();
  return out;
}

}  // namespace peregrine::api
