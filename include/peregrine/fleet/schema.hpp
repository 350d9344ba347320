#pragma once
/// JSON Schema (draft 7) for device configurations, checked by valijson
/// (Debian's libvalijson-dev, through its nlohmann adapter): a schema is
/// compiled once, then validates any number of documents, listing every
/// failure with the JSON pointer of the value that fails and the library's
/// message. Remote `$ref`s are refused (the server fetches nothing);
/// references inside the schema (`#/definitions/...`) work. Pure; a
/// compiled schema is immutable and may be used from any thread.

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace peregrine::fleet {

struct SchemaError {
  std::string path;     ///< JSON pointer (RFC 6901) into the document; "" is the whole document
  std::string message;  ///< what the schema wanted there
};

class Schema {
 public:
  /// Compiles `schema`, or says why it is not a schema this server can use.
  static std::variant<Schema, std::string> compile(const nlohmann::json& schema);

  /// Every failure, deepest first within a path; empty when `doc` is valid.
  /// Where a value fails inside an object or array, only the inner failure
  /// is listed, not each enclosing "failed to validate" around it.
  std::vector<SchemaError> validate(const nlohmann::json& doc) const;

 private:
  struct Compiled;
  explicit Schema(std::shared_ptr<const Compiled> c) : compiled_(std::move(c)) {}
  std::shared_ptr<const Compiled> compiled_;
};

/// valijson's context (`<root>`, `[name]`, `[0]`) as a JSON pointer.
std::string json_pointer(const std::vector<std::string>& context);

}  // namespace peregrine::fleet
