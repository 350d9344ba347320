#pragma once
/// Mosquitto accounts generated from the device registry. Each device logs in
/// to the broker with user name = its id and password = its device token; the
/// broker's ACL file (scripts/lib/mosquitto_auth.sh) lets it publish only
/// under `sensors/{id}/…` and read only `devices/{id}/…`. The raw token is
/// known only when a device is created or its token rotated: then its
/// mosquitto_passwd hash is stored in `devices.mqtt_password_hash` and the
/// password file is rewritten (atomic rename) from that column, with
/// Peregrine's own broker account first and the lines of `<file>.static`
/// (accounts such as a gateway) next, and Mosquitto is sent SIGHUP (pid
/// from a pid file) to reload it.
///
/// The device accounts come from storage::DeviceRepository::broker_accounts
/// (or sync_broker_accounts, which reads and syncs on a pool thread).
/// sync() blocks (file I/O, a signal): call it from a query-pool thread or at
/// start-up, never on the event loop. Thread-safe (rewrites are serialised).

#include <mutex>
#include <string>
#include <string_view>

#include <vector>

namespace peregrine::auth {

/// `$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512 with a
/// 12-byte random salt, what `mosquitto_passwd` of Mosquitto 2.0 writes.
std::string mosquitto_hash(std::string_view password, int iterations = 101);
/// Whether `password` matches a `$7$` hash.
bool mosquitto_verify(std::string_view password, std::string_view hash);

/// One device's broker login: its id and the mosquitto_hash of its token.
struct BrokerAccount {
  std::string user;
  std::string password_hash;
};

struct MqttAccountsOptions {
  std::string passwd_file;  ///< empty: sync() does nothing
  std::string pid_file;     ///< Mosquitto's pid file; empty: no SIGHUP
  std::string own_user;     ///< Peregrine's broker account (may be empty)
  std::string own_password;
};

class MqttAccounts {
 public:
  explicit MqttAccounts(MqttAccountsOptions opts);

  bool enabled() const noexcept { return !opts_.passwd_file.empty(); }

  /// Rewrites the password file (Peregrine's account, the static lines, then
  /// `devices`) and signals Mosquitto. False (logged) when the file cannot be
  /// written; a missing or stale pid file only logs.
  bool sync(const std::vector<BrokerAccount>& devices);

 private:
  MqttAccountsOptions opts_;
  std::string own_hash_;
  std::mutex mutex_;
};

}  // namespace peregrine::auth
