#pragma once
/// TCP_NODELAY for Paho's sockets. Paho C 1.3 sets no socket options and has
/// no API to reach its socket, so a small write (a PUBACK, a command, an ack)
/// that follows another one waits for the peer's delayed ACK: 40 ms tails
/// under Nagle's algorithm (measured: one command received by the simulator
/// put 35 ms on the p99 of its telemetry). After a connection is up, this
/// finds the process's TCP sockets whose peer is the broker's port and sets
/// TCP_NODELAY on them. Any thread; header-only, so the simulator can use it.

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace peregrine::mqtt {

/// The port of `tcp://host:port` (or ssl://, mqtt://…); 1883 when absent.
inline int broker_port(const std::string& url) {
  const auto colon = url.rfind(':');
  const auto scheme = url.find("://");
  if (colon == std::string::npos || colon <= scheme + 2) return 1883;
  return std::atoi(url.c_str() + colon + 1);
}

/// Sets TCP_NODELAY on every connected TCP socket of this process whose
/// peer port is `port`. Returns how many sockets it set.
inline int set_nodelay_to_port(int port) {
  int set = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (const dirent* e = ::readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    int peer_port = -1;
    if (peer.ss_family == AF_INET) peer_port = ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port);
    if (peer.ss_family == AF_INET6) peer_port = ntohs(reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port);
    if (peer_port != port) continue;
    const int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++set;
  }
  ::closedir(dir);
  return set;
}

}  // namespace peregrine::mqtt
