#include <peregrine/rules/rule.hpp>

#include <cmath>
#include <initializer_list>

#include <peregrine/core/ids.hpp>

namespace peregrine::rules {
namespace {

using nlohmann::json;
using Err = std::optional<RuleError>;

// One year: long enough for any real hold/window, short enough that the
// conversion to microseconds cannot overflow.
constexpr double kMaxSeconds = 365.0 * 24 * 3600;
constexpr std::size_t kMaxActions = 32;
constexpr int kMaxActionDepth = 3;

RuleError bad(std::string field, std::string message, int status = 400) {
  return RuleError{std::move(field), std::move(message), status};
}

Err only_keys(const json& obj, const std::string& prefix, std::initializer_list<std::string_view> keys) {
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (auto key : keys) known = known || k == key;
    if (!known) return bad(prefix + k, "unknown field");
  }
  return std::nullopt;
}

Err number(const json& obj, const char* key, const std::string& path, double& out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return bad(path, "is required");
    return std::nullopt;
  }
  if (!it->is_number()) return bad(path, "must be a number");
  out = it->get<double>();
  if (!std::isfinite(out)) return bad(path, "must be finite");
  return std::nullopt;
}

Err seconds(const json& obj, const char* key, const std::string& path, core::Micros& out,
            bool required, bool allow_zero) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return bad(path, "is required");
    return std::nullopt;
  }
  double s = 0;
  if (auto e = number(obj, key, path, s, true)) return e;
  if (s < 0 || (!allow_zero && s == 0)) {
    return bad(path, allow_zero ? "must be >= 0" : "must be > 0", 422);
  }
  if (s > kMaxSeconds) return bad(path, "must be at most one year", 422);
  out = static_cast<core::Micros>(std::llround(s * 1e6));
  return std::nullopt;
}

Err parse_threshold(const json& p, ThresholdParams& t) {
  if (auto e = only_keys(p, "params.", {"op", "value", "for_s", "clear"})) return e;
  auto op = p.find("op");
  if (op == p.end()) return bad("params.op", "is required");
  if (!op->is_string()) return bad("params.op", "must be one of > >= < <=");
  auto s = op->get_ref<const std::string&>();
  if (s == ">") t.op = Op::gt;
  else if (s == ">=") t.op = Op::ge;
  else if (s == "<") t.op = Op::lt;
  else if (s == "<=") t.op = Op::le;
  else return bad("params.op", "must be one of > >= < <=");
  if (auto e = number(p, "value", "params.value", t.value, true)) return e;
  if (auto e = seconds(p, "for_s", "params.for_s", t.for_us, false, true)) return e;
  if (p.contains("clear") && !p["clear"].is_null()) {
    double c = 0;
    if (auto e = number(p, "clear", "params.clear", c, true)) return e;
    bool upward = t.op == Op::gt || t.op == Op::ge;
    if (upward ? c > t.value : c < t.value) {
      return bad("params.clear", upward ? "must be <= value for > and >=" : "must be >= value for < and <=",
                 422);
    }
    t.clear = c;
  }
  return std::nullopt;
}

Err parse_rate(const json& p, RateParams& r) {
  if (auto e = only_keys(p, "params.", {"rise", "fall", "window_s"})) return e;
  for (const char* key : {"rise", "fall"}) {
    if (!p.contains(key) || p[key].is_null()) continue;
    double v = 0;
    std::string path = std::string("params.") + key;
    if (auto e = number(p, key, path, v, true)) return e;
    if (v <= 0) return bad(path, "must be > 0", 422);
    (key[0] == 'r' ? r.rise : r.fall) = v;
  }
  if (!r.rise && !r.fall) return bad("params.rise", "one of rise or fall is required");
  return seconds(p, "window_s", "params.window_s", r.window_us, true, false);
}

Err parse_anomaly(const json& p, AnomalyParams& a) {
  if (auto e = only_keys(p, "params.", {"z", "warmup", "alpha"})) return e;
  if (auto e = number(p, "z", "params.z", a.z, false)) return e;
  if (a.z <= 0) return bad("params.z", "must be > 0", 422);
  if (auto it = p.find("warmup"); it != p.end() && !it->is_null()) {
    if (!it->is_number_integer()) return bad("params.warmup", "must be an integer");
    auto w = it->get<std::int64_t>();
    if (w < 2 || w > 1'000'000) return bad("params.warmup", "must be between 2 and 1000000", 422);
    a.warmup = static_cast<std::uint32_t>(w);
  }
  if (auto e = number(p, "alpha", "params.alpha", a.alpha, false)) return e;
  if (a.alpha <= 0 || a.alpha >= 1) return bad("params.alpha", "must be in (0, 1)", 422);
  return std::nullopt;
}

Err parse_params(const json& body, Rule& r) {
  auto it = body.find("params");
  if (it == body.end() || it->is_null()) {
    if (r.kind == Kind::anomaly) { r.params = AnomalyParams{}; return std::nullopt; }
    return bad("params", "is required");
  }
  if (!it->is_object()) return bad("params", "must be an object");
  switch (r.kind) {
    case Kind::threshold: { ThresholdParams t; auto e = parse_threshold(*it, t); r.params = t; return e; }
    case Kind::rate: { RateParams t; auto e = parse_rate(*it, t); r.params = t; return e; }
    case Kind::absence: {
      AbsenceParams t;
      if (auto e = only_keys(*it, "params.", {"timeout_s"})) return e;
      auto e = seconds(*it, "timeout_s", "params.timeout_s", t.timeout_us, true, false);
      r.params = t;
      return e;
    }
    case Kind::anomaly: { AnomalyParams t; auto e = parse_anomaly(*it, t); r.params = t; return e; }
  }
  return std::nullopt;
}

Err parse_scope(const json& body, Scope& s) {
  auto it = body.find("scope");
  if (it == body.end()) return bad("scope", "is required");
  if (!it->is_object() || it->size() != 1) {
    return bad("scope", "must be one of {\"device\": id}, {\"group\": id}, {\"all\": true}");
  }
  if (auto d = it->find("device"); d != it->end()) {
    if (!d->is_string() || !core::valid_device_id(d->get_ref<const std::string&>())) {
      return bad("scope.device", "must be a device id");
    }
    s.type = Scope::Type::device;
    s.device = d->get<std::string>();
  } else if (auto g = it->find("group"); g != it->end()) {
    if (!g->is_number_integer() || g->get<std::int64_t>() <= 0) {
      return bad("scope.group", "must be a group id");
    }
    s.type = Scope::Type::group;
    s.group = g->get<std::int64_t>();
  } else if (auto a = it->find("all"); a != it->end()) {
    if (!a->is_boolean() || !a->get<bool>()) return bad("scope.all", "must be true");
    s.type = Scope::Type::all;
  } else {
    return bad("scope." + it->begin().key(), "unknown field");
  }
  return std::nullopt;
}

Err parse_action_list(const json& list, const std::string& path, int depth);

Err parse_action(const json& a, const std::string& path, int depth) {
  if (!a.is_object()) return bad(path, "must be an object");
  auto type = a.find("type");
  if (type == a.end() || !type->is_string()) return bad(path + ".type", "must be command, notify or escalate");
  const auto& t = type->get_ref<const std::string&>();
  if (t == "command") {
    if (auto e = only_keys(a, path + ".", {"type", "name", "params", "target", "ack_timeout_s", "on_timeout"})) {
      return e;
    }
    auto name = a.find("name");
    if (name == a.end() || !name->is_string() || !core::valid_device_id(name->get_ref<const std::string&>())) {
      return bad(path + ".name", "must match [A-Za-z0-9_.-]{1,64}");
    }
    if (auto p = a.find("params"); p != a.end() && !p->is_object()) {
      return bad(path + ".params", "must be an object");
    }
    if (auto tg = a.find("target"); tg != a.end()) {
      bool ok = (tg->is_string() && *tg == "device") ||
                (tg->is_object() && tg->size() == 1 && tg->contains("group") &&
                 (*tg)["group"].is_number_integer() && (*tg)["group"].get<std::int64_t>() > 0);
      if (!ok) return bad(path + ".target", "must be \"device\" or {\"group\": id}");
    }
    core::Micros unused = 0;
    if (auto e = seconds(a, "ack_timeout_s", path + ".ack_timeout_s", unused, false, false)) return e;
    if (auto ot = a.find("on_timeout"); ot != a.end()) {
      if (depth >= kMaxActionDepth) return bad(path + ".on_timeout", "nested too deeply", 422);
      return parse_action_list(*ot, path + ".on_timeout", depth + 1);
    }
    return std::nullopt;
  }
  if (t == "notify") {
    if (auto e = only_keys(a, path + ".", {"type", "channel", "contacts", "kind", "after_s", "repeat_s"}))
      return e;
    auto ch = a.find("channel");
    if (ch == a.end() || !ch->is_number_integer() || ch->get<std::int64_t>() <= 0) {
      return bad(path + ".channel", "must be a channel id (a positive integer)");
    }
    if (auto c = a.find("contacts"); c != a.end()) {
      bool ok = c->is_string() ? (*c == "device" || *c == "all") : (c->is_array() && c->size() <= 100);
      if (c->is_array()) {
        for (const auto& id : *c) ok = ok && id.is_number_integer() && id.get<std::int64_t>() > 0;
      }
      if (!ok) return bad(path + ".contacts", "must be \"device\", \"all\" or a list of contact ids");
    }
    if (auto k = a.find("kind"); k != a.end()) {
      const bool ok = k->is_string() && (*k == "personal" || *k == "secondary" || *k == "emergency");
      if (!ok) return bad(path + ".kind", "must be personal, secondary or emergency");
    }
    core::Micros unused = 0;
    if (auto e = seconds(a, "after_s", path + ".after_s", unused, false, true)) return e;
    if (auto e = seconds(a, "repeat_s", path + ".repeat_s", unused, false, true)) return e;
    if (a.contains("repeat_s") && a["repeat_s"].is_number() && a["repeat_s"].get<double>() > 0 &&
        a["repeat_s"].get<double>() < 10) {
      return bad(path + ".repeat_s", "must be 0 (no reminders) or at least 10", 422);
    }
    return std::nullopt;
  }
  if (t == "escalate") {
    if (auto e = only_keys(a, path + ".", {"type", "to"})) return e;
    auto to = a.find("to");
    if (to == a.end() || !to->is_string() || !parse_severity(to->get_ref<const std::string&>())) {
      return bad(path + ".to", "must be critical, warning or info");
    }
    return std::nullopt;
  }
  return bad(path + ".type", "must be command, notify or escalate");
}

Err parse_action_list(const json& list, const std::string& path, int depth) {
  if (!list.is_array()) return bad(path, "must be an array");
  if (list.size() > kMaxActions) return bad(path, "too many actions", 422);
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto e = parse_action(list[i], path + "[" + std::to_string(i) + "]", depth)) return e;
  }
  return std::nullopt;
}

Err parse_body(const json& body, Rule& r) {
  if (!body.is_object()) return bad("", "rule body must be a JSON object");
  if (auto e = only_keys(body, "", {"id", "tenant_id", "created_at", "updated_at", "name", "metric", "scope",
                                    "kind", "params", "severity", "enabled", "escalate", "actions"})) {
    return e;
  }
  if (auto id = body.find("id"); id != body.end() && !id->is_null()) {
    if (!id->is_number_integer()) return bad("id", "must be an integer");
    r.id = id->get<RuleId>();
  }
  auto name = body.find("name");
  if (name == body.end() || !name->is_string()) return bad("name", "must be a string");
  r.name = name->get<std::string>();
  if (r.name.empty() || r.name.size() > 200) return bad("name", "must be 1 to 200 characters", 422);
  auto metric = body.find("metric");
  if (metric == body.end() || !metric->is_string() ||
      !core::valid_metric_name(metric->get_ref<const std::string&>())) {
    return bad("metric", "must be a metric name ([A-Za-z0-9_]{1,64})");
  }
  r.metric = metric->get<std::string>();
  if (auto e = parse_scope(body, r.scope)) return e;
  auto kind = body.find("kind");
  if (kind == body.end() || !kind->is_string()) return bad("kind", "must be threshold, rate, absence or anomaly");
  const auto& k = kind->get_ref<const std::string&>();
  if (k == "threshold") r.kind = Kind::threshold;
  else if (k == "rate") r.kind = Kind::rate;
  else if (k == "absence") r.kind = Kind::absence;
  else if (k == "anomaly") r.kind = Kind::anomaly;
  else return bad("kind", "must be threshold, rate, absence or anomaly");
  if (auto e = parse_params(body, r)) return e;
  if (auto s = body.find("severity"); s != body.end() && !s->is_null()) {
    auto sev = s->is_string() ? parse_severity(s->get_ref<const std::string&>()) : std::nullopt;
    if (!sev) return bad("severity", "must be critical, warning or info");
    r.severity = *sev;
  }
  if (auto en = body.find("enabled"); en != body.end() && !en->is_null()) {
    if (!en->is_boolean()) return bad("enabled", "must be a boolean");
    r.enabled = en->get<bool>();
  }
  if (auto esc = body.find("escalate"); esc != body.end() && !esc->is_null()) {
    if (!esc->is_object()) return bad("escalate", "must be an object {after_s, to}");
    if (auto e = only_keys(*esc, "escalate.", {"after_s", "to"})) return e;
    Escalation x;
    if (auto e = seconds(*esc, "after_s", "escalate.after_s", x.after_us, true, false)) return e;
    auto to = esc->find("to");
    auto sev = (to != esc->end() && to->is_string()) ? parse_severity(to->get_ref<const std::string&>())
                                                     : std::nullopt;
    if (!sev) return bad("escalate.to", "must be critical, warning or info");
    if (*sev <= r.severity) return bad("escalate.to", "must be more severe than severity", 422);
    x.to = *sev;
    r.escalate = x;
  }
  if (auto a = body.find("actions"); a != body.end() && !a->is_null()) {
    if (auto e = parse_action_list(*a, "actions", 0)) return e;
    r.actions = *a;
  }
  return std::nullopt;
}

}  // namespace

ParseResult parse_rule(const nlohmann::json& body, core::TenantId tenant) {
  Rule r;
  r.tenant = tenant;
  if (auto e = parse_body(body, r)) return std::move(*e);
  return r;
}

}  // namespace peregrine::rules
