#include "support/mosquitto_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "support/test_env.hpp"

namespace peregrine::test {

MosquittoProcess::MosquittoProcess(const std::string& prefix)
    : dir_(prefix + random_hex(8)), port_(free_port()) {
  std::filesystem::create_directories(dir_);
}

MosquittoProcess::~MosquittoProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string MosquittoProcess::base_conf() const {
  const char* user = ::getuid() == 0 ? "root" : std::getenv("USER");
  return "listener " + std::to_string(port_) + " 127.0.0.1\n" + "persistence false\n" +
         "log_dest file " + dir_ + "/mosquitto.log\n" + "pid_file " + pid_file() + "\n" +
         "user " + (user ? user : "root") + "\n";
}

bool MosquittoProcess::start() {
  const std::string conf = conf_file();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execlp("mosquitto", "mosquitto", "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid_ > 0 &&
         eventually([&] { return std::filesystem::exists(pid_file()); }, std::chrono::seconds(10));
}

std::string MosquittoProcess::log() const { return file_tail(dir_ + "/mosquitto.log"); }

}  // namespace peregrine::test
