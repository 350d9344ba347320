// The socket side of a hub session: Beast websocket::stream over TCP or TLS,
// one read loop and one writer coroutine per client. The only Beast
// translation unit of the realtime module.

#include <charconv>
#include <chrono>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <spdlog/spdlog.h>

#include <peregrine/http/tls.hpp>

#include "realtime/session.hpp"

namespace peregrine::realtime {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

constexpr std::size_t kReadMessageMax = 64 * 1024;
// A client that stopped reading never lets the close frame out; after this
// long the TCP connection is torn down instead.
constexpr auto kCloseGuard = 10s;

void log_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::warn("websocket session failed: {}", ex.what());
  }
}

// Stream: beast::tcp_stream (ws://) or http::TlsStream (wss://).
template <class Stream>
class WsSession final : public Session {
 public:
  template <class NextLayer>
  WsSession(Hub& hub, NextLayer&& next_layer, http::RawRequest request)
      : Session(hub, core::kDefaultTenant),
        ws_(std::forward<NextLayer>(next_layer)),
        request_(std::move(request)),
        signal_(ws_.get_executor()),
        close_guard_(ws_.get_executor()),
        expiry_(ws_.get_executor()) {}

  using Session::close;

  asio::any_io_executor executor() { return ws_.get_executor(); }

  static awaitable<void> run(std::shared_ptr<WsSession> self) {
    auto& ws = self->ws_;
    beast::error_code ec;
    bool authenticated = !self->auth_required();
    core::Micros expires_us = 0;
    if (!authenticated) {
      const WsAuth verdict = self->check_query_token();
      if (!verdict.tenant && verdict.status != 0) {
        co_await refuse(self, verdict);
        co_return;
      }
      if (verdict.tenant) {
        self->set_tenant(*verdict.tenant);
        expires_us = verdict.expires_us;
        authenticated = true;
      }
    }
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(kReadMessageMax);
    co_await ws.async_accept(self->request_, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    if (authenticated) {
      self->start(expires_us);
    } else {
      asio::co_spawn(ws.get_executor(), auth_deadline(self), log_failure);
    }

    beast::flat_buffer buffer;
    for (;;) {
      co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      const auto data = buffer.data();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (self->closing_) {
        // Draining until the close handshake ends; nothing more is handled.
      } else if (self->started_) {
        self->handle_message(text);
      } else if (const WsAuth verdict = self->check_auth_message(text); verdict.tenant) {
        self->set_tenant(*verdict.tenant);
        self->start(verdict.expires_us);
      } else {
        spdlog::info("websocket refused: {}", verdict.detail);
        self->close(CloseCode::policy, verdict.detail);
      }
      buffer.consume(buffer.size());
    }
    self->finish();
    self->stopped_ = true;
    self->signal_.cancel();
    self->close_guard_.cancel();
    self->expiry_.cancel();
  }

  void close(CloseCode code, std::string_view reason) override {
    if (closing_ || stopped_) return;
    closing_ = true;
    signal_.cancel();
    expiry_.cancel();
    // Kept in the session: send_close takes nothing but the shared_ptr.
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code),
                                            close_reason_text(reason));
    auto self = std::static_pointer_cast<WsSession>(shared_from_this());
    asio::co_spawn(ws_.get_executor(), close_guard(self), log_failure);
    asio::co_spawn(ws_.get_executor(), send_close(std::move(self)), log_failure);
  }

 private:
  // The verdict on `?token=` (with `?tenant=`); status 0 and no tenant when
  // the target carries no token (the first message must then authenticate).
  WsAuth check_query_token() const {
    const std::string_view target = request_.target();
    const auto qmark = target.find('?');
    if (qmark == std::string_view::npos) return {std::nullopt, 0, {}};
    const auto query = http::parse_query(target.substr(qmark + 1));
    const auto token = query.find("token");
    if (token == query.end()) return {std::nullopt, 0, {}};
    std::optional<core::TenantId> requested;
    if (const auto t = query.find("tenant"); t != query.end()) {
      core::TenantId v = 0;
      const auto [end, err] = std::from_chars(t->second.data(), t->second.data() + t->second.size(), v);
      if (err != std::errc{} || end != t->second.data() + t->second.size()) {
        return {std::nullopt, 400, "tenant must be an integer"};
      }
      requested = v;
    }
    return check_token(token->second, requested);
  }

  // Registers with the hub (replaying `since=`), starts the writer and the
  // token's deadline.
  void start(core::Micros expires_us) {
    started_ = true;
    open(request_.target());
    request_ = {};
    auto self = std::static_pointer_cast<WsSession>(shared_from_this());
    asio::co_spawn(ws_.get_executor(), write_loop(std::move(self)), log_failure);
    arm_expiry(expires_us);
  }

  void arm_expiry(core::Micros expires_us) override {
    if (expires_us <= 0 || closing_ || stopped_) return;
    // Moving the deadline aborts the pending wait; the watcher waits again.
    const std::chrono::microseconds exp(expires_us);
    expiry_.expires_at(asio::system_timer::time_point(exp));
    if (expiry_watched_) return;
    expiry_watched_ = true;
    auto self = std::static_pointer_cast<WsSession>(shared_from_this());
    asio::co_spawn(ws_.get_executor(), expiry_watch(std::move(self)), log_failure);
  }

  // The token's `exp` is wall-clock time, hence a system_timer.
  static awaitable<void> expiry_watch(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    while (!self->closing_ && !self->stopped_) {
      co_await self->expiry_.async_wait(asio::redirect_error(use_awaitable, ec));
      if (self->closing_ || self->stopped_) break;
      // Aborted by a renewal, or fired just before one moved the deadline.
      if (self->expiry_.expiry() > asio::system_timer::clock_type::now()) continue;
      spdlog::info("websocket closed: token expired");
      self->close(CloseCode::policy, "token expired");
    }
  }

  // An upgrade request whose token is refused gets a plain HTTP answer: the
  // client sees 401/403 instead of a WebSocket that closes at once.
  static awaitable<void> refuse(std::shared_ptr<WsSession> self, const WsAuth& verdict) {
    const unsigned status = verdict.status == 0 ? 401 : verdict.status;
    auto res = http::problem_response(self->request_, status,
                                      status == 403   ? "Forbidden"
                                      : status == 400 ? "Bad Request"
                                                      : "Unauthorized",
                                      verdict.detail);
    if (status == 401) res.set(bhttp::field::www_authenticate, R"(Bearer realm="peregrine")");
    res.keep_alive(false);
    auto& lowest = beast::get_lowest_layer(self->ws_);
    beast::error_code ec;
    lowest.expires_after(kCloseGuard);
    co_await bhttp::async_write(self->ws_.next_layer(), res, asio::redirect_error(use_awaitable, ec));
    lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    lowest.close();
  }

  static awaitable<void> auth_deadline(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    asio::steady_timer timer(self->ws_.get_executor());
    timer.expires_after(self->auth_timeout());
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!self->started_ && !self->stopped_) {
      self->close(CloseCode::policy, "authentication timed out");
    }
  }

  void wake() override {
    if (writer_idle_) signal_.cancel();
  }

  static awaitable<void> write_loop(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    while (!self->closing_ && !self->stopped_) {
      if (!self->has_frames()) {
        // An idle writer parks on a timer that never expires; wake() cancels it.
        self->writer_idle_ = true;
        self->signal_.expires_at(asio::steady_timer::time_point::max());
        co_await self->signal_.async_wait(asio::redirect_error(use_awaitable, ec));
        self->writer_idle_ = false;
        continue;
      }
      const Text text = self->next_frame();
      self->ws_.text(true);
      co_await self->ws_.async_write(asio::buffer(*text), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
    }
  }

  static awaitable<void> send_close(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    co_await self->ws_.async_close(self->close_reason_, asio::redirect_error(use_awaitable, ec));
  }

  static awaitable<void> close_guard(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    self->close_guard_.expires_after(kCloseGuard);
    co_await self->close_guard_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec || self->stopped_) co_return;
    beast::get_lowest_layer(self->ws_).close();
  }

  websocket::stream<Stream> ws_;
  http::RawRequest request_;
  asio::steady_timer signal_;
  asio::steady_timer close_guard_;
  asio::system_timer expiry_;  // the token's `exp`; moved by renewals
  websocket::close_reason close_reason_;
  bool started_ = false;  // authenticated and registered with the hub
  bool writer_idle_ = false;
  bool closing_ = false;
  bool stopped_ = false;
  bool expiry_watched_ = false;  // expiry_watch is running
};

}  // namespace

void start_ws_session(Hub& hub, asio::ip::tcp::socket socket, http::RawRequest request) {
  using Plain = WsSession<beast::tcp_stream>;
  auto session = std::make_shared<Plain>(hub, std::move(socket), std::move(request));
  auto executor = session->executor();
  asio::co_spawn(executor, Plain::run(std::move(session)), log_failure);
}

void start_ws_session(Hub& hub, std::shared_ptr<http::TlsSocket> tls, http::RawRequest request) {
  using Secure = WsSession<http::TlsStream>;
  auto session = std::make_shared<Secure>(hub, std::move(tls->stream), std::move(request));
  auto executor = session->executor();
  asio::co_spawn(executor, Secure::run(std::move(session)), log_failure);
}

}  // namespace peregrine::realtime
