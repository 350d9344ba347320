// libFuzzer target: any bytes as an MQTT telemetry payload. The decoder must
// never crash, read out of bounds or leave `out` half-filled on rejection.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <peregrine/ingest/telemetry_decoder.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static peregrine::ingest::TelemetryDecoder decoder({.max_entries = 64, .max_metrics = 32});
  static peregrine::ingest::DecodedTelemetry out;
  const std::string payload = peregrine::ingest::make_padded(
      std::string_view(reinterpret_cast<const char*>(data), size));
  const auto reason = decoder.decode(payload, 1'700'000'000'000'000, out);
  if (reason != peregrine::ingest::RejectReason::none) {
    if (!out.entries.empty() || !out.values.empty()) std::abort();
    return 0;
  }
  for (const auto& e : out.entries) {
    if (e.first + e.count > out.values.size()) std::abort();
    for (const auto& v : out.reading(e).values) {
      if (v.name.empty()) std::abort();
    }
  }
  return 0;
}
