#pragma once
/// What a repository call returns: a value, or why the write or read did not
/// happen (not found, conflict naming the field, invalid reference), and the
/// page shape every list shares. No pqxx here: `api` handlers include this
/// and map a Failure to an HTTP problem in one place (api/handler_support.hpp).

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace peregrine::storage {

struct Failure {
  enum class Kind {
    not_found,      ///< no such row in the caller's scope (another tenant's rows too)
    conflict,       ///< a unique key, a stale version, or a row still referenced
    invalid,        ///< the request names something that does not exist (a foreign key)
    not_persisted,  ///< known in memory, not yet written by the storage writer
    bad_input,      ///< the request itself is malformed (checked where the data is)
  };
  Kind kind = Kind::not_found;
  std::string field;   ///< the field it concerns; may be empty
  std::string detail;  ///< for a person: what is wrong

  static Failure not_found(std::string detail) { return {Kind::not_found, "", std::move(detail)}; }
  static Failure conflict(std::string field, std::string detail) {
    return {Kind::conflict, std::move(field), std::move(detail)};
  }
  static Failure invalid(std::string field, std::string detail) {
    return {Kind::invalid, std::move(field), std::move(detail)};
  }
  static Failure bad_input(std::string field, std::string detail) {
    return {Kind::bad_input, std::move(field), std::move(detail)};
  }
  static Failure not_persisted(std::string detail) {
    return {Kind::not_persisted, "", std::move(detail)};
  }
};

/// For writes that return nothing but may fail.
struct Done {};

/// A value or a Failure. Default-constructs to a default T (QueryPool::run
/// needs default-constructible results).
template <class T>
class [[nodiscard]] Outcome {
 public:
  Outcome() = default;
  Outcome(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Outcome(Failure f) : v_(std::move(f)) {}    // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Failure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, Failure> v_;
};

/// A keyset page request: rows after `after` (in the list's order), at most `limit`.
template <class Key>
struct PageRequest {
  std::size_t limit = 100;
  Key after{};
};

/// One page of a list; `next` is the cursor of the following page, or
/// nullopt on the last page (CONTRACT.md: `{"items", "next"}`).
template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next;
};

}  // namespace peregrine::storage
