// TelemetryDecoder throughput: one typical 4-metric message, and a 50-entry
// batch as a gateway would publish it. items/s counts readings (entries).
#include <string>

#include <benchmark/benchmark.h>

#include <peregrine/ingest/telemetry_decoder.hpp>

namespace {

using peregrine::ingest::DecodedTelemetry;
using peregrine::ingest::RejectReason;
using peregrine::ingest::TelemetryDecoder;

constexpr peregrine::core::Micros kArrival = 1'763'800'000'000'000;

std::string entry(int i) {
  return R"({"ts":)" + std::to_string(1763800000123LL + i) + R"(,"seq":)" + std::to_string(41 + i) +
         R"(,"co":3.1,"no2":0.042,"temperature":21.5,"humidity":48.25})";
}

void run(benchmark::State& state, const std::string& json) {
  const std::string payload = peregrine::ingest::make_padded(json);
  TelemetryDecoder decoder;
  DecodedTelemetry out;
  std::size_t readings = 0;
  for (auto _ : state) {
    if (decoder.decode(payload, kArrival, out) != RejectReason::none) {
      state.SkipWithError("rejected");
      break;
    }
    readings += out.entries.size();
    benchmark::DoNotOptimize(out.values.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(readings));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
  state.counters["ns/message"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DecodeSingle(benchmark::State& state) { run(state, entry(0)); }

void BM_DecodeArray50(benchmark::State& state) {
  std::string json = "[";
  for (int i = 0; i < 50; ++i) json += (i ? "," : "") + entry(i);
  json += "]";
  run(state, json);
}

void BM_DecodeFractionalTsRfc3339(benchmark::State& state) {
  run(state, R"([{"ts":1763800000123.456,"co":3.1,"on":true,"fw":"1.2.3"},)"
             R"({"ts":"2025-11-22T08:26:40.123+00:00","co":3.2,"on":false}])");
}

}  // namespace

BENCHMARK(BM_DecodeSingle);
BENCHMARK(BM_DecodeArray50);
BENCHMARK(BM_DecodeFractionalTsRfc3339);
BENCHMARK_MAIN();
