#pragma once
/// Notification channels (CONTRACT.md "notification channels") as data:
/// validation of what operators send, the masked form GET shows, and the
/// messages rendered from an alert event. Pure; any thread.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace peregrine::notifications {

/// What GET shows in place of a write-only field that is set.
inline constexpr std::string_view kMasked = "********";

/// A channel's stored form: `config` may be shown, `secrets` never.
struct ChannelSpec {
  std::string name;
  std::string type;  ///< webhook, email, sms, voice
  nlohmann::json config = nlohmann::json::object();
  nlohmann::json secrets = nlohmann::json::object();
};

struct ChannelError {
  std::string field, message;
};

/// Validates a POST body (`current` null: every required field) or a PATCH
/// merged onto `current` (the type cannot change; a write-only field sent as
/// kMasked, or left out, keeps its stored value). Sets `error` and returns
/// nullopt when invalid.
std::optional<ChannelSpec> parse_channel(const nlohmann::json& body, const ChannelSpec* current,
                                         ChannelError& error);

/// The channel's fields as the API shows them: config, plus each write-only
/// field of its type as kMasked when set and null when not.
nlohmann::json public_fields(const ChannelSpec& spec);

/// The write-only fields of each type.
bool is_secret_field(std::string_view type, std::string_view field);

/// Texts for one alert event (`{"event", "alert"}` as event_payload builds).
struct Message {
  std::string subject;  ///< email subject
  std::string text;     ///< email plain-text body
  std::string html;     ///< email HTML body
  std::string sms;      ///< one SMS (at most 320 characters)
  std::string twiml;    ///< `<Response><Say>…</Say></Response>` for a voice call
};
Message render(const nlohmann::json& payload);

/// A test message's payload: an alert-shaped object that says it is a test.
nlohmann::json test_payload(std::string_view channel_name, const std::string& public_url);

}  // namespace peregrine::notifications
