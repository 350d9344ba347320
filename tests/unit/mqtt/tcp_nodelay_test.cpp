// TCP_NODELAY on the sockets connected to the broker's port, found through
// /proc/self/fd, and the broker URL's port.
#include <peregrine/mqtt/tcp_nodelay.hpp>

#include <arpa/inet.h>

#include <gtest/gtest.h>

namespace peregrine::mqtt {
namespace {

TEST(TcpNodelay, BrokerPortOfAUrl) {
  EXPECT_EQ(broker_port("tcp://127.0.0.1:1884"), 1884);
  EXPECT_EQ(broker_port("ssl://broker.example:8883"), 8883);
  EXPECT_EQ(broker_port("tcp://broker.example"), 1883);
}

TEST(TcpNodelay, SetOnTheSocketToThatPortOnly) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  EXPECT_EQ(set_nodelay_to_port(port), 1) << "the client socket, not the accepted or the listening one";
  int on = 0;
  socklen_t on_len = sizeof on;
  ASSERT_EQ(::getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, &on_len), 0);
  EXPECT_NE(on, 0);
  ::close(accepted);
  ::close(client);
  ::close(listener);
}

}  // namespace
}  // namespace peregrine::mqtt
