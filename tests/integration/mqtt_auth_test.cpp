// Device logins on a real Mosquitto with authentication on and the ACL of
// scripts/lib/mosquitto_auth.sh: Peregrine writes the password file from the
// registry and makes the broker reload it. A device publishes its own
// telemetry, cannot publish under another device's topic, cannot read
// another device's commands; a rotated token stops working.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <mqtt/client.h>

#include "auth_fixture.hpp"
#include "support/mosquitto_process.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kBrokerUser = "peregrine-itest";
constexpr const char* kBrokerPassword = "broker-password-1";

// A Mosquitto of this test, configured by scripts/lib/mosquitto_auth.sh.
class AuthBroker {
 public:
  AuthBroker() : broker_("/tmp/peregrine-mqtt-auth-") {
    const std::string lib = std::string(PEREGRINE_SOURCE_DIR) + "/scripts/lib/mosquitto_auth.sh";
    std::ofstream(broker_.conf_file()) << broker_.base_conf();
    const std::string cmd = "bash -c 'source " + lib + " && mosquitto_auth_setup " + broker_.dir() +
                            " " + kBrokerUser + " " + kBrokerPassword + " && mosquitto_auth_conf " +
                            broker_.dir() + " >> " + broker_.conf_file() + "'";
    ok_ = std::system(cmd.c_str()) == 0 && broker_.start();
  }
  bool ok() const { return ok_; }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(broker_.port()); }
  std::string passwd_file() const { return broker_.dir() + "/mosquitto.passwd"; }
  std::string pid_file() const { return broker_.pid_file(); }
  std::string log() const { return broker_.log(); }

 private:
  MosquittoProcess broker_;
  bool ok_ = false;
};

// A device (or Peregrine) logged in to the broker: Paho's blocking client.
class Login {
 public:
  Login(const std::string& url, const std::string& user, const std::string& password)
      : client_(url, "itest-" + user + "-" + random_hex(4)) {
    auto opts = mqtt::connect_options_builder()
                    .user_name(user)
                    .password(password)
                    .clean_session(true)
                    .connect_timeout(3s)
                    .finalize();
    try {
      client_.start_consuming();
      client_.connect(opts);
      connected_ = true;
    } catch (const mqtt::exception&) {
      connected_ = false;
    }
  }
  ~Login() {
    try {
      if (connected_) client_.disconnect();
    } catch (const mqtt::exception&) {
    }
  }
  bool connected() const { return connected_; }
  void publish(const std::string& topic, const std::string& payload) {
    client_.publish(mqtt::make_message(topic, payload, 1, false));
  }
  void subscribe(const std::string& topic) {
    try {
      client_.subscribe(topic, 1);
    } catch (const mqtt::exception&) {
      // Mosquitto 2 answers a denied subscription with a failure code.
    }
  }
  std::optional<std::string> next_topic(std::chrono::milliseconds timeout) {
    const auto m = next_message(timeout);
    return m ? std::optional<std::string>(m->topic) : std::nullopt;
  }
  std::optional<MqttMessage> next_message(std::chrono::milliseconds timeout) {
    mqtt::const_message_ptr msg;
    if (!client_.try_consume_message_for(&msg, timeout) || !msg) return std::nullopt;
    return MqttMessage{msg->get_topic(), msg->get_payload_str()};
  }

 private:
  mqtt::client client_;
  bool connected_ = false;
};

class MqttAuthTest : public AuthTest {
 protected:
  /// The server logs in to `broker` and keeps its password file.
  static std::map<std::string, std::string> server_env(const AuthBroker& broker) {
    return {{"PEREGRINE_MQTT_URL", broker.url()},
            {"PEREGRINE_MQTT_USERNAME", kBrokerUser},
            {"PEREGRINE_MQTT_PASSWORD", kBrokerPassword},
            {"PEREGRINE_MQTT_PASSWD_FILE", broker.passwd_file()},
            {"PEREGRINE_MQTT_RELOAD_PID_FILE", broker.pid_file()}};
  }
  /// Two devices created through REST: their ids and tokens.
  struct Pair {
    std::string a, b, token_a, token_b;
  };
  Pair two_devices(const std::string& root, const std::string& na, const std::string& nb) {
    Pair p{device(na), device(nb), "", ""};
    const auto ca = call("POST", "/api/v1/devices", root, json{{"id", p.a}}.dump());
    const auto cb = call("POST", "/api/v1/devices", root, json{{"id", p.b}}.dump());
    EXPECT_EQ(ca.status, 201) << ca.body;
    EXPECT_EQ(cb.status, 201) << cb.body;
    if (ca.status == 201) p.token_a = ca.json()["token"];
    if (cb.status == 201) p.token_b = cb.json()["token"];
    return p;
  }
};

TEST_F(MqttAuthTest, DevicesAreConfinedToTheirOwnTopics) {
  AuthBroker broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_TRUE(start(server_env(broker))) << broker.log();
  const std::string root = root_token();
  const Pair devs = two_devices(root, "ma", "mb");
  ASSERT_FALSE(devs.token_a.empty() || devs.token_b.empty());
  const std::string &a = devs.a, &b = devs.b, &tok_a = devs.token_a, &tok_b = devs.token_b;

  // The broker reloads the password file on SIGHUP, a moment after the call.
  std::unique_ptr<Login> dev_a;
  ASSERT_TRUE(eventually([&] {
    dev_a = std::make_unique<Login>(broker.url(), a, tok_a);
    return dev_a->connected();
  }, 10s)) << broker.log();
  EXPECT_FALSE(Login(broker.url(), a, tok_b).connected()) << "another device's token";
  EXPECT_FALSE(Login(broker.url(), a, "").connected());
  EXPECT_FALSE(Login(broker.url(), "nobody", tok_a).connected());

  // Own telemetry arrives; telemetry under b's topic is dropped by the broker.
  dev_a->publish(telemetry_topic(a), telemetry(now_ms(), 1, {{"co", 1}}).dump());
  ASSERT_TRUE(wait_rows(1, a));
  dev_a->publish(telemetry_topic(b), telemetry(now_ms(), 1, {{"co", 666}}).dump());
  dev_a->publish(telemetry_topic(a), telemetry(now_ms(), 2, {{"co", 2}}).dump());
  ASSERT_TRUE(wait_rows(2, a));  // published after the forbidden one
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(db_->count_readings(b), 0);

  // Commands: a reads its own, never b's.
  Login server(broker.url(), kBrokerUser, kBrokerPassword);
  ASSERT_TRUE(server.connected());
  dev_a->subscribe("devices/" + b + "/commands");
  dev_a->subscribe("devices/" + a + "/commands");
  Login dev_b(broker.url(), b, tok_b);
  ASSERT_TRUE(dev_b.connected());
  dev_b.subscribe("devices/" + b + "/commands");
  server.publish("devices/" + b + "/commands", R"({"id":"c1","name":"x"})");
  server.publish("devices/" + a + "/commands", R"({"id":"c2","name":"x"})");
  EXPECT_EQ(dev_a->next_topic(5s).value_or(""), "devices/" + a + "/commands");
  EXPECT_FALSE(dev_a->next_topic(1s).has_value());
  EXPECT_EQ(dev_b.next_topic(5s).value_or(""), "devices/" + b + "/commands");

  // Rotation: the old token stops working once the broker reloaded.
  const auto rot = call("POST", "/api/v1/devices/" + a + "/token", root);
  ASSERT_EQ(rot.status, 200);
  const std::string tok_a2 = rot.json()["token"];
  EXPECT_TRUE(eventually([&] { return Login(broker.url(), a, tok_a2).connected(); }, 10s));
  EXPECT_FALSE(Login(broker.url(), a, tok_a).connected());
}

// A device acks only its own commands: the broker drops an ack published
// under another device's topic, and the server refuses (and counts) an ack
// on the device's own topic that names another device's command.
TEST_F(MqttAuthTest, ADeviceCannotAckAnotherDevicesCommand) {
  AuthBroker broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_TRUE(start(server_env(broker))) << broker.log();
  const std::string root = root_token();
  const Pair devs = two_devices(root, "aa", "ab");
  ASSERT_FALSE(devs.token_a.empty() || devs.token_b.empty());
  const std::string &a = devs.a, &b = devs.b;
  std::unique_ptr<Login> dev_a, dev_b;
  ASSERT_TRUE(eventually([&] {
    dev_b = std::make_unique<Login>(broker.url(), b, devs.token_b);
    return dev_b->connected();
  }, 10s)) << broker.log();
  dev_a = std::make_unique<Login>(broker.url(), a, devs.token_a);
  ASSERT_TRUE(dev_a->connected());
  dev_b->subscribe("devices/" + b + "/commands");
  dev_b->publish("sensors/" + b + "/status", "online");
  ASSERT_TRUE(eventually([&] {
    return call("GET", "/api/v1/devices/" + b, root).json().value("online", false);
  }));

  const auto sent = call("POST", "/api/v1/devices/" + b + "/commands", root, R"({"name":"open"})");
  ASSERT_EQ(sent.status, 201) << sent.body;
  const std::string id = sent.json().value("id", "");
  const auto got = dev_b->next_message(5s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(json::parse(got->payload).value("id", ""), id);

  const std::string ok = json{{"id", id}, {"status", "ok"}}.dump();
  dev_a->publish("devices/" + b + "/commands/ack", ok);  // dropped by the broker's ACL
  dev_a->publish("devices/" + a + "/commands/ack", ok);  // reaches the server: refused
  ASSERT_TRUE(eventually([&] {
    return metric("peregrine_command_acks_total", {{"result", "wrong_device"}}) == 1;
  })) << broker.log();
  const auto still = call("GET", "/api/v1/devices/" + b + "/commands/" + id, root);
  EXPECT_EQ(still.json().value("status", ""), "sent") << still.body;
  EXPECT_EQ(metric("peregrine_command_acks_total", {{"result", "accepted"}}), 0);

  dev_b->publish("devices/" + b + "/commands/ack", ok);
  EXPECT_TRUE(eventually([&] {
    return call("GET", "/api/v1/devices/" + b + "/commands/" + id, root).json().value("status", "") == "ok";
  }));
}

}  // namespace
}  // namespace peregrine::test
