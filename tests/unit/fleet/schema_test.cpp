// JSON Schema validation of device configurations (valijson underneath):
// every failure with its JSON pointer, the enclosing "failed to validate"
// dropped; schemas this server cannot use refused with a reason; the
// device's applied report parsed strictly; the state a device is in.
#include <peregrine/fleet/config_service.hpp>
#include <peregrine/fleet/schema.hpp>

#include <set>

#include <gtest/gtest.h>

namespace peregrine::fleet {
namespace {

using nlohmann::json;

Schema compiled(const json& s) {
  auto c = Schema::compile(s);
  if (auto* why = std::get_if<std::string>(&c)) ADD_FAILURE() << *why;
  return std::get<Schema>(std::move(c));
}

std::set<std::string> paths(const std::vector<SchemaError>& errors) {
  std::set<std::string> out;
  for (const auto& e : errors) out.insert(e.path);
  return out;
}

const json kBoard = json::parse(R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "definitions": {"pct": {"type": "number", "minimum": 0, "maximum": 100}},
  "properties": {
    "interval_s": {"type": "integer", "minimum": 1},
    "mode": {"enum": ["eco", "full"]},
    "display": {"type": "object", "properties": {"brightness": {"$ref": "#/definitions/pct"}}},
    "sensors": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "maxItems": 3},
    "a/b~c": {"type": "boolean"}
  },
  "required": ["interval_s"],
  "additionalProperties": false
})");

TEST(Schema, ValidDocumentsHaveNoErrors) {
  const Schema s = compiled(kBoard);
  EXPECT_TRUE(s.validate(json{{"interval_s", 5}}).empty());
  EXPECT_TRUE(s.validate(json::parse(R"({"interval_s": 5, "mode": "eco", "display": {"brightness": 40},
                                          "sensors": ["co", "rh"], "a/b~c": true})"))
                  .empty());
}

TEST(Schema, EveryFailureWithItsPointer) {
  const Schema s = compiled(kBoard);
  const auto errors = s.validate(json::parse(R"({"interval_s": 0, "mode": "turbo", "display": {"brightness": 300},
                                                 "sensors": ["co", "RH"], "a/b~c": 1})"));
  EXPECT_EQ(paths(errors), (std::set<std::string>{"/interval_s", "/mode", "/display/brightness", "/sensors/1",
                                                 "/a~1b~0c"}));
  for (const auto& e : errors) EXPECT_FALSE(e.message.empty()) << e.path;
  EXPECT_EQ(paths(s.validate(json{{"mode", "eco"}})), std::set<std::string>{""}) << "required is the root's";
  EXPECT_EQ(paths(s.validate(json{{"interval_s", 1}, {"colour", "red"}})), std::set<std::string>{""})
      << "additionalProperties is the root's";
  EXPECT_EQ(paths(s.validate(json::array())), std::set<std::string>{""});
}

TEST(Schema, WhatCannotBeUsedIsRefusedWithAReason) {
  for (const json& bad : {json(12), json("object"), json{{"type", 12}},
                          json{{"$schema", "https://json-schema.org/draft/2020-12/schema"}},
                          json{{"$ref", "http://example.com/other.json"}},
                          json{{"properties", {{"x", {{"$ref", "#/definitions/missing"}}}}}}}) {
    auto c = Schema::compile(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(c)) << bad.dump();
    EXPECT_FALSE(std::get<std::string>(c).empty());
  }
  EXPECT_TRUE(std::holds_alternative<Schema>(Schema::compile(json(true))));
  EXPECT_TRUE(std::holds_alternative<Schema>(Schema::compile(json::object())));
}

TEST(Schema, PointersFromValijsonContexts) {
  EXPECT_EQ(json_pointer({"<root>"}), "");
  EXPECT_EQ(json_pointer({"<root>", "[display]", "[brightness]"}), "/display/brightness");
  EXPECT_EQ(json_pointer({"<root>", "[sensors]", "[1]"}), "/sensors/1");
  EXPECT_EQ(json_pointer({"<root>", "[a/b~c]"}), "/a~1b~0c");
}

TEST(AppliedReport, ParsedStrictly) {
  std::string why;
  auto r = parse_applied(R"({"version": 7})", why);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, 7);
  EXPECT_FALSE(r->error);
  r = parse_applied(R"({"version": 3, "error": "bad pin"})", why);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "bad pin");
  EXPECT_TRUE(parse_applied(R"({"version": 3, "error": null})", why));
  for (const char* bad : {"", "7", "[]", R"({"version": "7"})", R"({"version": 0})", R"({"version": 1.5})",
                          R"({"version": 99999999999})", R"({"version": 2, "error": 5})", "{"}) {
    why.clear();
    EXPECT_FALSE(parse_applied(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConfigState, InSyncPendingRejected) {
  storage::ConfigState s;
  s.desired_version = 2;
  EXPECT_EQ(s.state(), "pending");
  s.applied_version = 1;
  EXPECT_EQ(s.state(), "pending");
  s.rejected_version = 1;
  EXPECT_EQ(s.state(), "pending") << "a rejection of an older version";
  s.rejected_version = 2;
  EXPECT_EQ(s.state(), "rejected");
  s.applied_version = 2;
  EXPECT_EQ(s.state(), "in_sync");
  EXPECT_EQ(state_json(s)["state"], "in_sync");
  EXPECT_EQ(config_message(3, json{{"a", 1}}), R"({"config":{"a":1},"version":3})");
}

}  // namespace
}  // namespace peregrine::fleet
