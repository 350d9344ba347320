#include "sim/command_responder.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace peregrine::sim {
namespace {

TEST(CommandTopic, DeviceOfCommandsTopic) {
  EXPECT_EQ(command_topic_device("devices/sim-0001/commands"), "sim-0001");
  EXPECT_EQ(command_topic_device("devices/a.b_c-d/commands"), "a.b_c-d");
}

TEST(CommandTopic, OtherTopicsAreNotCommands) {
  EXPECT_FALSE(command_topic_device("devices//commands"));
  EXPECT_FALSE(command_topic_device("devices/commands"));
  EXPECT_FALSE(command_topic_device("devices/d1/commands/ack"));
  EXPECT_FALSE(command_topic_device("devices/d1/config"));
  EXPECT_FALSE(command_topic_device("devices/a/b/commands"));
  EXPECT_FALSE(command_topic_device("sensors/d1/commands"));
}

TEST(ParseCommand, TakesIdAndName) {
  auto c = parse_command(R"({"id":"x1","name":"ping","params":{"a":1}})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, "x1");
  EXPECT_EQ(c->name, "ping");
  ASSERT_TRUE(parse_command(R"({"id":"x2","name":"reboot"})")) << "params is optional";
}

TEST(ParseCommand, RejectsMalformed) {
  for (const char* p : {"", "not json", "[1,2]", "\"x\"", "{}", R"({"id":"x"})",
                        R"({"name":"ping"})", R"({"id":1,"name":"ping"})",
                        R"({"id":"x","name":7})", R"({"id":"","name":"ping"})",
                        R"({"id":"x","name":""})", R"({"id":"x","name":"ping","params":[]})",
                        R"({"id":"x","name":"ping"} trailing)", "{\"id\":\"\xff\",\"name\":\"p\"}"}) {
    EXPECT_FALSE(parse_command(p)) << p;
  }
  std::string big = R"({"id":"x","name":"ping","params":{"pad":")" +
                    std::string(kMaxCommandPayload, 'a') + "\"}}";
  EXPECT_FALSE(parse_command(big));
}

nlohmann::json ack_of(const Reply& r) { return nlohmann::json::parse(r.payload); }

TEST(CommandResponder, AllOkByDefault) {
  CommandResponder responder(0, 0, 1);
  for (int i = 0; i < 200; ++i) {
    auto r = responder.respond({"c" + std::to_string(i), "ping"});
    ASSERT_EQ(r.outcome, Outcome::ok);
    EXPECT_GE(r.delay, CommandResponder::kMinDelay);
    EXPECT_LE(r.delay, CommandResponder::kMaxDelay);
    auto ack = ack_of(r);
    EXPECT_EQ(ack["id"], "c" + std::to_string(i));
    EXPECT_EQ(ack["status"], "ok");
    EXPECT_TRUE(ack["detail"].is_string());
  }
}

TEST(CommandResponder, FailOneAcksEveryCommandWithError) {
  CommandResponder responder(1, 0, 7);
  for (int i = 0; i < 200; ++i) {
    auto r = responder.respond({"c", "open_valve"});
    ASSERT_EQ(r.outcome, Outcome::error);
    auto ack = ack_of(r);
    EXPECT_EQ(ack["status"], "error");
    EXPECT_NE(ack["detail"].get<std::string>().find("open_valve failed"), std::string::npos);
  }
}

TEST(CommandResponder, SilentOneNeverAcks) {
  CommandResponder responder(0, 1, 7);
  for (int i = 0; i < 200; ++i) {
    auto r = responder.respond({"c", "ping"});
    ASSERT_EQ(r.outcome, Outcome::silent);
    EXPECT_TRUE(r.payload.empty());
  }
}

TEST(CommandResponder, FractionsHoldOverManyCommands) {
  CommandResponder responder(0.2, 0.1, 42);
  int ok = 0, error = 0, silent = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    switch (responder.respond({"c", "ping"}).outcome) {
      case Outcome::ok: ++ok; break;
      case Outcome::error: ++error; break;
      case Outcome::silent: ++silent; break;
    }
  }
  // Fixed seed: deterministic; the bounds are ~5 standard deviations wide.
  EXPECT_NEAR(error, 0.2 * kN, 300);
  EXPECT_NEAR(silent, 0.1 * kN, 220);
  EXPECT_EQ(ok + error + silent, kN);
}

TEST(CommandResponder, SameSeedSameDecisions) {
  CommandResponder a(0.3, 0.3, 9), b(0.3, 0.3, 9);
  for (int i = 0; i < 100; ++i) {
    auto ra = a.respond({"c", "ping"});
    auto rb = b.respond({"c", "ping"});
    ASSERT_EQ(ra.outcome, rb.outcome);
    EXPECT_EQ(ra.delay, rb.delay);
    EXPECT_EQ(ra.payload, rb.payload);
  }
}

TEST(CommandResponder, EchoesIdVerbatim) {
  CommandResponder responder(0, 0, 1);
  auto id = std::string("3f2c\"quote\\back") + "\xc3\xa9";
  auto ack = ack_of(responder.respond({id, "ping"}));
  EXPECT_EQ(ack["id"], id);
}

TEST(ConfigReply, AppliesOrRefusesWhatHasAFailKey) {
  EXPECT_EQ(config_topic_device("devices/sim-0001/config"), "sim-0001");
  EXPECT_FALSE(config_topic_device("devices/sim-0001/config/applied"));
  EXPECT_FALSE(config_topic_device("devices//config"));
  EXPECT_FALSE(config_topic_device("devices/a/b/config"));
  const auto ok = config_reply(R"({"version":3,"config":{"interval_s":5}})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(nlohmann::json::parse(*ok), nlohmann::json({{"version", 3}}));
  const auto refused = config_reply(R"({"version":4,"config":{"fail":true}})");
  ASSERT_TRUE(refused);
  const auto r = nlohmann::json::parse(*refused);
  EXPECT_EQ(r["version"], 4);
  EXPECT_FALSE(r.value("error", "").empty());
  for (const char* bad : {"", "[]", R"({"version":"3","config":{}})", R"({"version":3})",
                          R"({"version":3,"config":[]})"})
    EXPECT_FALSE(config_reply(bad)) << bad;
}

}  // namespace
}  // namespace peregrine::sim
