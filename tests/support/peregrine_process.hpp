#pragma once
/// Runs the real `peregrine` binary (PEREGRINE_BINARY) as a child process, in
/// PEREGRINE_SOURCE_DIR (it reads migrations/ and web/ from there), with its
/// configuration in the environment and its output in a log file. The child
/// is killed when this object goes away (and by the kernel if the test dies).
/// Unless `extra_env` names PEREGRINE_STORAGE_SPILL_DIR, each process gets a
/// spill directory of its own under /tmp, removed with this object (the
/// default, var/spill in the source tree, would be shared between tests).
/// Test thread only.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/http_client.hpp"

namespace peregrine::test {

struct ProcessOptions {
  std::string pg_url;
  std::string redis_url;
  std::string mqtt_url;
  std::string mqtt_client_id;
  std::map<std::string, std::string> extra_env;  ///< e.g. PEREGRINE_AUTO_PROVISION=false
  std::string log_path;                          ///< appended to
};

class PeregrineProcess {
 public:
  /// Starts `peregrine <args>` (default `serve`) on a free HTTP port.
  /// Throws std::runtime_error when fork/exec fails.
  explicit PeregrineProcess(ProcessOptions opts, std::vector<std::string> args = {"serve"});
  ~PeregrineProcess();
  PeregrineProcess(const PeregrineProcess&) = delete;
  PeregrineProcess& operator=(const PeregrineProcess&) = delete;

  /// Polls GET /readyz until 200. False when the process exits or `timeout`
  /// passes first.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Sends SIGTERM and waits for the exit. The exit code, 128+signal when
  /// killed by a signal, or nullopt when it did not exit within `timeout`.
  std::optional<int> sigterm_and_wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Waits for the process to exit by itself (e.g. `peregrine migrate`).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

  int http_port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  HttpClient http() const { return HttpClient("127.0.0.1", port_); }
  const std::string& log_path() const noexcept { return opts_.log_path; }
  std::string log_tail() const;

 private:
  ProcessOptions opts_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string own_spill_dir_;
};

}  // namespace peregrine::test
