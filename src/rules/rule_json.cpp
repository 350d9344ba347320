#include <peregrine/rules/rule.hpp>

#include <cstdio>

namespace peregrine::rules {
namespace {

using nlohmann::json;

// Whole seconds render as integers so a body posted as `"for_s": 30` reads
// back the same.
json seconds_json(core::Micros us) {
  if (us % 1'000'000 == 0) return us / 1'000'000;
  return static_cast<double>(us) / 1e6;
}

json params_json(const Params& params) {
  json p = json::object();
  if (auto* t = std::get_if<ThresholdParams>(&params)) {
    p["op"] = to_string(t->op);
    p["value"] = t->value;
    p["for_s"] = seconds_json(t->for_us);
    if (t->clear) p["clear"] = *t->clear;
  } else if (auto* r = std::get_if<RateParams>(&params)) {
    if (r->rise) p["rise"] = *r->rise;
    if (r->fall) p["fall"] = *r->fall;
    p["window_s"] = seconds_json(r->window_us);
  } else if (auto* a = std::get_if<AbsenceParams>(&params)) {
    p["timeout_s"] = seconds_json(a->timeout_us);
  } else if (auto* n = std::get_if<AnomalyParams>(&params)) {
    p["z"] = n->z;
    p["warmup"] = n->warmup;
    p["alpha"] = n->alpha;
  }
  return p;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string_view to_string(Severity s) noexcept {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "warning";
}

std::string_view to_string(Kind k) noexcept {
  switch (k) {
    case Kind::threshold: return "threshold";
    case Kind::rate: return "rate";
    case Kind::absence: return "absence";
    case Kind::anomaly: return "anomaly";
  }
  return "threshold";
}

std::string_view to_string(Op op) noexcept {
  switch (op) {
    case Op::gt: return ">";
    case Op::ge: return ">=";
    case Op::lt: return "<";
    case Op::le: return "<=";
  }
  return ">";
}

std::optional<Severity> parse_severity(std::string_view s) noexcept {
  if (s == "critical") return Severity::critical;
  if (s == "warning") return Severity::warning;
  if (s == "info") return Severity::info;
  return std::nullopt;
}

json to_json(const Rule& r) {
  json j;
  j["id"] = r.id;
  j["name"] = r.name;
  j["metric"] = r.metric;
  switch (r.scope.type) {
    case Scope::Type::device: j["scope"] = {{"device", r.scope.device}}; break;
    case Scope::Type::group: j["scope"] = {{"group", r.scope.group}}; break;
    case Scope::Type::all: j["scope"] = {{"all", true}}; break;
  }
  j["kind"] = to_string(r.kind);
  j["params"] = params_json(r.params);
  j["severity"] = to_string(r.severity);
  j["enabled"] = r.enabled;
  if (r.escalate) {
    j["escalate"] = {{"after_s", seconds_json(r.escalate->after_us)}, {"to", to_string(r.escalate->to)}};
  } else {
    j["escalate"] = nullptr;
  }
  j["actions"] = r.actions;
  return j;
}

ParseResult merge_rule(const Rule& rule, const json& patch) {
  if (!patch.is_object()) return RuleError{"", "patch body must be a JSON object", 400};
  json body = to_json(rule);
  // RFC 7386 would merge {"group": 3} into {"device": "d1"}; a scope is one
  // choice, so it is replaced whole. Params of another kind make no sense.
  json p = patch;
  if (p.contains("scope")) body.erase("scope");
  bool kind_changes = p.contains("kind") && p["kind"] != body["kind"];
  if (kind_changes) {
    body.erase("params");
    if (!p.contains("params")) return RuleError{"params", "is required when kind changes", 400};
  }
  body.merge_patch(p);
  body["id"] = rule.id;
  auto out = parse_rule(body, rule.tenant);
  if (auto* r = std::get_if<Rule>(&out)) r->id = rule.id;
  return out;
}

std::string describe(const Rule& r) {
  std::string s = r.metric;
  if (auto* t = std::get_if<ThresholdParams>(&r.params)) {
    s += ' ';
    s += to_string(t->op);
    s += ' ' + num(t->value);
    if (t->for_us > 0) s += " for " + num(static_cast<double>(t->for_us) / 1e6) + "s";
  } else if (auto* ra = std::get_if<RateParams>(&r.params)) {
    std::string w = num(static_cast<double>(ra->window_us) / 1e6) + "s";
    if (ra->rise) s += " rose by " + num(*ra->rise);
    if (ra->rise && ra->fall) s += " or";
    if (ra->fall) s += " fell by " + num(*ra->fall);
    s += " within " + w;
  } else if (auto* a = std::get_if<AbsenceParams>(&r.params)) {
    s += " silent for " + num(static_cast<double>(a->timeout_us) / 1e6) + "s";
  } else if (auto* n = std::get_if<AnomalyParams>(&r.params)) {
    s += " anomalous (|z| > " + num(n->z) + ")";
  }
  return s;
}

}  // namespace peregrine::rules
