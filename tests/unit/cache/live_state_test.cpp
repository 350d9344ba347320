// LiveState and StateReader against a real Redis. Skipped unless
// PEREGRINE_TEST_REDIS_URL is set; the restart test starts its own
// redis-server on a free port so that it can kill and restart it.
#include <peregrine/cache/live_state.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <peregrine/core/time_format.hpp>

#include "cache/redis_connection.hpp"

namespace peregrine::cache {
namespace {

using namespace std::chrono_literals;

std::optional<RedisTarget> test_target() {
  const char* url = std::getenv("PEREGRINE_TEST_REDIS_URL");
  if (!url || !*url) return std::nullopt;
  return parse_redis_url(url);
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

std::string hget(const RedisTarget& t, const std::string& key, const std::string& field) {
  std::string error;
  auto c = detail::connect(t, error);
  if (!c) return "<no connection: " + error + ">";
  auto r = detail::command(c.get(), {"HGET", key, field});
  if (!r || r->type != REDIS_REPLY_STRING) return {};
  return {r->str, r->len};
}

bool run(const RedisTarget& t, const std::vector<std::string_view>& args) {
  std::string error;
  auto c = detail::connect(t, error);
  if (!c) return false;
  auto r = detail::command(c.get(), args);
  return r && r->type != REDIS_REPLY_ERROR;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(ParseRedisUrl, AcceptsTheContractShapes) {
  auto t = parse_redis_url("redis://127.0.0.1:6379/0");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6379);
  EXPECT_EQ(t->db, 0);
  EXPECT_EQ(t->password, "");

  t = parse_redis_url("redis://:s3cr@t@cache.local:6380/3");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->password, "s3cr@t");
  EXPECT_EQ(t->host, "cache.local");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 3);

  t = parse_redis_url("redis://user:pw@[::1]/2");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 6379);
  EXPECT_EQ(t->password, "pw");

  EXPECT_FALSE(parse_redis_url("http://127.0.0.1:6379"));
  EXPECT_FALSE(parse_redis_url("redis://host:notaport/0"));
  EXPECT_FALSE(parse_redis_url("redis://host:6379/x"));
  EXPECT_FALSE(parse_redis_url("redis://:70000"));
}

TEST(LiveState, ValuesLandCoalescedAndReadBack) {
  auto target = test_target();
  if (!target) GTEST_SKIP() << "PEREGRINE_TEST_REDIS_URL not set";
  ASSERT_TRUE(run(*target, {"DEL", "peregrine:state:ls-d1", "peregrine:presence:ls-d1"}));

  metrics::Registry reg;
  LiveState live(*target, 300ms, reg);
  live.start();
  ASSERT_TRUE(eventually([&] { return live.connected(); }));

  const core::Micros ts = 1'763'800'000'123'456;
  for (int i = 0; i < 100; ++i) live.set_value(1, "ls-d1", "co", i, ts + i);
  live.set_value(1, "ls-d1", "temperature", 21.5, ts);
  live.set_presence(1, "ls-d1", true, ts + 99);

  ASSERT_TRUE(eventually([&] {
    return hget(*target, "peregrine:state:ls-d1", "co") == R"({"v":99,"ts":1763800000123.555})";
  })) << hget(*target, "peregrine:state:ls-d1", "co");
  // 102 updates arrived within one or two flush ticks: at most a few
  // commands (HSET state, HSET presence, SADD per tick), not one per update.
  auto& writes = reg.counter("peregrine_redis_writes_total", "");
  EXPECT_LE(writes.value(), 6u);
  EXPECT_EQ(hget(*target, "peregrine:presence:ls-d1", "online"), "1");
  EXPECT_TRUE(run(*target, {"SISMEMBER", "peregrine:tenant:1:devices", "ls-d1"}));

  StateReader reader(*target);
  auto st = reader.device_state("ls-d1");
  EXPECT_EQ(st["metrics"]["co"]["value"], 99);
  EXPECT_EQ(st["metrics"]["co"]["ts"], core::format_rfc3339(ts + 99));
  EXPECT_EQ(st["metrics"]["temperature"]["value"], 21.5);
  EXPECT_EQ(st["metrics"]["temperature"]["ts"], core::format_rfc3339(ts));
  EXPECT_EQ(st["online"], true);
  EXPECT_EQ(st["last_seen"], core::format_rfc3339(ts + 99));

  live.set_presence(1, "ls-d1", false, ts + 5000);
  live.stop();  // the final flush writes what is pending
  EXPECT_EQ(hget(*target, "peregrine:presence:ls-d1", "online"), "0");
  EXPECT_EQ(reader.device_state("ls-d1")["online"], false);

  auto unknown = reader.device_state("ls-nobody");
  EXPECT_TRUE(unknown["metrics"].empty());
  EXPECT_EQ(unknown["online"], false);
  EXPECT_TRUE(unknown["last_seen"].is_null());
}

class OwnRedis {
 public:
  OwnRedis()
      : port_(free_port()),
        dir_(std::filesystem::temp_directory_path() /
             ("peregrine-redis-" + std::to_string(port_))) {
    std::filesystem::create_directories(dir_);
  }
  ~OwnRedis() {
    shutdown();
    std::filesystem::remove_all(dir_);
  }
  bool start() {
    std::string cmd = "redis-server --bind 127.0.0.1 --port " + std::to_string(port_) +
                      " --save '' --appendonly no --daemonize yes --dir " + dir_.string() +
                      " --pidfile " + (dir_ / "redis.pid").string() + " --logfile " +
                      (dir_ / "redis.log").string();
    if (std::system(cmd.c_str()) != 0) return false;
    return eventually([&] { return run(target(), {"PING"}); });
  }
  void shutdown() {
    std::string error;
    if (auto c = detail::connect(target(), error)) detail::command(c.get(), {"SHUTDOWN", "NOSAVE"});
  }
  RedisTarget target() const { return RedisTarget{"127.0.0.1", port_, 0, ""}; }

 private:
  int port_;
  std::filesystem::path dir_;
};

TEST(LiveState, RewritesWholeStateAfterRedisRestarts) {
  if (!test_target()) GTEST_SKIP() << "PEREGRINE_TEST_REDIS_URL not set";
  if (std::system("command -v redis-server >/dev/null") != 0) GTEST_SKIP() << "no redis-server";
  OwnRedis redis;
  ASSERT_TRUE(redis.start());
  auto target = redis.target();

  metrics::Registry reg;
  LiveState live(target, 20ms, reg);
  live.start();
  ASSERT_TRUE(eventually([&] { return live.connected(); }));
  const core::Micros ts = 1'763'800'000'000'000;
  for (int d = 0; d < 1500; ++d) {
    std::string dev = "rw-" + std::to_string(d);
    live.set_value(2, dev, "co", d, ts);
    live.set_value(2, dev, "humidity", 40, ts);
    live.set_presence(2, dev, true, ts);
  }
  ASSERT_TRUE(eventually([&] { return !hget(target, "peregrine:state:rw-1499", "co").empty(); }));

  // Empty the database and kill the server: nothing survives but
  // LiveState's own copy.
  ASSERT_TRUE(run(target, {"FLUSHALL"}));
  redis.shutdown();
  live.set_value(2, "rw-0", "co", -1, ts + 1);  // the write that finds Redis gone
  ASSERT_TRUE(eventually([&] { return !live.connected(); }));
  EXPECT_EQ(reg.gauge("peregrine_redis_connected", "").value(), 0);
  live.set_value(2, "rw-1", "co", -2, ts + 2);  // while down: kept for the rewrite

  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(eventually([&] { return live.connected(); }, 10s));
  EXPECT_EQ(reg.gauge("peregrine_redis_connected", "").value(), 1);
  EXPECT_GE(reg.counter("peregrine_redis_errors_total", "").value(), 1u);

  StateReader reader(target);
  EXPECT_EQ(reader.device_state("rw-0")["metrics"]["co"]["value"], -1);
  EXPECT_EQ(reader.device_state("rw-1")["metrics"]["co"]["value"], -2);
  for (int d : {2, 999, 1000, 1499}) {
    auto st = reader.device_state("rw-" + std::to_string(d));
    EXPECT_EQ(st["metrics"]["co"]["value"], d);
    EXPECT_EQ(st["metrics"]["humidity"]["value"], 40);
    EXPECT_EQ(st["online"], true);
  }
  std::string error;
  auto c = detail::connect(target, error);
  ASSERT_TRUE(c);
  auto card = detail::command(c.get(), {"SCARD", "peregrine:tenant:2:devices"});
  ASSERT_TRUE(card);
  EXPECT_EQ(card->integer, 1500);
  live.stop();
}

}  // namespace
}  // namespace peregrine::cache
