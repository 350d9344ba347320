#include "cache/redis_connection.hpp"

#include <sys/time.h>
#include <charconv>

namespace peregrine::cache {

std::optional<RedisTarget> parse_redis_url(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  std::string_view rest = url;
  if (!rest.starts_with(kScheme)) return std::nullopt;
  rest.remove_prefix(kScheme.size());

  RedisTarget t;
  // The password may contain '@' or ':': split at the last '@'.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    // `:password` or `user:password` (ACL user names are ignored: AUTH password).
    auto colon = userinfo.find(':');
    t.password =
        std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  std::string_view hostport = rest;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  std::string_view host = hostport;
  std::string_view port;
  if (hostport.starts_with('[')) {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  t.host = std::string(host);
  auto parse_int = [](std::string_view s, int& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (!port.empty() && (!parse_int(port, t.port) || t.port <= 0 || t.port > 65535)) {
    return std::nullopt;
  }
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.empty() && (!parse_int(path, t.db) || t.db < 0)) return std::nullopt;
  return t;
}

namespace detail {

ContextPtr connect(const RedisTarget& target, std::string& error) {
  ContextPtr c(redisConnectWithTimeout(target.host.c_str(), target.port, timeval{1, 0}));
  if (!c || c->err) {
    error = c ? c->errstr : "cannot allocate redis context";
    return nullptr;
  }
  if (redisSetTimeout(c.get(), timeval{2, 0}) != REDIS_OK) {
    error = c->errstr;
    return nullptr;
  }
  auto check = [&](ReplyPtr r, const char* what) {
    if (!r) {
      error = std::string(what) + ": " + c->errstr;
      return false;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      error = std::string(what) + ": " + std::string(r->str, r->len);
      return false;
    }
    return true;
  };
  if (!target.password.empty() && !check(command(c.get(), {"AUTH", target.password}), "AUTH")) {
    return nullptr;
  }
  if (target.db != 0 && !check(command(c.get(), {"SELECT", std::to_string(target.db)}), "SELECT")) {
    return nullptr;
  }
  return c;
}

ReplyPtr command(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), argvlen.data())));
}

bool Pipeline::append(const std::vector<std::string_view>& args) {
  if (broken_) return false;
  argv_.clear();
  argvlen_.clear();
  for (auto a : args) {
    argv_.push_back(a.data());
    argvlen_.push_back(a.size());
  }
  if (redisAppendCommandArgv(c_, static_cast<int>(argv_.size()), argv_.data(), argvlen_.data()) !=
      REDIS_OK) {
    broken_ = true;
    error_ = c_->errstr;
    return false;
  }
  if (++pending_ >= chunk_) return drain();
  return true;
}

bool Pipeline::drain() {
  while (!broken_ && pending_ > 0) {
    void* raw = nullptr;
    if (redisGetReply(c_, &raw) != REDIS_OK) {
      broken_ = true;
      error_ = c_->errstr;
      break;
    }
    ReplyPtr r(static_cast<redisReply*>(raw));
    --pending_;
    if (r && r->type == REDIS_REPLY_ERROR) {
      ++err_;
      error_.assign(r->str, r->len);
    } else {
      ++ok_;
    }
  }
  return !broken_;
}

}  // namespace detail
}  // namespace peregrine::cache
