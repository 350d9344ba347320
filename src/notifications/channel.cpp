#include <peregrine/notifications/channel.hpp>

#include <algorithm>
#include <regex>
#include <vector>

#include <peregrine/core/clock.hpp>
#include <peregrine/core/time_format.hpp>

namespace peregrine::notifications {

using nlohmann::json;

namespace {

struct Field {
  const char* name;
  bool required;
  bool secret;
};

const std::vector<Field>& fields_of(std::string_view type) {
  static const std::vector<Field> webhook = {{"url", true, false}, {"secret", true, true}};
  static const std::vector<Field> email = {{"smtp_url", true, false}, {"from", true, false},
                                           {"username", false, false}, {"password", false, true},
                                           {"starttls", false, false}};
  static const std::vector<Field> phone = {{"api_url", true, false}, {"account_sid", true, false},
                                           {"auth_token", true, true}, {"from", true, false}};
  static const std::vector<Field> none;
  if (type == "webhook") return webhook;
  if (type == "email") return email;
  if (type == "sms" || type == "voice") return phone;
  return none;
}

bool starts_with_any(const std::string& s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](std::string_view p) {
    return s.size() > p.size() && s.starts_with(p);
  });
}

bool valid_phone(const std::string& s) {
  static const std::regex re(R"(\+[1-9][0-9]{6,14})");
  return std::regex_match(s, re);
}

bool valid_email(const std::string& s) {
  static const std::regex re(R"([^@\s<>]+@[^@\s<>]+\.[^@\s<>]+)");
  return s.size() <= 254 && std::regex_match(s, re);
}

std::optional<std::string> check_value(std::string_view type, std::string_view name, const std::string& v) {
  if (v.size() > 2000) return "must be at most 2000 characters";
  if (name == "url" || name == "api_url") {
    if (!starts_with_any(v, {"http://", "https://"})) return "must be an http:// or https:// URL";
    if (v.find_first_of(" \r\n") != std::string::npos) return "must not contain spaces";
  } else if (name == "smtp_url") {
    if (!starts_with_any(v, {"smtp://", "smtps://"})) return "must be an smtp:// or smtps:// URL";
    const auto at = v.find('@');
    if (at != std::string::npos && at < v.find('/', 8))
      return "must not carry credentials: use username and password";
  } else if (name == "secret") {
    if (v.size() < 16) return "must be at least 16 characters";
  } else if (name == "starttls") {
    if (v != "required" && v != "optional") return "must be required or optional";
  } else if (name == "from") {
    if (type == "email" ? !valid_email(v) : !valid_phone(v))
      return type == "email" ? "must be an email address" : "must be an E.164 phone number (+…)";
  } else if (v.empty()) {
    return "must not be empty";
  }
  return std::nullopt;
}

}  // namespace

bool is_secret_field(std::string_view type, std::string_view field) {
  for (const Field& f : fields_of(type))
    if (f.secret && field == f.name) return true;
  return false;
}

std::optional<ChannelSpec> parse_channel(const json& body, const ChannelSpec* current, ChannelError& error) {
  const auto fail = [&](std::string field, std::string message) {
    error = {std::move(field), std::move(message)};
    return std::nullopt;
  };
  if (!body.is_object()) return fail("", "body must be a JSON object");
  ChannelSpec spec = current ? *current : ChannelSpec{};
  if (auto t = body.find("type"); t != body.end()) {
    if (!t->is_string() || fields_of(t->get_ref<const std::string&>()).empty())
      return fail("type", "must be webhook, email, sms or voice");
    if (current && *t != current->type) return fail("type", "cannot change: create a new channel");
    spec.type = t->get<std::string>();
  } else if (!current) {
    return fail("type", "is required");
  }
  if (auto n = body.find("name"); n != body.end()) {
    if (!n->is_string() || n->get_ref<const std::string&>().empty() || n->get_ref<const std::string&>().size() > 200)
      return fail("name", "must be 1 to 200 characters");
    spec.name = n->get<std::string>();
  } else if (!current) {
    return fail("name", "is required");
  }
  const auto& fields = fields_of(spec.type);
  for (const auto& [key, value] : body.items()) {
    if (key == "type" || key == "name" || key == "id" || key == "created_at" || key == "updated_at") continue;
    const bool known = std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return key == f.name; });
    if (!known) return fail(key, "is not a field of a " + spec.type + " channel");
  }
  for (const Field& f : fields) {
    json& target = f.secret ? spec.secrets : spec.config;
    const auto it = body.find(f.name);
    if (it == body.end() || (f.secret && *it == kMasked)) {
      if (f.required && !target.contains(f.name)) return fail(f.name, "is required");
      continue;
    }
    if (it->is_null() && !f.required) {
      target.erase(f.name);
      continue;
    }
    if (!it->is_string()) return fail(f.name, "must be a string");
    if (auto bad = check_value(spec.type, f.name, it->get<std::string>())) return fail(f.name, *bad);
    target[f.name] = *it;
  }
  return spec;
}

json public_fields(const ChannelSpec& spec) {
  json out = spec.config;
  for (const Field& f : fields_of(spec.type)) {
    if (f.secret) out[f.name] = spec.secrets.contains(f.name) ? json(kMasked) : json(nullptr);
    else if (!out.contains(f.name)) out[f.name] = nullptr;
  }
  return out;
}

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return s;
}

std::string value_text(const json& v) {
  if (!v.is_number()) return str(json{{"v", v}}, "v");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
  return buf;
}

}  // namespace

Message render(const json& payload) {
  const json& a = payload.contains("alert") ? payload["alert"] : payload;
  const std::string event = str(payload, "event");
  const std::string what = event == "alert.acknowledged" ? "acknowledged"
                           : event == "alert.resolved"   ? "resolved"
                           : event == "alert.escalated"  ? "escalated"
                                                         : "opened";
  const std::string severity = str(a, "severity");
  const std::string device = str(a, "device");
  const std::string device_name = str(a, "device_name");
  const std::string device_text = device_name.empty() || device_name == device
                                      ? device
                                      : device_name + " (" + device + ")";
  const std::string metric = str(a, "metric");
  const std::string value = value_text(a.value("value", json()));
  const std::string rule = str(a, "message");
  const std::string at = str(a, "opened_at");
  const std::string url = str(a, "url");

  const auto r = payload.find("reminder");
  const std::string reminder =
      r != payload.end() && r->is_number_integer() && r->get<int>() > 0 ? "Reminder " + std::to_string(r->get<int>()) + ": " : "";
  Message m;
  m.subject = reminder + "[" + upper(severity) + "] " + metric + " " + value + " on " + device_text + " (alert " +
              what + ")";
  m.text = "Alert " + what + ": " + upper(severity) + "\n\n" + "Device: " + device_text + "\n" +
           "Metric: " + metric + "\n" + "Value:  " + value + "\n" + "Rule:   " + rule + "\n" +
           "Opened: " + at + "\n\n" + "Open the alert: " + url + "\n";
  m.html = "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>Alert " + html_escape(what) +
           ": " + html_escape(upper(severity)) + "</h2><table>" + "<tr><th align=left>Device</th><td>" +
           html_escape(device_text) + "</td></tr><tr><th align=left>Metric</th><td>" + html_escape(metric) +
           "</td></tr><tr><th align=left>Value</th><td>" + html_escape(value) +
           "</td></tr><tr><th align=left>Rule</th><td>" + html_escape(rule) +
           "</td></tr><tr><th align=left>Opened</th><td>" + html_escape(at) +
           "</td></tr></table><p><a href=\"" + html_escape(url) + "\">Open the alert</a></p></body></html>";
  m.sms = reminder + upper(severity) + " alert " + what + ": " + metric + " " + value + " on " + device_text + ". " + rule +
          " " + url;
  if (m.sms.size() > 320) m.sms = m.sms.substr(0, 317) + "...";
  const std::string say = reminder + "Peregrine alert " + what + ". Severity " + severity + ". " + metric + " is " + value +
                          " on " + (device_name.empty() ? device : device_name) + ".";
  m.twiml = "<Response><Say>" + html_escape(say) + "</Say><Pause length=\"1\"/><Say>" + html_escape(say) +
            "</Say></Response>";
  return m;
}

json test_payload(std::string_view channel_name, const std::string& public_url) {
  const std::string now = core::format_rfc3339(core::SystemClock().now_us());
  return {{"event", "alert.opened"},
          {"test", true},
          {"alert",
           {{"id", 0},
            {"device", "test"},
            {"device_name", "Test message from Peregrine"},
            {"metric", "test"},
            {"severity", "info"},
            {"state", "active"},
            {"value", 0},
            {"message", "test of channel '" + std::string(channel_name) + "'"},
            {"opened_at", now},
            {"url", public_url}}}};
}

}  // namespace peregrine::notifications
