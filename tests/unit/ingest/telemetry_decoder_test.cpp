#include <peregrine/ingest/telemetry_decoder.hpp>

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace peregrine::ingest {
namespace {

constexpr core::Micros kArrival = 1'763'800'000'000'000;

class TelemetryDecoderTest : public ::testing::Test {
 protected:
  RejectReason decode(std::string_view json) {
    buf_ = make_padded(json);
    return decoder_.decode(buf_, kArrival, out_);
  }
  // Decodes and checks that a rejection leaves nothing behind.
  RejectReason reject(std::string_view json) {
    auto r = decode(json);
    EXPECT_NE(r, RejectReason::none) << json;
    EXPECT_TRUE(out_.entries.empty()) << json;
    EXPECT_TRUE(out_.values.empty()) << json;
    return r;
  }
  double metric(std::size_t entry, std::string_view name) const {
    for (const auto& v : out_.reading(out_.entries.at(entry)).values) {
      if (v.name == name) return v.value;
    }
    ADD_FAILURE() << "no metric " << name;
    return -1;
  }

  TelemetryDecoder decoder_{DecodeLimits{.max_entries = 4, .max_metrics = 3}};
  DecodedTelemetry out_;
  std::string buf_;
};

TEST_F(TelemetryDecoderTest, ContractExample) {
  ASSERT_EQ(decode(R"({"ts": 1763800000123, "seq": 41, "co": 3.1, "temperature": 21.5})"),
            RejectReason::none);
  ASSERT_EQ(out_.entries.size(), 1u);
  auto r = out_.reading(out_.entries[0]);
  EXPECT_EQ(r.ts_us, 1'763'800'000'123'000);
  EXPECT_TRUE(r.ts_given);
  EXPECT_EQ(r.seq, 41);
  ASSERT_EQ(r.values.size(), 2u);
  EXPECT_EQ(r.values[0].name, "co");
  EXPECT_DOUBLE_EQ(r.values[0].value, 3.1);
  EXPECT_EQ(r.values[1].name, "temperature");
  EXPECT_DOUBLE_EQ(r.values[1].value, 21.5);
}

TEST_F(TelemetryDecoderTest, NamesPointIntoPayload) {
  ASSERT_EQ(decode(R"({"co": 1})"), RejectReason::none);
  const char* name = out_.values[0].name.data();
  EXPECT_GE(name, buf_.data());
  EXPECT_LT(name, buf_.data() + buf_.size());
}

TEST_F(TelemetryDecoderTest, AbsentTsUsesArrivalAndSeqIsOptional) {
  ASSERT_EQ(decode(R"({"co": 2})"), RejectReason::none);
  auto r = out_.reading(out_.entries[0]);
  EXPECT_EQ(r.ts_us, kArrival);
  EXPECT_FALSE(r.ts_given);
  EXPECT_FALSE(r.seq.has_value());
}

TEST_F(TelemetryDecoderTest, ArrayOfObjects) {
  ASSERT_EQ(decode(R"([{"ts": 1000, "co": 1}, {"co": 2, "no2": 3}, {"seq": 0, "x": -4e2}])"),
            RejectReason::none);
  ASSERT_EQ(out_.entries.size(), 3u);
  EXPECT_EQ(out_.entries[0].ts_us, 1'000'000);
  EXPECT_EQ(out_.entries[1].ts_us, kArrival);
  EXPECT_EQ(out_.entries[2].seq, 0);
  EXPECT_DOUBLE_EQ(metric(1, "no2"), 3);
  EXPECT_DOUBLE_EQ(metric(2, "x"), -400);
  EXPECT_EQ(out_.reading(out_.entries[1]).values.size(), 2u);
}

TEST_F(TelemetryDecoderTest, TooManyEntriesOrMetrics) {
  EXPECT_EQ(decode(R"([{"a":1},{"a":1},{"a":1},{"a":1}])"), RejectReason::none);
  EXPECT_EQ(reject(R"([{"a":1},{"a":1},{"a":1},{"a":1},{"a":1}])"), RejectReason::too_many_metrics);
  EXPECT_EQ(decode(R"({"a":1,"b":2,"c":3})"), RejectReason::none);
  EXPECT_EQ(reject(R"({"a":1,"b":2,"c":3,"d":4})"), RejectReason::too_many_metrics);
  // Ignored members do not count.
  EXPECT_EQ(decode(R"({"a":1,"b":2,"c":3,"s":"x","n":null,"ts":5,"seq":1})"), RejectReason::none);
}

TEST_F(TelemetryDecoderTest, Rfc3339Ts) {
  ASSERT_EQ(decode(R"({"ts": "2025-11-22T08:26:40.123Z", "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].ts_us, 1'763'800'000'123'000);
  ASSERT_EQ(decode(R"({"ts": "2025-11-22T10:26:40.123456+02:00", "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].ts_us, 1'763'800'000'123'456);
  EXPECT_TRUE(out_.entries[0].ts_given);
  EXPECT_EQ(reject(R"({"ts": "yesterday", "co": 1})"), RejectReason::bad_ts);
}

TEST_F(TelemetryDecoderTest, FractionalMsTsKeepsMicroseconds) {
  ASSERT_EQ(decode(R"({"ts": 1763800000123.456, "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].ts_us, 1'763'800'000'123'456);
  ASSERT_EQ(decode(R"({"ts": 1.763800000123e12, "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].ts_us, 1'763'800'000'123'000);
}

TEST_F(TelemetryDecoderTest, ImplausibleTsRejected) {
  for (auto json :
       {R"({"ts": -1, "co": 1})", R"({"ts": -1.5, "co": 1})", R"({"ts": 253402300800000, "co": 1})",
        R"({"ts": 1e300, "co": 1})", R"({"ts": 1e400, "co": 1})",
        R"({"ts": 18446744073709551615, "co": 1})", R"({"ts": true, "co": 1})",
        R"({"ts": null, "co": 1})", R"({"ts": [1], "co": 1})", R"({"ts": {}, "co": 1})"}) {
    EXPECT_EQ(reject(json), RejectReason::bad_ts) << json;
  }
  EXPECT_EQ(decode(R"({"ts": 253402300799999, "co": 1})"), RejectReason::none);
}

TEST_F(TelemetryDecoderTest, SeqMustBeNonNegativeInteger) {
  ASSERT_EQ(decode(R"({"seq": 9223372036854775807, "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].seq, INT64_MAX);
  for (auto json :
       {R"({"seq": -1, "co": 1})", R"({"seq": 1.0, "co": 1})", R"({"seq": 1e3, "co": 1})",
        R"({"seq": "7", "co": 1})", R"({"seq": 9223372036854775808, "co": 1})",
        R"({"seq": true, "co": 1})", R"({"seq": null, "co": 1})", R"({"seq": [], "co": 1})"}) {
    EXPECT_EQ(reject(json), RejectReason::bad_seq) << json;
  }
}

TEST_F(TelemetryDecoderTest, NumberKinds) {
  ASSERT_EQ(decode(R"({"i": -7, "u": 18446744073709551615, "d": 2.5e-3})"), RejectReason::none);
  EXPECT_DOUBLE_EQ(metric(0, "i"), -7);
  EXPECT_DOUBLE_EQ(metric(0, "u"), 18446744073709551615.0);
  EXPECT_DOUBLE_EQ(metric(0, "d"), 0.0025);
  ASSERT_EQ(decode(R"({"big": 123456789012345678901234567890})"), RejectReason::none);
  EXPECT_DOUBLE_EQ(metric(0, "big"), 1.2345678901234568e29);
  EXPECT_EQ(reject(R"({"huge": 1e400})"), RejectReason::bad_value);
  EXPECT_EQ(reject(R"({"huge": -1e400})"), RejectReason::bad_value);
}

TEST_F(TelemetryDecoderTest, BooleansAreZeroOrOne) {
  ASSERT_EQ(decode(R"({"door_open": true, "alarm": false})"), RejectReason::none);
  EXPECT_DOUBLE_EQ(metric(0, "door_open"), 1);
  EXPECT_DOUBLE_EQ(metric(0, "alarm"), 0);
}

TEST_F(TelemetryDecoderTest, StringsAndNullIgnored) {
  ASSERT_EQ(decode(R"({"fw": "1.2.3", "note": "h\u00e9llo \"w\" ☃ 🚀", "x": null, "co": 4})"),
            RejectReason::none);
  ASSERT_EQ(out_.values.size(), 1u);
  EXPECT_EQ(out_.values[0].name, "co");
  EXPECT_EQ(reject(R"({"fw": "1.2.3"})"), RejectReason::no_metrics);
}

TEST_F(TelemetryDecoderTest, ContainersAsValuesRejected) {
  EXPECT_EQ(reject(R"({"co": [1, 2]})"), RejectReason::bad_value);
  EXPECT_EQ(reject(R"({"co": 1, "nested": {"a": 1}})"), RejectReason::bad_value);
  EXPECT_EQ(reject(R"([{"co": 1}, {"co": {"a": 1}}])"), RejectReason::bad_value);
}

TEST_F(TelemetryDecoderTest, MetricNames) {
  EXPECT_EQ(decode(R"({"Temp_2": 1})"), RejectReason::none);
  EXPECT_EQ(decode(std::string(R"({")") + std::string(64, 'a') + R"(": 1})"), RejectReason::none);
  for (auto json : {R"({"": 1})", R"({"co2 ppm": 1})", R"({"a.b": 1})", R"({"é": 1})",
                    R"({"c\u006f": 1})", R"({"a\"b": 1})"}) {
    EXPECT_EQ(reject(json), RejectReason::bad_metric_name) << json;
  }
  EXPECT_EQ(reject(std::string(R"({")") + std::string(65, 'a') + R"(": 1})"),
            RejectReason::bad_metric_name);
  // Names are validated even when the value would be ignored.
  EXPECT_EQ(reject(R"({"co": 1, "bad name": "x"})"), RejectReason::bad_metric_name);
}

TEST_F(TelemetryDecoderTest, EscapedTsAndSeqKeysRecognised) {
  ASSERT_EQ(decode(R"({"t\u0073": 1000, "s\u0065q": 3, "co": 1})"), RejectReason::none);
  EXPECT_EQ(out_.entries[0].ts_us, 1'000'000);
  EXPECT_EQ(out_.entries[0].seq, 3);
  // Case matters: "TS" is an ordinary metric.
  ASSERT_EQ(decode(R"({"TS": 1})"), RejectReason::none);
  EXPECT_FALSE(out_.entries[0].ts_given);
}

TEST_F(TelemetryDecoderTest, DuplicateKeysLastWins) {
  ASSERT_EQ(decode(R"({"co": 1, "ts": 1000, "co": 2, "seq": 1, "ts": 2000, "seq": 2})"),
            RejectReason::none);
  ASSERT_EQ(out_.values.size(), 1u);
  EXPECT_DOUBLE_EQ(metric(0, "co"), 2);
  EXPECT_EQ(out_.entries[0].ts_us, 2'000'000);
  EXPECT_EQ(out_.entries[0].seq, 2);
  // Duplicates do not count twice against max_metrics (3).
  EXPECT_EQ(decode(R"({"a":1,"b":2,"c":3,"a":4})"), RejectReason::none);
}

TEST_F(TelemetryDecoderTest, NoMetrics) {
  EXPECT_EQ(reject("{}"), RejectReason::no_metrics);
  EXPECT_EQ(reject("[]"), RejectReason::no_metrics);
  EXPECT_EQ(reject(R"({"ts": 1000, "seq": 1})"), RejectReason::no_metrics);
  EXPECT_EQ(reject(R"([{"co": 1}, {"ts": 1000}])"), RejectReason::no_metrics);
}

TEST_F(TelemetryDecoderTest, NotObject) {
  for (auto json : {"42", "\"co\"", "true", "null", "[1]", "[{\"co\":1}, 2]", "[[{\"co\":1}]]"}) {
    EXPECT_EQ(reject(json), RejectReason::not_object) << json;
  }
}

TEST_F(TelemetryDecoderTest, MalformedJson) {
  for (auto json : {"",
                    "   ",
                    "{",
                    "{\"co\": 1",
                    "{\"co\": }",
                    "{\"co\" 1}",
                    "{co: 1}",
                    "{\"co\": 1,}",
                    "{\"co\": 01}",
                    "{\"co\": 1.}",
                    "{\"co\": -}",
                    "{\"co\": .5}",
                    "{\"co\": NaN}",
                    "{\"co\": Infinity}",
                    "{\"co\": -Infinity}",
                    "{\"co\": nan}",
                    "{\"co\": tru}",
                    "{\"co\": nul}",
                    "{\"co\": 'x'}",
                    "{\"co\": \"\\x\"}",
                    "{\"co\": 1} x",
                    "{\"co\": 1}}",
                    "{\"co\": 1}{\"co\": 2}",
                    "[{\"co\": 1}] ,",
                    "[{\"co\": 1}",
                    "\xff\xfe",
                    "{\"co\": \"\xc3\x28\"}"}) {
    EXPECT_EQ(reject(json), RejectReason::malformed_json) << json;
  }
  EXPECT_EQ(decode(" \n{\"co\": 1}\r\n\t "), RejectReason::none);
}

TEST_F(TelemetryDecoderTest, DeepNestingDoesNotCrash) {
  std::string arrays(100'000, '[');
  arrays += std::string(100'000, ']');
  EXPECT_NE(reject(arrays), RejectReason::none);
  std::string objects;
  for (int i = 0; i < 50'000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(50'000, '}');
  EXPECT_NE(reject(objects), RejectReason::none);
}

TEST_F(TelemetryDecoderTest, ReuseAfterErrorAndSuccess) {
  ASSERT_EQ(decode(R"([{"a":1,"b":2},{"c":3}])"), RejectReason::none);
  EXPECT_EQ(reject(R"([{"a":1},{"b":"x"}])"), RejectReason::no_metrics);
  ASSERT_EQ(decode(R"({"z":9})"), RejectReason::none);
  ASSERT_EQ(out_.entries.size(), 1u);
  EXPECT_EQ(out_.entries[0].first, 0u);
  EXPECT_DOUBLE_EQ(metric(0, "z"), 9);
}

TEST_F(TelemetryDecoderTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(20251122);
  const std::string alphabet =
      "{}[]\":,0123456789.-+eE tnrufalsNI\\\x01\xff\xc3"
      "aA_";
  const std::string seed = R"([{"ts":1763800000123.5,"seq":4,"co":3.1,"on":true,"s":"x\u00e9"}])";
  int accepted = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string json;
    if (i % 2 == 0) {
      std::size_t len = rng() % 64;
      for (std::size_t k = 0; k < len; ++k) json += alphabet[rng() % alphabet.size()];
    } else {
      json = seed;  // mutate a valid message a little
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
        std::size_t pos = rng() % json.size();
        switch (rng() % 3) {
          case 0:
            json[pos] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            json.erase(pos, 1);
            break;
          default:
            json.insert(pos, 1, alphabet[rng() % alphabet.size()]);
        }
      }
    }
    auto r = decode(json);
    if (r == RejectReason::none) {
      ++accepted;
      EXPECT_FALSE(out_.entries.empty());
    } else {
      EXPECT_TRUE(out_.entries.empty() && out_.values.empty());
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace peregrine::ingest

TEST(TelemetryDecoderScalars, BareWordsAreMalformedNotScalars) {
  peregrine::ingest::TelemetryDecoder decoder;
  peregrine::ingest::DecodedTelemetry out;
  using peregrine::ingest::RejectReason;
  auto decode = [&](std::string_view text) {
    const std::string p = peregrine::ingest::make_padded(text);
    return decoder.decode(p, 1, out);
  };
  EXPECT_EQ(decode("not json"), RejectReason::malformed_json);
  EXPECT_EQ(decode("nul"), RejectReason::malformed_json);
  EXPECT_EQ(decode("truex"), RejectReason::malformed_json);
  EXPECT_EQ(decode("null"), RejectReason::not_object);
  EXPECT_EQ(decode("42"), RejectReason::not_object);
  EXPECT_EQ(decode("\"text\""), RejectReason::not_object);
  EXPECT_EQ(decode("[nope]"), RejectReason::malformed_json);
  EXPECT_EQ(decode("[1]"), RejectReason::not_object);
}

namespace peregrine::ingest {
namespace {

// ESP32 firmware names itself in the body and uses its own metric case.
TEST(TelemetryDecoderDeviceId, AStringDeviceIdIsKeptAsideAndMetricsKeepTheirCase) {
  TelemetryDecoder decoder;
  DecodedTelemetry out;
  const std::string buf = make_padded(R"({"device_id":"esp32-1","Temp":22.1,"Hum":41,"CO":12})");
  ASSERT_EQ(decoder.decode(buf, kArrival, out), RejectReason::none);
  EXPECT_EQ(out.device_id, "esp32-1");
  ASSERT_EQ(out.entries.size(), 1u);
  const auto r = out.reading(out.entries[0]);
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.values[0].name, "Temp");
  EXPECT_EQ(r.values[2].name, "CO");
  // Without one the field is empty again (the decoder is reused).
  const std::string plain = make_padded(R"({"co":1})");
  ASSERT_EQ(decoder.decode(plain, kArrival, out), RejectReason::none);
  EXPECT_TRUE(out.device_id.empty());
}

}  // namespace
}  // namespace peregrine::ingest
