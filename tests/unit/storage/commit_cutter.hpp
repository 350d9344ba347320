#pragma once
/// A TCP proxy in front of PostgreSQL that loses one COMMIT's answer: after
/// the client asked for `txid_current()` (the storage writer does, before
/// the rows of a batch) on a connection, the next
/// `COMMIT` is passed to the server, which commits it, and then both sides of
/// that connection are cut before the answer comes back. The client is left
/// with a COMMIT in doubt. Later connections are passed through untouched.
/// Test thread constructs and destroys; its own threads pump the bytes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace peregrine::storage::testing {

class CommitCutter {
 public:
  explicit CommitCutter(int pg_port) : pg_port_(pg_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("CommitCutter: cannot listen");
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~CommitCutter() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
  }

  int port() const noexcept { return port_; }
  /// Whether a COMMIT's answer was cut.
  bool cut() const noexcept { return cut_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(pg_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      std::lock_guard lk(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { upstream(client, server); });
      pumps_.emplace_back([client, server] { pump(server, client); });
    }
  }

  // Client → server, watching for the COMMIT to cut.
  void upstream(int client, int server) {
    bool armed = false;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) break;
      const std::string_view chunk(buf, static_cast<std::size_t>(n));
      if (!cut_ && chunk.find("txid_current()") != std::string_view::npos) armed = true;
      if (!cut_ && armed && chunk.find("COMMIT") != std::string_view::npos) {
        // The client loses its side first, so no answer can reach it; the
        // server then gets the COMMIT and has time to carry it out.
        ::shutdown(client, SHUT_RDWR);
        send_all(server, buf, static_cast<std::size_t>(n));
        cut_ = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ::shutdown(server, SHUT_RDWR);
        return;
      }
      if (!send_all(server, buf, static_cast<std::size_t>(n))) break;
    }
    ::shutdown(server, SHUT_WR);
  }

  static void pump(int from, int to) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0 || !send_all(to, buf, static_cast<std::size_t>(n))) break;
    }
    ::shutdown(to, SHUT_WR);
  }

  static bool send_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }

  int pg_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

}  // namespace peregrine::storage::testing
