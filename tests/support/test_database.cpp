#include "support/test_database.hpp"

#include <iostream>
#include <stdexcept>

#include <pqxx/pqxx>

#include "support/test_env.hpp"

namespace peregrine::test {

namespace {
// postgresql://user@host:port/dbname?opts → same URL naming `db`.
std::string with_database(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = url.find('?');
  const std::string base = url.substr(0, slash == std::string::npos ? query : slash);
  const std::string tail = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + db + tail;
}

// postgresql://user@host… → the same URL logging in as `user`.
std::string with_user(const std::string& url, const std::string& user) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  return url.substr(0, scheme + 3) + user + url.substr(at);
}

constexpr const char* kOwner = "peregrine_it";
constexpr const char* kAppRole = "peregrine_app";
constexpr const char* kReaderLogin = "peregrine_it_grafana";

std::string where_clause(pqxx::work& w, const std::string& device, const std::string& metric) {
  std::string where = " WHERE true";
  if (!device.empty()) where += " AND device_id = " + w.quote(device);
  if (!metric.empty()) where += " AND metric = " + w.quote(metric);
  return where;
}
}  // namespace

TestDatabase::TestDatabase(const std::string& admin_url)
    : admin_url_(admin_url),
      name_("it_" + random_hex(10)),
      url_(with_user(with_database(admin_url, name_), kOwner)),
      admin_db_url_(with_database(admin_url, name_)) {
  pqxx::connection c{admin_url_};
  pqxx::nontransaction w{c};
  // Roles are per cluster: made once, by whichever test comes first.
  w.exec(std::string("DO $$ BEGIN CREATE ROLE ") + kOwner +
         " LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  w.exec(std::string("DO $$ BEGIN CREATE ROLE ") + kAppRole +
         " NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  w.exec(std::string("GRANT ") + kAppRole + " TO " + kOwner);
  // The read-only role of outside readers (migrations/0012) and a Grafana-like login in it.
  w.exec("DO $$ BEGIN CREATE ROLE peregrine_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  w.exec("ALTER ROLE peregrine_reader SET default_transaction_read_only = on");
  w.exec(std::string("DO $$ BEGIN CREATE ROLE ") + kReaderLogin +
         " LOGIN IN ROLE peregrine_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  w.exec(std::string("ALTER ROLE ") + kReaderLogin + " SET default_transaction_read_only = on");
  w.exec(std::string("ALTER ROLE ") + kReaderLogin + " SET peregrine.tenant = '*'");
  w.exec("CREATE DATABASE " + name_ + " OWNER " + kOwner);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c{admin_url_};
    pqxx::nontransaction w{c};
    w.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "could not drop test database " << name_ << ": " << e.what() << "\n";
  }
}

std::string TestDatabase::reader_url() const { return with_user(with_database(admin_url_, name_), kReaderLogin); }

void TestDatabase::exec(const std::string& sql) const {
  pqxx::connection c{admin_db_url_};
  pqxx::work w{c};
  w.exec(sql);
  w.commit();
}

std::int64_t TestDatabase::scalar(const std::string& sql) const {
  pqxx::connection c{admin_db_url_};
  pqxx::work w{c};
  const auto r = w.exec(sql);
  if (r.empty() || r[0][0].is_null()) return 0;
  return r[0][0].as<std::int64_t>();
}

std::int64_t TestDatabase::count_readings(const std::string& device,
                                          const std::string& metric) const {
  pqxx::connection c{admin_db_url_};
  pqxx::work w{c};
  const auto r = w.exec("SELECT count(*) FROM readings" + where_clause(w, device, metric));
  return r[0][0].as<std::int64_t>();
}

std::vector<ReadingRow> TestDatabase::readings(const std::string& device,
                                               const std::string& metric) const {
  pqxx::connection c{admin_db_url_};
  pqxx::work w{c};
  // extract() returns numeric in PostgreSQL 14+, so the µs are exact.
  const auto r = w.exec(
      "SELECT device_id, metric, (extract(epoch FROM ts) * 1000000)::bigint, value "
      "FROM readings" +
      where_clause(w, device, metric) + " ORDER BY metric, ts");
  std::vector<ReadingRow> rows;
  rows.reserve(r.size());
  for (const auto& row : r)
    rows.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                    row[2].as<std::int64_t>(), row[3].as<double>()});
  return rows;
}

void TestDatabase::insert_device(const std::string& id) const {
  pqxx::connection c{admin_db_url_};
  pqxx::work w{c};
  w.exec("INSERT INTO devices (id, tenant_id) VALUES (" + w.quote(id) + ", 1)");
  w.commit();
}

}  // namespace peregrine::test
