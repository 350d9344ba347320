#pragma once
/// A blocking Redis client for test assertions (hiredis). Test thread only.

#include <memory>
#include <optional>
#include <string>

namespace peregrine::test {

class RedisClient {
 public:
  /// `redis://host:port[/db]`. Throws std::runtime_error when unreachable.
  explicit RedisClient(const std::string& url);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// HGET; nullopt when the key or field does not exist.
  std::optional<std::string> hget(const std::string& key, const std::string& field);
  void flushdb();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `redis://host:port/<db>` from a Redis URL with or without a db number.
std::string redis_url_with_db(const std::string& url, int db);

}  // namespace peregrine::test
