// Alert response: notification channels (secrets write-only), contacts,
// deliveries of an alert, and silences. Writes commit first; a silence is
// then applied to the alerts service's copy on the loop.

#include <regex>

#include <peregrine/core/ids.hpp>
#include <peregrine/core/offload.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/delivery/sender.hpp>
#include <peregrine/storage/response_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"
#include <peregrine/api/response.hpp>

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

// ---- channels ----

json channel_json(const storage::ChannelRow& c) {
  json j = notifications::public_fields(c.spec);
  j["id"] = c.id;
  j["name"] = c.spec.name;
  j["type"] = c.spec.type;
  j["created_at"] = core::format_rfc3339(c.created_at);
  j["updated_at"] = core::format_rfc3339(c.updated_at);
  return j;
}

notifications::ChannelSpec parse_or_throw(const json& body, const notifications::ChannelSpec* current) {
  notifications::ChannelError err;
  auto spec = notifications::parse_channel(body, current, err);
  if (!spec) unprocessable(err.field.empty() ? err.message : "'" + err.field + "' " + err.message);
  return std::move(*spec);
}

/// The body with write-only fields replaced, for the audit log.
json redacted(const json& body, const std::string& type) {
  json out = body;
  for (auto& [k, v] : out.items())
    if (notifications::is_secret_field(type, k) && v.is_string()) v = notifications::kMasked;
  return out;
}

awaitable<http::Response> list_channels(ResponseContext& ctx, http::Request& req) {
  const auto rows = co_await ctx.base.repos.channels.list(caller_tenant(req));
  json items = json::array();
  for (const auto& r : rows) items.push_back(channel_json(r));
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> get_channel(ResponseContext& ctx, http::Request& req) {
  const auto row = take(co_await ctx.base.repos.channels.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, channel_json(row));
}

awaitable<http::Response> create_channel(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  notifications::ChannelSpec spec = parse_or_throw(body, nullptr);
  storage::AuditEntry audit = audit_by(req, tenant, "channel.create", "", redacted(body, spec.type));
  const auto row = take(co_await ctx.base.repos.channels.create(tenant, std::move(spec), std::move(audit)));
  co_return http::json_response(req.raw, 201, channel_json(row));
}

awaitable<http::Response> patch_channel(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  const auto current = take(co_await ctx.base.repos.channels.get(tenant, id));
  notifications::ChannelSpec spec = parse_or_throw(body, &current.spec);
  storage::AuditEntry audit =
      audit_by(req, tenant, "channel.update", "channel:" + std::to_string(id), redacted(body, spec.type));
  const auto row = take(co_await ctx.base.repos.channels.update(tenant, id, std::move(spec), std::move(audit)));
  co_return http::json_response(req.raw, 200, channel_json(row));
}

awaitable<http::Response> delete_channel(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "channel.delete", "channel:" + std::to_string(id));
  take(co_await ctx.base.repos.channels.remove(tenant, id, std::move(audit)));
  co_return http::text_response(req.raw, 204, "", "application/json");
}

struct TestSend {
  const storage::ChannelRow* channel;
  const std::string* to;
  const std::string* payload;
  const std::string* delivery_id;
  std::chrono::milliseconds timeout;
  delivery::Outcome operator()() const {
    return delivery::send_now(channel->spec.type, channel->spec.config, channel->spec.secrets, *to, *payload,
                              *delivery_id, timeout);
  }
};

awaitable<http::Response> test_channel(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = req.raw.body().empty() ? json::object() : body_object(req);
  const auto channel = take(co_await ctx.base.repos.channels.get(tenant, id));
  const std::string to = string_field(body, "to", channel.spec.type != "webhook").value_or("");
  const std::string payload = notifications::test_payload(channel.spec.name, ctx.public_url).dump();
  const std::string delivery_id = core::random_uuid();
  const TestSend job{&channel, &to, &payload, &delivery_id, ctx.test_timeout};
  const delivery::Outcome out = co_await core::offload<delivery::Outcome>(ctx.test_pool, job);
  const bool ok = out.kind == delivery::Outcome::Kind::sent;
  storage::AuditEntry audit = audit_by(req, tenant, "channel.test", "channel:" + std::to_string(id),
                                       {{"ok", ok}, {"status", out.status}});
  co_await ctx.base.repos.audit.record(std::move(audit));
  co_return http::json_response(req.raw, 200,
                                {{"ok", ok}, {"status", out.status}, {"detail", out.detail}, {"delivery", delivery_id}});
}

// ---- contacts ----

json contact_json(const storage::Contact& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"email", c.email ? json(*c.email) : json(nullptr)},
          {"phone", c.phone ? json(*c.phone) : json(nullptr)},
          {"kind", c.kind},
          {"device_ids", c.device_ids},
          {"group_ids", c.group_ids},
          {"created_at", core::format_rfc3339(c.created_at)}};
}

/// The optional text member `key` (null clears it); `valid` checks a value.
std::optional<std::string> optional_text(const json& body, const char* key, const std::optional<std::string>& current,
                                         const std::regex& valid, const char* what) {
  const auto it = body.find(key);
  if (it == body.end()) return current;
  if (it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty())) return std::nullopt;
  if (!it->is_string() || !std::regex_match(it->get_ref<const std::string&>(), valid))
    unprocessable(std::string("'") + key + "' must be " + what);
  return it->get<std::string>();
}

storage::Contact parse_contact(const json& body, storage::Contact c) {
  static const std::regex email(R"([^@\s<>]{1,64}@[^@\s<>]+\.[^@\s<>]{1,63})");
  static const std::regex phone(R"(\+[1-9][0-9]{6,14})");
  if (auto n = string_field(body, "name", c.name.empty())) c.name = *n;
  if (c.name.empty() || c.name.size() > 200) unprocessable("'name' must be 1 to 200 characters");
  c.email = optional_text(body, "email", c.email, email, "an email address");
  c.phone = optional_text(body, "phone", c.phone, phone, "an E.164 phone number such as +4915112345678");
  if (!c.email && !c.phone) unprocessable("a contact needs an 'email' or a 'phone'");
  if (auto k = string_field(body, "kind", false)) {
    if (*k != "personal" && *k != "secondary" && *k != "emergency")
      unprocessable("'kind' must be personal, secondary or emergency");
    c.kind = *k;
  }
  if (auto it = body.find("device_ids"); it != body.end()) {
    if (!it->is_array() || it->size() > 10'000) unprocessable("'device_ids' must be an array of device ids");
    c.device_ids.clear();
    for (const auto& d : *it) {
      if (!d.is_string() || !core::valid_device_id(d.get_ref<const std::string&>()))
        unprocessable("'device_ids' must be an array of device ids");
      c.device_ids.push_back(d.get<std::string>());
    }
    std::sort(c.device_ids.begin(), c.device_ids.end());
    c.device_ids.erase(std::unique(c.device_ids.begin(), c.device_ids.end()), c.device_ids.end());
  }
  if (auto it = body.find("group_ids"); it != body.end()) {
    if (!it->is_array() || it->size() > 1000) unprocessable("'group_ids' must be an array of group ids");
    c.group_ids.clear();
    for (const auto& g : *it) {
      if (!g.is_number_integer() || g.get<std::int64_t>() <= 0) unprocessable("'group_ids' must be an array of group ids");
      c.group_ids.push_back(g.get<std::int64_t>());
    }
    std::sort(c.group_ids.begin(), c.group_ids.end());
    c.group_ids.erase(std::unique(c.group_ids.begin(), c.group_ids.end()), c.group_ids.end());
  }
  return c;
}

awaitable<http::Response> list_contacts(ResponseContext& ctx, http::Request& req) {
  const std::string device(req.q("device").value_or(""));
  const std::int64_t group = int_query(req, "group").value_or(0);
  const auto rows = co_await ctx.base.repos.contacts.list(caller_tenant(req), device, group);
  json items = json::array();
  for (const auto& c : rows) items.push_back(contact_json(c));
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> get_contact(ResponseContext& ctx, http::Request& req) {
  const auto c = take(co_await ctx.base.repos.contacts.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, contact_json(c));
}

awaitable<http::Response> create_contact(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  storage::Contact c = parse_contact(body, {});
  storage::AuditEntry audit = audit_by(req, tenant, "contact.create", "", {{"name", c.name}});
  const auto row = take(co_await ctx.base.repos.contacts.create(tenant, std::move(c), std::move(audit)));
  co_return http::json_response(req.raw, 201, contact_json(row));
}

awaitable<http::Response> patch_contact(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::Contact current = take(co_await ctx.base.repos.contacts.get(tenant, id));
  storage::Contact c = parse_contact(body, std::move(current));
  storage::AuditEntry audit = audit_by(req, tenant, "contact.update", "contact:" + std::to_string(id), body);
  const auto row = take(co_await ctx.base.repos.contacts.update(tenant, id, std::move(c), std::move(audit)));
  co_return http::json_response(req.raw, 200, contact_json(row));
}

awaitable<http::Response> delete_contact(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "contact.delete", "contact:" + std::to_string(id));
  take(co_await ctx.base.repos.contacts.remove(tenant, id, std::move(audit)));
  co_return http::text_response(req.raw, 204, "", "application/json");
}

// ---- notifications ----

awaitable<http::Response> list_notifications(ResponseContext& ctx, http::Request& req) {
  const auto alert = int_query(req, "alert");
  if (!alert) throw http::Problem(400, "Bad Request", "'alert' is required: the alert whose deliveries to list");
  const core::TenantId tenant = caller_tenant(req);
  if (!co_await ctx.base.repos.alerts.state_of(tenant, *alert))
    throw http::Problem(404, "Not Found", "no alert " + std::to_string(*alert));
  json items = co_await ctx.base.repos.notifications.of_alert(tenant, *alert);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

// ---- silences ----

json silence_json(const storage::SilenceRow& r, core::Micros now) {
  const auto& s = r.silence;
  return {{"id", s.id},
          {"device", s.device.empty() ? json(nullptr) : json(s.device)},
          {"group", s.group ? json(s.group) : json(nullptr)},
          {"rule", s.rule ? json(s.rule) : json(nullptr)},
          {"from", core::format_rfc3339(s.from)},
          {"to", core::format_rfc3339(s.to)},
          {"reason", r.reason},
          {"created_by", r.created_by},
          {"created_at", core::format_rfc3339(r.created_at)},
          {"active", s.from <= now && now < s.to}};
}

core::Micros time_member(const json& body, const char* key, std::optional<core::Micros> fallback) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (fallback) return *fallback;
    unprocessable(std::string("'") + key + "' is required (RFC 3339)");
  }
  const auto t = it->is_string() ? core::parse_rfc3339(it->get_ref<const std::string&>()) : std::nullopt;
  if (!t) unprocessable(std::string("'") + key + "' must be an RFC 3339 time");
  return *t;
}

awaitable<http::Response> list_silences(ResponseContext& ctx, http::Request& req) {
  const core::Micros now = core::SystemClock().now_us();
  const bool active = req.q("active").value_or("") == "true";
  const auto rows = co_await ctx.base.repos.silences.list(caller_tenant(req),
                                                          active ? std::optional<core::Micros>(now) : std::nullopt);
  json items = json::array();
  for (const auto& r : rows) items.push_back(silence_json(r, now));
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> create_silence(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  const core::Micros now = core::SystemClock().now_us();
  storage::SilenceRow row;
  notifications::Silence& s = row.silence;
  s.tenant = tenant;
  int targets = 0;
  if (auto d = body.find("device"); d != body.end() && !d->is_null()) {
    if (!d->is_string() || !core::valid_device_id(d->get_ref<const std::string&>()))
      unprocessable("'device' must be a device id");
    s.device = d->get<std::string>();
    ++targets;
  }
  for (const auto& [key, field] : {std::pair{"group", &s.group}, std::pair{"rule", &s.rule}}) {
    if (auto it = body.find(key); it != body.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() <= 0)
        unprocessable(std::string("'") + key + "' must be a positive integer id");
      *field = it->get<std::int64_t>();
      ++targets;
    }
  }
  if (targets != 1) unprocessable("give exactly one of 'device', 'group' or 'rule'");
  s.from = time_member(body, "from", now);
  s.to = time_member(body, "to", std::nullopt);
  if (s.to <= s.from) unprocessable("'to' must be after 'from'");
  if (s.to <= now) unprocessable("'to' must be in the future");
  row.reason = string_field(body, "reason", false).value_or("");
  if (row.reason.size() > 2000) unprocessable("'reason' must be at most 2000 characters");
  row.created_by = principal(req).email;
  storage::AuditEntry audit = audit_by(req, tenant, "silence.create", "", body);
  const auto stored = take(co_await ctx.base.repos.silences.create(tenant, std::move(row), std::move(audit)));
  ctx.silences.upsert(stored.silence);
  co_return http::json_response(req.raw, 201, silence_json(stored, now));
}

awaitable<http::Response> delete_silence(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "silence.delete", "silence:" + std::to_string(id));
  take(co_await ctx.base.repos.silences.remove(tenant, id, std::move(audit)));
  ctx.silences.remove(tenant, id);
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void add_response_routes(http::Router& router, ResponseContext& ctx) {
  using A = http::Access;
  router.add(bhttp::verb::get, "/api/v1/channels", A::admin, bind(ctx, list_channels));
  router.add(bhttp::verb::post, "/api/v1/channels", A::admin, bind(ctx, create_channel));
  router.add(bhttp::verb::get, "/api/v1/channels/{id}", A::admin, bind(ctx, get_channel));
  router.add(bhttp::verb::patch, "/api/v1/channels/{id}", A::admin, bind(ctx, patch_channel));
  router.add(bhttp::verb::delete_, "/api/v1/channels/{id}", A::admin, bind(ctx, delete_channel));
  router.add(bhttp::verb::post, "/api/v1/channels/{id}/test", A::admin, bind(ctx, test_channel));
  router.add(bhttp::verb::get, "/api/v1/contacts", A::operator_, bind(ctx, list_contacts));
  router.add(bhttp::verb::post, "/api/v1/contacts", A::admin, bind(ctx, create_contact));
  router.add(bhttp::verb::get, "/api/v1/contacts/{id}", A::operator_, bind(ctx, get_contact));
  router.add(bhttp::verb::patch, "/api/v1/contacts/{id}", A::admin, bind(ctx, patch_contact));
  router.add(bhttp::verb::delete_, "/api/v1/contacts/{id}", A::admin, bind(ctx, delete_contact));
  router.add(bhttp::verb::get, "/api/v1/notifications", A::viewer, bind(ctx, list_notifications));
  router.add(bhttp::verb::get, "/api/v1/silences", A::viewer, bind(ctx, list_silences));
  router.add(bhttp::verb::post, "/api/v1/silences", A::operator_, bind(ctx, create_silence));
  router.add(bhttp::verb::delete_, "/api/v1/silences/{id}", A::operator_, bind(ctx, delete_silence));
}

}  // namespace peregrine::api
