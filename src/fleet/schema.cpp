#include <peregrine/fleet/schema.hpp>

#include <algorithm>
#include <stdexcept>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace peregrine::fleet {

struct Schema::Compiled {
  nlohmann::json source;  // valijson's adapters point into it while parsing only
  valijson::Schema schema;
};

namespace {

// A remote $ref reaches this: refuse (the server fetches nothing).
const nlohmann::json* refuse_remote(const std::string& uri) {
  throw std::runtime_error("remote $ref '" + uri + "' is not supported: put the definition in the schema");
}
void free_nothing(const nlohmann::json*) {}

bool is_prefix(const std::string& outer, const std::string& inner) {
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '/';
}

}  // namespace

std::string json_pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const std::string& token : context) {
    if (token == "<root>") continue;
    // `[name]` or `[3]`; RFC 6901 escapes ~ and /.
    const std::string_view inner =
        token.size() >= 2 && token.front() == '[' && token.back() == ']'
            ? std::string_view(token).substr(1, token.size() - 2)
            : std::string_view(token);
    out += '/';
    for (const char c : inner) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
  }
  return out;
}

std::variant<Schema, std::string> Schema::compile(const nlohmann::json& schema) {
  if (!schema.is_object() && !schema.is_boolean()) return std::string("a JSON Schema is an object (or true/false)");
  if (const auto it = schema.find("$schema"); schema.is_object() && it != schema.end()) {
    const std::string uri = it->is_string() ? it->get<std::string>() : "";
    if (uri.find("draft-07") == std::string::npos && uri.find("draft-06") == std::string::npos &&
        uri.find("draft-04") == std::string::npos)
      return "'$schema' " + it->dump() + " is not a draft this server validates (draft-07, -06 or -04)";
  }
  auto c = std::make_shared<Compiled>();
  c->source = schema;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(c->source);
    parser.populateSchema(adapter, c->schema,
                          valijson::SchemaParser::FunctionPtrs<valijson::adapters::NlohmannJsonAdapter>::FetchDoc(refuse_remote),
                          valijson::SchemaParser::FunctionPtrs<valijson::adapters::NlohmannJsonAdapter>::FreeDoc(free_nothing));
  } catch (const std::exception& e) {
    return std::string("not a valid JSON Schema: ") + e.what();
  }
  return Schema(std::move(c));
}

std::vector<SchemaError> Schema::validate(const nlohmann::json& doc) const {
  valijson::Validator validator;  // holds a regex cache: one per call keeps Schema const
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(compiled_->schema, target, &results)) return {};
  std::vector<SchemaError> all;
  for (const auto& e : results) all.push_back({json_pointer(e.context), e.description});
  // Drop the "failed to validate" of each value that contains a failure of its own.
  std::vector<SchemaError> out;
  for (const SchemaError& e : all) {
    const bool encloses = std::any_of(all.begin(), all.end(), [&](const SchemaError& other) {
      return is_prefix(e.path, other.path);
    });
    if (encloses && e.message.rfind("Failed to validate", 0) == 0) continue;
    out.push_back(e);
  }
  return out.empty() ? all : out;
}

}  // namespace peregrine::fleet
