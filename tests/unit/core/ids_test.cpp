#include <peregrine/core/ids.hpp>

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace peregrine::core {
namespace {

TEST(Ids, DeviceIdAcceptsContractAlphabet) {
  EXPECT_TRUE(valid_device_id("d1"));
  EXPECT_TRUE(valid_device_id("Plant-7.sensor_03"));
  EXPECT_TRUE(valid_device_id(std::string(64, 'a')));
}

TEST(Ids, DeviceIdRejects) {
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id(std::string(65, 'a')));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("a b"));
  EXPECT_FALSE(valid_device_id("+"));
  EXPECT_FALSE(valid_device_id("#"));
  EXPECT_FALSE(valid_device_id("caf\xc3\xa9"));
}

TEST(Ids, MetricName) {
  EXPECT_TRUE(valid_metric_name("co"));
  EXPECT_TRUE(valid_metric_name("Temp_2"));
  EXPECT_TRUE(valid_metric_name(std::string(64, 'x')));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name(std::string(65, 'x')));
  EXPECT_FALSE(valid_metric_name("a.b"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace peregrine::core
