#include "realtime/session.hpp"

#include <charconv>
#include <utility>

#include <nlohmann/json.hpp>

#include <peregrine/core/ids.hpp>

#include "realtime/frames.hpp"
#include "realtime/hub_state.hpp"

namespace peregrine::realtime {

namespace {

constexpr std::size_t kMaxTopics = 256;
constexpr std::string_view kReadingsPrefix = "readings:";

// The set of `index` that `topic` names, or nullptr for readings:<device>
// (kept in by_device) and for unknown topics (`known` false).
SessionSet* topic_set(TenantIndex& index, std::string_view topic, bool& known) {
  known = true;
  if (topic == "alerts") return &index.alerts;
  if (topic == "devices") return &index.devices;
  if (topic == "jobs") return &index.jobs;
  if (topic == "commands") return &index.commands;
  if (topic == "incidents") return &index.incidents;
  if (topic == "readings:*") return &index.all_readings;
  known = topic.starts_with(kReadingsPrefix) &&
          core::valid_device_id(topic.substr(kReadingsPrefix.size()));
  return nullptr;
}

std::optional<std::uint64_t> parse_seq(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> renewal_refusal(const WsAuth& verdict, core::TenantId tenant) {
  if (!verdict.tenant) return verdict.detail.empty() ? "token refused" : verdict.detail;
  // A session never changes tenant: its subscriptions live in that tenant's index.
  if (*verdict.tenant != tenant) return "token is for another tenant";
  return std::nullopt;
}

std::string_view close_reason_text(std::string_view reason) noexcept {
  constexpr std::size_t kMax = 123;  // RFC 6455: 125-byte control payload less the code
  if (reason.size() <= kMax) return reason;
  std::size_t n = kMax;
  // Never split a UTF-8 sequence: the client must get valid text.
  while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  return reason.substr(0, n);
}

bool Session::auth_required() const noexcept {
  return hub_ != nullptr && static_cast<bool>(hub_->authenticate);
}

std::chrono::milliseconds Session::auth_timeout() const noexcept {
  return hub_ != nullptr ? hub_->opts.auth_timeout : std::chrono::milliseconds(0);
}

WsAuth Session::check_token(std::string_view token,
                            std::optional<core::TenantId> requested) const {
  if (hub_ == nullptr || !hub_->authenticate) return {std::nullopt, 401, "server stopping"};
  return hub_->authenticate(token, requested);
}

WsAuth Session::check_auth_message(std::string_view text,
                                   std::optional<core::TenantId> fallback) const {
  const auto msg = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto op = msg.is_object() ? msg.find("op") : msg.end();
  if (!msg.is_object() || op == msg.end() || !op->is_string() || *op != "auth") {
    return {std::nullopt, 401, "the first message must be {\"op\":\"auth\",\"token\":…}"};
  }
  const auto token = msg.find("token");
  if (token == msg.end() || !token->is_string()) return {std::nullopt, 401, "\"token\" missing"};
  std::optional<core::TenantId> requested = fallback;
  if (const auto t = msg.find("tenant"); t != msg.end()) {
    if (!t->is_number_integer()) return {std::nullopt, 400, "\"tenant\" must be an integer"};
    requested = t->get<core::TenantId>();
  }
  return check_token(token->get_ref<const std::string&>(), requested);
}

Session::Session(Hub& hub, core::TenantId tenant)
    : hub_(hub.state_.get()), tenant_(tenant), queue_(hub_->opts.session_queue) {}

Session::~Session() { finish(); }

void Session::detach() noexcept {
  finish();
  hub_ = nullptr;
}

void Session::open(std::string_view target) {
  if (hub_ == nullptr || registered_) return;
  hub_->sessions.insert(this);
  hub_->connections.add(1);
  registered_ = true;
  const auto qmark = target.find('?');
  if (qmark == std::string_view::npos) return;
  const auto query = http::parse_query(target.substr(qmark + 1));
  if (const auto it = query.find("since"); it != query.end()) {
    if (const auto since = parse_seq(it->second)) {
      replay_alerts(*since);
    } else {
      reply(error_frame(hub_->next_seq(), "since must be a seq number"));
    }
  }
}

void Session::finish() noexcept {
  if (hub_ == nullptr || !registered_) return;
  registered_ = false;
  for (const auto& topic : topics_) unsubscribe(topic);
  topics_.clear();
  hub_->sessions.erase(this);
  hub_->connections.add(-1);
}

void Session::deliver_reading(std::string_view key, const Text& text) {
  if (hub_ == nullptr || overflowed_) return;
  const auto result = queue_.push_reading(key, text);
  if (result == OutQueue::Result::coalesced || result == OutQueue::Result::dropped) {
    hub_->dropped.inc();
  }
  wake();
}

void Session::deliver(const Text& text) {
  if (hub_ == nullptr || overflowed_) return;
  switch (queue_.push(text)) {
    case OutQueue::Result::overflow:
      // An alert the client cannot take: better closed than silently wrong.
      hub_->slow_closes.inc();
      overflowed_ = true;
      close(CloseCode::policy, "too slow to take alerts");
      return;
    case OutQueue::Result::dropped:
      hub_->dropped.inc();
      break;
    default:
      break;
  }
  wake();
}

void Session::reply(std::string text) {
  deliver(std::make_shared<const std::string>(std::move(text)));
}

void Session::handle_message(std::string_view text) {
  if (hub_ == nullptr) return;
  const auto msg = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded() || !msg.is_object()) {
    reply(error_frame(hub_->next_seq(), "invalid JSON: expected an object"));
    return;
  }
  const auto op_it = msg.find("op");
  if (op_it == msg.end() || !op_it->is_string()) {
    reply(error_frame(hub_->next_seq(), "missing \"op\""));
    return;
  }
  const auto& op = op_it->get_ref<const std::string&>();
  if (op == "subscribe" || op == "unsubscribe") {
    const auto topics = msg.find("topics");
    if (topics == msg.end() || !topics->is_array()) {
      reply(error_frame(hub_->next_seq(), "\"topics\" must be an array of strings"));
      return;
    }
    for (const auto& t : *topics) {
      if (!t.is_string()) {
        reply(error_frame(hub_->next_seq(), "\"topics\" must be an array of strings"));
        continue;
      }
      const auto& topic = t.get_ref<const std::string&>();
      if (op == "subscribe") {
        subscribe(topic);
      } else if (topics_.erase(topic) == 1) {
        unsubscribe(topic);
      }
    }
  } else if (op == "ping") {
    reply(bare_frame(hub_->next_seq(), "pong"));
  } else if (op == "resume") {
    const auto since = msg.find("since");
    if (since == msg.end() || !since->is_number_unsigned()) {
      reply(error_frame(hub_->next_seq(), "\"since\" must be a seq number"));
      return;
    }
    replay_alerts(since->get<std::uint64_t>());
  } else if (op == "auth") {
    // Without an authenticator there is no token to renew.
    if (auth_required()) renew(text);
  } else {
    reply(error_frame(hub_->next_seq(), "unknown op: " + op));
  }
}

void Session::renew(std::string_view text) {
  const WsAuth verdict = check_auth_message(text, tenant_);
  if (const auto refusal = renewal_refusal(verdict, tenant_)) {
    close(CloseCode::policy, *refusal);
    return;
  }
  arm_expiry(verdict.expires_us);
}

void Session::subscribe(const std::string& topic) {
  bool known = false;
  auto& index = hub_->tenant(tenant_);
  SessionSet* set = topic_set(index, topic, known);
  if (!known) {
    reply(error_frame(hub_->next_seq(), "unknown topic: " + topic));
    return;
  }
  if (topics_.contains(topic)) return;
  if (topics_.size() >= kMaxTopics) {
    reply(error_frame(hub_->next_seq(), "too many topics"));
    return;
  }
  topics_.insert(topic);
  if (set == nullptr) set = &index.by_device[topic.substr(kReadingsPrefix.size())];
  set->insert(this);
}

void Session::unsubscribe(const std::string& topic) {
  bool known = false;
  auto& index = hub_->tenant(tenant_);
  if (SessionSet* set = topic_set(index, topic, known)) {
    set->erase(this);
    return;
  }
  if (!known) return;
  const auto it = index.by_device.find(std::string_view(topic).substr(kReadingsPrefix.size()));
  if (it == index.by_device.end()) return;
  it->second.erase(this);
  // An empty entry would make wants_readings() answer yes for nobody.
  if (it->second.empty()) index.by_device.erase(it);
}

void Session::replay_alerts(std::uint64_t since) {
  const auto& index = hub_->tenant(tenant_);
  if (since < hub_->first_seq || since < index.evicted_seq || since > hub_->seq) {
    reply(bare_frame(hub_->next_seq(), "resync"));
    return;
  }
  for (const auto& [seq, text] : index.alert_ring) {
    if (seq > since) deliver(text);
  }
}

}  // namespace peregrine::realtime
