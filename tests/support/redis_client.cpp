#include "support/redis_client.hpp"

#include <stdexcept>

#include <hiredis/hiredis.h>

namespace peregrine::test {

namespace {
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;
}  // namespace

struct RedisClient::Impl {
  redisContext* ctx = nullptr;
  ~Impl() {
    if (ctx) redisFree(ctx);
  }
  Reply command(const char* fmt, const std::string& a = "", const std::string& b = "") {
    auto* r = static_cast<redisReply*>(
        redisCommand(ctx, fmt, a.c_str(), a.size(), b.c_str(), b.size()));
    if (!r) throw std::runtime_error(std::string("redis: ") + ctx->errstr);
    return Reply(r);
  }
};

RedisClient::RedisClient(const std::string& url) : impl_(std::make_unique<Impl>()) {
  // redis://[:password@]host:port[/db]; the tests' servers have no password.
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  if (const auto at = rest.find('@'); at != std::string::npos) rest = rest.substr(at + 1);
  int db = 0;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    if (slash + 1 < rest.size()) db = std::stoi(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.rfind(':');
  const std::string host = rest.substr(0, colon);
  const int port = colon == std::string::npos ? 6379 : std::stoi(rest.substr(colon + 1));
  impl_->ctx = redisConnectWithTimeout(host.c_str(), port, timeval{5, 0});
  if (!impl_->ctx || impl_->ctx->err)
    throw std::runtime_error("redis connect to " + url + " failed");
  redisSetTimeout(impl_->ctx, timeval{5, 0});
  impl_->command("SELECT %b", std::to_string(db));
}

RedisClient::~RedisClient() = default;

std::optional<std::string> RedisClient::hget(const std::string& key, const std::string& field) {
  auto r = impl_->command("HGET %b %b", key, field);
  if (r->type != REDIS_REPLY_STRING) return std::nullopt;
  return std::string(r->str, r->len);
}

void RedisClient::flushdb() { impl_->command("FLUSHDB"); }

std::string redis_url_with_db(const std::string& url, int db) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return url.substr(0, slash) + "/" + std::to_string(db);
}

}  // namespace peregrine::test
