#include "realtime/frames.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace peregrine::realtime {
namespace {

TEST(Frames, ReadingIsBuiltByHand) {
  const std::vector<core::MetricValue> values{{"co", 3.1}, {"temperature", -21.5}, {"n", 7}};
  core::Reading r;
  r.ts_us = 1'763'800'000'123'000;
  r.values = values;
  EXPECT_EQ(reading_frame(12, "d1", r),
            R"({"seq":12,"type":"reading","device":"d1","ts":"2025-11-22T08:26:40.123Z",)"
            R"("values":{"co":3.1,"temperature":-21.5,"n":7}})");
}

TEST(Frames, NonFiniteBecomesNullAndStringsAreEscaped) {
  const std::vector<core::MetricValue> values{{"x", std::nan("")}};
  core::Reading r;
  r.values = values;
  const auto json = nlohmann::json::parse(reading_frame(1, "a\"b", r));
  EXPECT_TRUE(json["values"]["x"].is_null());
  EXPECT_EQ(json["device"], "a\"b");
}

TEST(Frames, OtherFrames) {
  EXPECT_EQ(presence_frame(3, "d9", false),
            R"({"seq":3,"type":"device","device":"d9","online":false})");
  EXPECT_EQ(object_frame(4, "alert", {{"id", 1}}), R"({"seq":4,"type":"alert","alert":{"id":1}})");
  EXPECT_EQ(bare_frame(5, "pong"), R"({"seq":5,"type":"pong"})");
  EXPECT_EQ(error_frame(6, "bad \xff"), "{\"seq\":6,\"type\":\"error\",\"detail\":\"bad \xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace peregrine::realtime
