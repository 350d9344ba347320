#pragma once
// What every repository shares, so each exists once: cutting a keyset page,
// a write and its audit entry in one transaction, mapping constraint
// violations to typed failures, and microsecond timestamps in SQL.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage::sql {

/// A text parameter that may be SQL NULL: libpqxx 6 has no std::optional
/// parameters, a null `const char*` is NULL.
struct NullableText {
  std::string text;
  bool null = true;
  const char* c_str() const { return null ? nullptr : text.c_str(); }
};
inline NullableText nullable(const std::optional<std::int64_t>& v) {
  return v ? NullableText{std::to_string(*v), false} : NullableText{};
}
inline NullableText text_if(bool present, const std::string& s) {
  return present ? NullableText{s, false} : NullableText{};
}

/// SQL for a timestamptz column as epoch microseconds (bigint).
inline std::string micros(std::string_view column) {
  return "(extract(epoch from " + std::string(column) + ") * 1000000)::bigint";
}
/// SQL for the timestamptz of parameter `$n` given as epoch microseconds.
inline std::string ts_param(int n) {
  return "('epoch'::timestamptz + $" + std::to_string(n) + "::bigint * interval '1 microsecond')";
}

/// SQL literal of the timestamptz `ts` (epoch microseconds).
inline std::string ts_literal(std::int64_t ts) {
  return "('epoch'::timestamptz + " + std::to_string(ts) + "::bigint * interval '1 microsecond')";
}
/// A bigint parameter that is NULL when `id` is 0.
inline NullableText nullable_id(std::int64_t id) {
  return id != 0 ? NullableText{std::to_string(id), false} : NullableText{};
}

/// `{a,b}` for a text[] parameter of ids that never need quoting (device
/// ids: [A-Za-z0-9_.-]).
inline std::string id_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) {
    if (out.size() > 1) out += ',';
    out += id;
  }
  return out + "}";
}
/// `{1,2}` for a bigint[] parameter.
inline std::string int_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (const auto id : ids) {
    if (out.size() > 1) out += ',';
    out += std::to_string(id);
  }
  return out + "}";
}
/// "1,2,3" (string_agg of ids) → {1, 2, 3}; empty or NULL → {}.
std::vector<std::int64_t> parse_int_list(const pqxx::field& f);

/// For a list read with `limit + 1` rows: drops the extra row and returns
/// the next page's cursor (`key_of` the last kept row), or nullopt.
template <class T, class KeyOf>
Page<T> cut_page(std::vector<T> rows, std::size_t limit, KeyOf key_of) {
  Page<T> page;
  if (rows.size() > limit) {
    rows.resize(limit);
    page.next = key_of(rows.back());
  }
  page.items = std::move(rows);
  return page;
}

/// Appends `e` to audit_log inside `w`.
void write_audit(pqxx::work& w, const AuditEntry& e);

/// A constraint violation a repository expects, and the failure it means.
/// `constraint` empty matches any constraint of that class.
struct Violation {
  enum class Class { unique, foreign_key, check };
  Class cls;
  std::string constraint;
  Failure failure;
};

/// The failure `e` means when it is one of `expected`; nullopt otherwise.
std::optional<Failure> match_violation(const pqxx::sql_error& e,
                                       const std::vector<Violation>& expected);

/// Runs `fn(w)` in one transaction; when it succeeds, appends `audit` (which
/// `fn` may complete, e.g. with the new row's id) and commits, so the change
/// and its audit entry land together or not at all. A violation in
/// `expected` becomes its Failure; anything else propagates.
template <class T, class Fn>
Outcome<T> audited(pqxx::connection& c, AuditEntry& audit, const std::vector<Violation>& expected,
                   Fn&& fn) {
  try {
    pqxx::work w(c);
    Outcome<T> out = fn(w);
    if (out.ok()) {
      write_audit(w, audit);
      w.commit();
    }
    return out;
  } catch (const pqxx::sql_error& e) {
    if (auto f = match_violation(e, expected)) return *f;
    throw;
  }
}

}  // namespace peregrine::storage::sql
