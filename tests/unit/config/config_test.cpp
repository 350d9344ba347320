#include <peregrine/config/config.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace peregrine::config {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/peregrine-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text) {
    const auto path = (dir_ / "peregrine.toml").string();
    std::ofstream(path) << text;
    return path;
  }

  LoadResult load_with(const std::optional<std::string>& file) {
    return load(file, [this](const char* name) -> const char* {
      const auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }

  Config ok(const std::optional<std::string>& file) {
    auto r = load_with(file);
    if (auto* err = std::get_if<std::string>(&r)) {
      ADD_FAILURE() << *err;
      return {};
    }
    return std::get<Config>(r);
  }

  std::string error(const std::optional<std::string>& file) {
    auto r = load_with(file);
    if (auto* err = std::get_if<std::string>(&r)) return *err;
    ADD_FAILURE() << "expected an error";
    return {};
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsWithoutFileOrEnv) {
  const Config c = ok(std::nullopt);
  EXPECT_EQ(c.http_addr, "0.0.0.0:8080");
  EXPECT_EQ(c.pg_url, "postgresql://peregrine@127.0.0.1:5432/peregrine");
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.mqtt_url, "tcp://127.0.0.1:1883");
  EXPECT_TRUE(c.auto_provision);
  EXPECT_EQ(c.log_level, "info");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(c.mqtt_client_id, std::string("peregrine-") + host);
}

TEST_F(ConfigTest, FileValuesApply) {
  const Config c = ok(write(R"(
[http]
addr = "127.0.0.1:9000"
[storage]
batch_rows = 100
batch_ms = 20
retention_days = 0
[ingest]
auto_provision = false
[mqtt]
client_id = "fixed"
[log]
level = "debug"
)"));
  EXPECT_EQ(c.http_addr, "127.0.0.1:9000");
  EXPECT_EQ(c.batch_rows, 100u);
  EXPECT_EQ(c.batch_age, std::chrono::milliseconds(20));
  EXPECT_FALSE(c.auto_provision);
  EXPECT_EQ(c.mqtt_client_id, "fixed");
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(ConfigTest, EnvOverridesWinOverFile) {
  const auto file = write("[http]\naddr = \"127.0.0.1:9000\"\n[log]\nlevel = \"debug\"\n");
  env_ = {{"PEREGRINE_HTTP_ADDR", "[::1]:7000"},
          {"PEREGRINE_PG_URL", "postgres://u@db/x"},
          {"PEREGRINE_REDIS_URL", "redis://r:6380/2"},
          {"PEREGRINE_MQTT_URL", "ssl://broker:8883"},
          {"PEREGRINE_MQTT_CLIENT_ID", "pg-1"},
          {"PEREGRINE_ADMIN_EMAIL", "admin@example.com"},
          {"PEREGRINE_ADMIN_PASSWORD", "s3cret"},
          {"PEREGRINE_JWT_SECRET", "k"},
          {"PEREGRINE_LOG_LEVEL", "warn"},
          {"PEREGRINE_AUTO_PROVISION", "no"},
          {"PEREGRINE_STORAGE_BATCH_ROWS", "42"}};
  const Config c = ok(file);
  EXPECT_EQ(c.http_addr, "[::1]:7000");
  EXPECT_EQ(c.pg_url, "postgres://u@db/x");
  EXPECT_EQ(c.redis_url, "redis://r:6380/2");
  EXPECT_EQ(c.mqtt_url, "ssl://broker:8883");
  EXPECT_EQ(c.mqtt_client_id, "pg-1");
  EXPECT_EQ(c.admin_email, "admin@example.com");
  EXPECT_EQ(c.admin_password, "s3cret");
  EXPECT_EQ(c.jwt_secret, "k");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_FALSE(c.auto_provision);
  EXPECT_EQ(c.batch_rows, 42u);
}

TEST_F(ConfigTest, EmptyEnvIsUnset) {
  env_ = {{"PEREGRINE_LOG_LEVEL", ""}};
  EXPECT_EQ(ok(std::nullopt).log_level, "info");
}

TEST_F(ConfigTest, BooleanSpellings) {
  for (const auto& [text, want] : std::map<std::string, bool>{
           {"true", true}, {"1", true}, {"yes", true}, {"TRUE", true},
           {"false", false}, {"0", false}, {"no", false}}) {
    env_ = {{"PEREGRINE_AUTO_PROVISION", text}};
    EXPECT_EQ(ok(std::nullopt).auto_provision, want) << text;
  }
  env_ = {{"PEREGRINE_AUTO_PROVISION", "maybe"}};
  EXPECT_THAT(error(std::nullopt), HasSubstr("PEREGRINE_AUTO_PROVISION"));
}

TEST_F(ConfigTest, BadEnvValuesNameTheVariable) {
  const std::map<std::string, std::string> bad = {
      {"PEREGRINE_HTTP_ADDR", "x"},         {"PEREGRINE_HTTP_ADDR", "host:65536"},
      {"PEREGRINE_PG_URL", "mysql://x"},     {"PEREGRINE_REDIS_URL", "http://r"},
      {"PEREGRINE_MQTT_URL", "http://b"},    {"PEREGRINE_LOG_LEVEL", "verbose"},
      {"PEREGRINE_STORAGE_BATCH_ROWS", "0"}, {"PEREGRINE_STORAGE_BATCH_MS", "-5"},
      {"PEREGRINE_QUERY_THREADS", "2x"},     {"PEREGRINE_WS_QUEUE", "99999999999999999999"}};
  for (const auto& [name, value] : bad) {
    env_ = {{name, value}};
    EXPECT_THAT(error(std::nullopt), HasSubstr(name + ": ")) << value;
  }
  env_ = {{"PEREGRINE_HTTP_ADDR", "x"}};
  EXPECT_EQ(error(std::nullopt), R"(PEREGRINE_HTTP_ADDR: expected host:port, got "x")");
}

TEST_F(ConfigTest, AddressForms) {
  for (const char* a : {"0.0.0.0:0", "localhost:65535", "[::]:8080"}) {
    env_ = {{"PEREGRINE_HTTP_ADDR", a}};
    EXPECT_EQ(ok(std::nullopt).http_addr, a);
  }
  for (const char* a : {":80", "host:", "host:-1", "::1:80", "host: 80"}) {
    env_ = {{"PEREGRINE_HTTP_ADDR", a}};
    EXPECT_THAT(error(std::nullopt), HasSubstr("expected host:port")) << a;
  }
}

TEST_F(ConfigTest, BadFileValueNamesKeyAndFile) {
  const auto file = write("[storage]\nbatch_rows = 0\n");
  EXPECT_THAT(error(file), HasSubstr("storage.batch_rows (" + file + "): must be a positive integer"));
  const auto file2 = write("[storage]\nbatch_rows = \"many\"\n");
  EXPECT_EQ(error(file2), "storage.batch_rows (" + file2 + "): must be an integer");
  const auto file3 = write("[ingest]\nauto_provision = \"sometimes\"\n");
  EXPECT_THAT(error(file3), HasSubstr("ingest.auto_provision (" + file3 + ")"));
}

TEST_F(ConfigTest, UnknownKeysRejected) {
  EXPECT_EQ(error(write("[storage]\nbatch_rowz = 5\n")),
            "unknown key storage.batch_rowz in " + (dir_ / "peregrine.toml").string());
  EXPECT_THAT(error(write("[nope]\nx = 1\n")), HasSubstr("unknown key nope.x"));
  EXPECT_THAT(error(write("top = 1\n")), HasSubstr("unknown key top"));
}

TEST_F(ConfigTest, MissingExplicitFileIsAnError) {
  EXPECT_THAT(error((dir_ / "absent.toml").string()), HasSubstr("absent.toml"));
}

TEST_F(ConfigTest, SyntaxErrorNamesFileAndLine) {
  const auto file = write("[http]\naddr = \n");
  EXPECT_THAT(error(file), HasSubstr(file + ":2:"));
}

TEST_F(ConfigTest, AdminNeedsBothEmailAndPassword) {
  env_ = {{"PEREGRINE_ADMIN_EMAIL", "a@b.c"}};
  EXPECT_THAT(error(std::nullopt), HasSubstr("PEREGRINE_ADMIN_PASSWORD"));
}

TEST_F(ConfigTest, KeyTableIsComplete) {
  std::set<std::string> envs;
  std::set<std::string> paths;
  for (const auto& k : keys()) {
    EXPECT_TRUE(envs.insert(k.env).second) << k.env;
    EXPECT_TRUE(paths.insert(k.toml).second) << k.toml;
    EXPECT_NE(std::string(k.help), "");
  }
  for (const char* e : {"PEREGRINE_HTTP_ADDR", "PEREGRINE_PG_URL", "PEREGRINE_REDIS_URL",
                        "PEREGRINE_MQTT_URL", "PEREGRINE_MQTT_CLIENT_ID", "PEREGRINE_ADMIN_EMAIL",
                        "PEREGRINE_ADMIN_PASSWORD", "PEREGRINE_JWT_SECRET", "PEREGRINE_LOG_LEVEL",
                        "PEREGRINE_AUTO_PROVISION"}) {
    EXPECT_TRUE(envs.count(e)) << e;
  }
}

TEST_F(ConfigTest, ShippedFileLoadsAndMatchesDefaults) {
  const std::string shipped =
      (std::filesystem::path(__FILE__).parent_path() / "../../../config/peregrine.toml").string();
  const Config c = ok(shipped);
  const Config d;
  EXPECT_EQ(c.http_addr, d.http_addr);
  EXPECT_EQ(c.pg_url, d.pg_url);
  EXPECT_EQ(c.batch_rows, d.batch_rows);
  EXPECT_EQ(c.log_level, d.log_level);
  // Every key appears in the shipped file (commented or not).
  std::ifstream in(shipped);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& k : keys()) {
    const std::string path = k.toml;
    EXPECT_THAT(text, HasSubstr(path.substr(path.find('.') + 1) + " =")) << path;
    EXPECT_THAT(text, HasSubstr(k.env)) << path;
  }
}

TEST_F(ConfigTest, ShippedDefaultsUncommentedEqualBuiltInDefaults) {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "../../../config/peregrine.toml");
  std::string line;
  std::string active;
  while (std::getline(in, line)) {
    // "# key = value" lines are the commented defaults; prose has no " = ".
    const bool is_default = line.starts_with("# ") && line.find(" = ") != std::string::npos;
    active += (is_default ? line.substr(2) : line) + "\n";
  }
  const Config c = ok(write(active));
  const Config d;
  EXPECT_EQ(c.http_addr, d.http_addr);
  EXPECT_EQ(c.web_root, d.web_root);
  EXPECT_EQ(c.http_body_limit, d.http_body_limit);
  EXPECT_EQ(c.pg_url, d.pg_url);
  EXPECT_EQ(c.query_threads, d.query_threads);
  EXPECT_EQ(c.redis_url, d.redis_url);
  EXPECT_EQ(c.redis_flush, d.redis_flush);
  EXPECT_EQ(c.mqtt_url, d.mqtt_url);
  EXPECT_EQ(c.mqtt_max_payload, d.mqtt_max_payload);
  EXPECT_EQ(c.auto_provision, d.auto_provision);
  EXPECT_EQ(c.max_past_days, d.max_past_days);
  EXPECT_EQ(c.batch_rows, d.batch_rows);
  EXPECT_EQ(c.batch_age, d.batch_age);
  EXPECT_EQ(c.queue_rows, d.queue_rows);
  EXPECT_EQ(c.partitions_ahead_days, d.partitions_ahead_days);
  EXPECT_EQ(c.retention_days, d.retention_days);
  EXPECT_EQ(c.ws_queue_messages, d.ws_queue_messages);
  EXPECT_EQ(c.log_level, d.log_level);
}

}  // namespace
}  // namespace peregrine::config
