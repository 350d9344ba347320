#include "support/test_env.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace peregrine::test {

namespace {
std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

std::optional<TestEnv> TestEnv::from_environment() {
  TestEnv e{env_or_empty("PEREGRINE_TEST_PG_URL"), env_or_empty("PEREGRINE_TEST_REDIS_URL"),
            env_or_empty("PEREGRINE_TEST_MQTT_URL"), env_or_empty("PEREGRINE_TEST_PG_CTL")};
  if (e.pg_admin_url.empty() || e.redis_url.empty() || e.mqtt_url.empty()) return std::nullopt;
  return e;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

std::string random_hex(std::size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = kDigits[rng() % 16];
  return s;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(std::int64_t ms, int offset_minutes) {
  const std::int64_t local_ms = ms + std::int64_t{offset_minutes} * 60'000;
  const std::time_t secs = static_cast<std::time_t>(local_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(local_ms % 1000));
  std::string out = buf;
  if (offset_minutes == 0) return out + "Z";
  const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return out + buf;
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
  std::tm tm{};
  int consumed = 0;
  const std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::size_t i = static_cast<std::size_t>(consumed);
  std::int64_t frac_ms = 0;
  if (i < str.size() && str[i] == '.') {
    int digits = 0;
    for (++i; i < str.size() && std::isdigit(static_cast<unsigned char>(str[i])); ++i, ++digits)
      if (digits < 3) frac_ms = frac_ms * 10 + (str[i] - '0');
    for (; digits < 3; ++digits) frac_ms *= 10;
  }
  std::int64_t offset_min = 0;
  if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int h = 0, m = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &h, &m) != 2) return std::nullopt;
    offset_min = (str[i] == '-' ? -1 : 1) * (h * 60 + m);
  } else if (i >= str.size() || (str[i] != 'Z' && str[i] != 'z')) {
    return std::nullopt;
  }
  return std::int64_t{timegm(&tm)} * 1000 + frac_ms - offset_min * 60'000;
}

std::string file_tail(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no log at " + path + ")";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "…" + s.substr(s.size() - max_bytes);
  return s;
}

}  // namespace peregrine::test
