#pragma once
/// A fixture giving each test its own fresh, migrated PostgreSQL database,
/// created through the admin URL in PEREGRINE_TEST_PG_URL and dropped after.
/// Tests are skipped when that variable is unset (scripts/test sets it).

#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <peregrine/storage/migrator.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage::testing {

inline std::string migrations_dir() {
  const std::string here = __FILE__;
  // Also when included from another test folder as "../storage/pg_test.hpp".
  return here.substr(0, here.rfind("/tests/unit/")) + "/migrations";
}

/// `url` with its database name replaced by `db`.
inline std::string with_database(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = url.find('?');
  const std::string base = url.substr(0, path == std::string::npos ? query : path);
  return base + "/" + db + (query == std::string::npos ? "" : url.substr(query));
}

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* admin = std::getenv("PEREGRINE_TEST_PG_URL");
    if (admin == nullptr || *admin == '\0') GTEST_SKIP() << "PEREGRINE_TEST_PG_URL is not set";
    admin_url_ = admin;
    std::random_device rd;
    db_ = "t_" + std::to_string(rd()) + std::to_string(rd());
    pqxx::connection c(admin_url_);
    pqxx::nontransaction(c).exec("CREATE DATABASE " + db_);
    url_ = with_database(admin_url_, db_);
  }

  void TearDown() override {
    if (db_.empty()) return;
    pqxx::connection c(admin_url_);
    pqxx::nontransaction(c).exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  /// Migrates and prepares the server's role, as `peregrine serve` does.
  void migrate_db() {
    storage::migrate(url_, migrations_dir());
    storage::prepare_app_role(target());
  }

  /// What the server would use: this database as the owner, switching to
  /// the default app role.
  PgTarget target() const { return {url_, "peregrine_app", ""}; }

  /// Runs `sql` as the owner, past the tenant wall, in one transaction
  /// (seeding rows a test reads back through the server's role).
  void owner_exec(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }

  /// First column of the first row of `sql`, as T.
  template <class T>
  T query_value(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<T>();
  }

  std::string admin_url_;
  std::string db_;
  std::string url_;
};

}  // namespace peregrine::storage::testing
