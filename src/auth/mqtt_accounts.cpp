#include <peregrine/auth/mqtt_accounts.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <vector>

#include <openssl/evp.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <peregrine/auth/secrets.hpp>

namespace peregrine::auth {

namespace {

constexpr std::size_t kSaltBytes = 12;
constexpr std::size_t kHashBytes = 64;

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

std::vector<unsigned char> unbase64(std::string_view s) {
  std::vector<unsigned char> out(s.size());
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return {};
  }
  out.resize(len);
  return out;
}

std::vector<unsigned char> pbkdf2(std::string_view password, const unsigned char* salt,
                                  std::size_t salt_len, int iterations, std::size_t out_len) {
  std::vector<unsigned char> out(out_len);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt,
                        static_cast<int>(salt_len), iterations, EVP_sha512(),
                        static_cast<int>(out_len), out.data()) != 1) {
    return {};
  }
  return out;
}

// Writes `text` next to `path` and renames it over `path`, keeping the old
// file's owner and mode (Mosquitto may read it as another user).
bool replace_file(const std::string& path, const std::string& text) {
  struct stat old {};
  const bool had = ::stat(path.c_str(), &old) == 0;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        had ? (old.st_mode & 0777) : 0640);
  if (fd < 0) return false;
  if (had) {
    [[maybe_unused]] const int ignored = ::fchown(fd, old.st_uid, old.st_gid);
    ::fchmod(fd, old.st_mode & 0777);
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

// SIGHUP to the Mosquitto whose pid is in `pid_file`; a pid that is not a
// mosquitto process (stale file) is left alone.
void signal_reload(const std::string& pid_file) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) {
    spdlog::warn("mqtt accounts: no pid in {}; Mosquitto not reloaded", pid_file);
    return;
  }
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  if (!name.starts_with("mosquitto")) {
    spdlog::warn("mqtt accounts: pid {} from {} is not mosquitto; not reloaded", pid, pid_file);
    return;
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    spdlog::warn("mqtt accounts: cannot signal Mosquitto (pid {})", pid);
  }
}

}  // namespace

std::string mosquitto_hash(std::string_view password, int iterations) {
  unsigned char salt[kSaltBytes];
  randombytes_buf(salt, sizeof salt);
  const auto hash = pbkdf2(password, salt, sizeof salt, iterations, kHashBytes);
  if (hash.empty()) return {};
  return "$7$" + std::to_string(iterations) + "$" + base64(salt, sizeof salt) + "$" +
         base64(hash.data(), hash.size());
}

bool mosquitto_verify(std::string_view password, std::string_view hash) {
  if (!hash.starts_with("$7$")) return false;
  hash.remove_prefix(3);
  const auto d1 = hash.find('$');
  if (d1 == std::string_view::npos) return false;
  const auto d2 = hash.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int iterations = 0;
  for (char ch : hash.substr(0, d1)) {
    if (ch < '0' || ch > '9' || iterations > 10'000'000) return false;
    iterations = iterations * 10 + (ch - '0');
  }
  const auto salt = unbase64(hash.substr(d1 + 1, d2 - d1 - 1));
  const auto want = unbase64(hash.substr(d2 + 1));
  if (iterations < 1 || salt.empty() || want.empty()) return false;
  const auto got = pbkdf2(password, salt.data(), salt.size(), iterations, want.size());
  return got.size() == want.size() && sodium_memcmp(got.data(), want.data(), got.size()) == 0;
}

MqttAccounts::MqttAccounts(MqttAccountsOptions opts) : opts_(std::move(opts)) {
  if (enabled() && !opts_.own_user.empty()) own_hash_ = mosquitto_hash(opts_.own_password);
}

bool MqttAccounts::sync(const std::vector<BrokerAccount>& devices) {
  if (!enabled()) return true;
  std::lock_guard lock(mutex_);
  std::string text;
  if (!own_hash_.empty()) text += opts_.own_user + ":" + own_hash_ + "\n";
  // Accounts that are neither Peregrine nor a device (a gateway, the
  // simulator) are kept in `<file>.static` and copied in as they are.
  if (std::ifstream extra(opts_.passwd_file + ".static"); extra) {
    for (std::string line; std::getline(extra, line);) {
      if (!line.empty()) text += line + "\n";
    }
  }
  for (const BrokerAccount& a : devices) {
    // The broker's own account wins over a device of the same name.
    if (a.user == opts_.own_user) continue;
    text += a.user + ":" + a.password_hash + "\n";
  }
  if (!replace_file(opts_.passwd_file, text)) {
    spdlog::error("mqtt accounts: cannot write {}", opts_.passwd_file);
    return false;
  }
  if (!opts_.pid_file.empty()) signal_reload(opts_.pid_file);
  return true;
}

}  // namespace peregrine::auth
