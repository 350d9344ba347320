#pragma once
// Private to the cache module: one blocking hiredis connection with AUTH and
// SELECT applied, and RAII for contexts and replies. Not thread-safe; each
// user (the LiveState thread, a StateReader under its mutex) owns its own.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include <peregrine/cache/live_state.hpp>

namespace peregrine::cache::detail {

struct ContextFree {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

/// Connects (1 s connect timeout, 2 s I/O timeout), then AUTH / SELECT as the
/// target asks. On failure returns null and sets `error`.
ContextPtr connect(const RedisTarget& target, std::string& error);

/// One command from string arguments, binary-safe. Null reply means the
/// connection is broken (the context must be dropped).
ReplyPtr command(redisContext* c, const std::vector<std::string_view>& args);

/// Appends commands and reads their replies in chunks, so that a large
/// rewrite never holds more than `chunk` replies in flight.
class Pipeline {
 public:
  Pipeline(redisContext* c, std::size_t chunk) : c_(c), chunk_(chunk) {}
  /// False once the connection broke; further calls are no-ops.
  bool append(const std::vector<std::string_view>& args);
  /// Reads every outstanding reply. False if the connection broke.
  bool drain();
  std::size_t replies_ok() const noexcept { return ok_; }
  std::size_t replies_error() const noexcept { return err_; }
  const std::string& error() const noexcept { return error_; }

 private:
  redisContext* c_;
  std::size_t chunk_;
  std::size_t pending_ = 0;
  std::size_t ok_ = 0;
  std::size_t err_ = 0;
  bool broken_ = false;
  std::string error_;
  std::vector<const char*> argv_;
  std::vector<std::size_t> argvlen_;
};

}  // namespace peregrine::cache::detail
