// The socket side of a hub session: Beast websocket::stream, one read loop
// and one writer coroutine per client. The only Beast translation unit of the
// realtime module.

#include <chrono>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <spdlog/spdlog.h>

#include "realtime/session.hpp"

namespace peregrine::realtime {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
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

class WsSession final : public Session {
 public:
  WsSession(Hub& hub, asio::ip::tcp::socket socket, http::RawRequest request)
      : Session(hub, core::kDefaultTenant),
        ws_(std::move(socket)),
        request_(std::move(request)),
        signal_(ws_.get_executor()),
        close_guard_(ws_.get_executor()) {}

  asio::any_io_executor executor() { return ws_.get_executor(); }

  static awaitable<void> run(std::shared_ptr<WsSession> self) {
    auto& ws = self->ws_;
    beast::error_code ec;
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(kReadMessageMax);
    co_await ws.async_accept(self->request_, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    self->open(self->request_.target());
    self->request_ = {};
    asio::co_spawn(ws.get_executor(), write_loop(self), log_failure);

    beast::flat_buffer buffer;
    for (;;) {
      co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      const auto data = buffer.data();
      self->handle_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer.consume(buffer.size());
    }
    self->finish();
    self->stopped_ = true;
    self->signal_.cancel();
    self->close_guard_.cancel();
  }

  void close(CloseCode code) override {
    if (closing_ || stopped_) return;
    closing_ = true;
    signal_.cancel();
    auto self = std::static_pointer_cast<WsSession>(shared_from_this());
    asio::co_spawn(ws_.get_executor(), close_guard(self), log_failure);
    asio::co_spawn(ws_.get_executor(), send_close(std::move(self), code), log_failure);
  }

 private:
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

  static awaitable<void> send_close(std::shared_ptr<WsSession> self, CloseCode code) {
    beast::error_code ec;
    co_await self->ws_.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                                   asio::redirect_error(use_awaitable, ec));
  }

  static awaitable<void> close_guard(std::shared_ptr<WsSession> self) {
    beast::error_code ec;
    self->close_guard_.expires_after(kCloseGuard);
    co_await self->close_guard_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec || self->stopped_) co_return;
    beast::get_lowest_layer(self->ws_).close();
  }

  websocket::stream<beast::tcp_stream> ws_;
  http::RawRequest request_;
  asio::steady_timer signal_;
  asio::steady_timer close_guard_;
  bool writer_idle_ = false;
  bool closing_ = false;
  bool stopped_ = false;
};

}  // namespace

void start_ws_session(Hub& hub, asio::ip::tcp::socket socket, http::RawRequest request) {
  auto session = std::make_shared<WsSession>(hub, std::move(socket), std::move(request));
  auto executor = session->executor();
  asio::co_spawn(executor, WsSession::run(std::move(session)), log_failure);
}

}  // namespace peregrine::realtime
