#pragma once
// A realtime::Hub behind a real http::Server on 127.0.0.1 (an ephemeral
// port), with its io_context running on a thread of its own. Tests call
// start_hub() in SetUp and talk to it with Beast clients from the test
// thread; on_loop() runs code on the hub's loop and waits for it.

#include <future>
#include <memory>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <peregrine/http/server.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/realtime/hub.hpp>

namespace peregrine::realtime::testing {

class HubFixture : public ::testing::Test {
 protected:
  void start_hub(HubOptions hub_opts, WsAuthenticator authenticate = nullptr) {
    hub_ = std::make_unique<Hub>(ioc_, hub_opts, metrics_);
    if (authenticate) hub_->set_authenticator(std::move(authenticate));
    http::ServerOptions opts;
    opts.addr = "127.0.0.1:0";
    server_ = std::make_unique<http::Server>(ioc_, opts, router_, metrics_);
    server_->set_upgrade_handler([this](boost::asio::ip::tcp::socket s, http::RawRequest req) {
      hub_->accept(std::move(s), std::move(req));
    });
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    on_loop([this] {
      server_->stop();
      hub_->close_all();
    });
    boost::asio::post(ioc_, [this] { ioc_.stop(); });
    thread_.join();
    server_.reset();
    hub_.reset();
  }

  template <class F>
  auto on_loop(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(ioc_, [&task] { task(); });
    return result.get();
  }

  unsigned short port() const { return server_->port(); }

  boost::asio::io_context ioc_;
  metrics::Registry metrics_;
  http::Router router_;
  std::unique_ptr<Hub> hub_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

}  // namespace peregrine::realtime::testing
