#include "support/peregrine_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "support/test_env.hpp"

extern char** environ;

namespace peregrine::test {

namespace {
std::vector<std::string> child_environment(const ProcessOptions& o, int port) {
  std::vector<std::string> env;
  // The caller's PEREGRINE_* settings must not leak into the server under test.
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "PEREGRINE_", 10) != 0) env.emplace_back(*e);
  }
  std::map<std::string, std::string> vars{
      {"PEREGRINE_PG_URL", o.pg_url},
      {"PEREGRINE_REDIS_URL", o.redis_url},
      {"PEREGRINE_MQTT_URL", o.mqtt_url},
      {"PEREGRINE_MQTT_CLIENT_ID", o.mqtt_client_id},
      {"PEREGRINE_HTTP_ADDR", "127.0.0.1:" + std::to_string(port)},
      {"PEREGRINE_LOG_LEVEL", "info"},
      {"PEREGRINE_WEB_ROOT", std::string(PEREGRINE_SOURCE_DIR) + "/web"},
  };
  for (const auto& [k, v] : o.extra_env) vars[k] = v;
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  return env;
}
}  // namespace

PeregrineProcess::PeregrineProcess(ProcessOptions opts, std::vector<std::string> args)
    : opts_(std::move(opts)), port_(free_port()) {
  if (opts_.extra_env.count("PEREGRINE_STORAGE_SPILL_DIR") == 0) {
    own_spill_dir_ = "/tmp/peregrine-itest-spill-" + random_hex(12);
    opts_.extra_env["PEREGRINE_STORAGE_SPILL_DIR"] = own_spill_dir_;
  }
  std::vector<std::string> env = child_environment(opts_, port_);
  std::vector<std::string> argv_s{PEREGRINE_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  const int log_fd = ::open(opts_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open log " + opts_.log_path);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (::chdir(PEREGRINE_SOURCE_DIR) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
}

PeregrineProcess::~PeregrineProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!own_spill_dir_.empty()) std::filesystem::remove_all(own_spill_dir_);
}

bool PeregrineProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;
  }
  return false;
}

std::optional<int> PeregrineProcess::wait_exit(std::chrono::milliseconds timeout) {
  eventually([&] { return !running(); }, timeout, std::chrono::milliseconds(20));
  return exit_code_;
}

bool PeregrineProcess::wait_ready(std::chrono::milliseconds timeout) {
  const auto client = http();
  bool exited = false;
  const bool ok = eventually(
      [&] {
        if (!running()) {
          exited = true;
          return true;
        }
        return client.get("/readyz", std::chrono::seconds(2)).status == 200;
      },
      timeout, std::chrono::milliseconds(100));
  return ok && !exited;
}

std::optional<int> PeregrineProcess::sigterm_and_wait(std::chrono::milliseconds timeout) {
  if (running()) ::kill(pid_, SIGTERM);
  return wait_exit(timeout);
}

std::string PeregrineProcess::log_tail() const { return file_tail(opts_.log_path); }

}  // namespace peregrine::test
