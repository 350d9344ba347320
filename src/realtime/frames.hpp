#pragma once
/// Server → client WebSocket frames (CONTRACT.md), each one JSON object with
/// `seq` first. Readings are written by hand (they are the hot path); the
/// rest wrap nlohmann values. Pure functions, any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include <peregrine/core/types.hpp>

namespace peregrine::realtime {

/// `{"seq":N,"type":"reading","device":"d1","ts":"…","values":{"co":3.1}}`
std::string reading_frame(std::uint64_t seq, std::string_view device, const core::Reading& r);
/// `{"seq":N,"type":"device","device":"d1","online":true}`
std::string presence_frame(std::uint64_t seq, std::string_view device, bool online);
/// `{"seq":N,"type":"<type>","<type>":{…}}` (alert, job).
std::string object_frame(std::uint64_t seq, std::string_view type, const nlohmann::json& obj);
/// `{"seq":N,"type":"<type>"}` (pong, resync).
std::string bare_frame(std::uint64_t seq, std::string_view type);
/// `{"seq":N,"type":"error","detail":"…"}`
std::string error_frame(std::uint64_t seq, std::string_view detail);

/// JSON string literal of `s`, quotes included.
void append_json_string(std::string& out, std::string_view s);
/// Shortest round-trip form; `null` for NaN and infinities.
void append_json_number(std::string& out, double v);

}  // namespace peregrine::realtime
