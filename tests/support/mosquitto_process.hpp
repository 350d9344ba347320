#pragma once
/// A Mosquitto of a test's own (for tests that need settings the shared
/// anonymous broker cannot have: authentication, TLS), in a throwaway
/// directory removed at the end, listening on 127.0.0.1:port().

#include <sys/types.h>

#include <string>

namespace peregrine::test {

class MosquittoProcess {
 public:
  /// Makes the directory `<prefix><random>` and picks a free port.
  explicit MosquittoProcess(const std::string& prefix);
  ~MosquittoProcess();
  MosquittoProcess(const MosquittoProcess&) = delete;
  MosquittoProcess& operator=(const MosquittoProcess&) = delete;

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }
  /// dir()/mosquitto.conf: write base_conf() and the test's own lines there.
  std::string conf_file() const { return dir_ + "/mosquitto.conf"; }
  std::string pid_file() const { return dir_ + "/mosquitto.pid"; }
  /// listener, no persistence, log and pid file in dir(), the current user.
  std::string base_conf() const;
  /// Starts `mosquitto -c conf_file()`; true once its pid file exists.
  bool start();
  std::string log() const;

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace peregrine::test
