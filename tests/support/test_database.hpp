#pragma once
/// A fresh PostgreSQL database `it_<random>` per test, created through the
/// admin URL and dropped (WITH FORCE) in the destructor, with read helpers
/// over the contract's `readings` view. Every helper opens its own connection,
/// so the object survives the server being stopped and started. Test thread.
///
/// Set up the way a DBA would for production: the database belongs to a
/// login that is not a superuser (`peregrine_it`, so row-level security is
/// not bypassed), and the server's role `peregrine_app` exists and is granted
/// to it. `url()` is that owner's (for the server); the helpers read as the
/// admin, past the wall, to check what the server did.

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::test {

struct ReadingRow {
  std::string device_id;
  std::string metric;
  std::int64_t ts_us = 0;
  double value = 0;
};

class TestDatabase {
 public:
  explicit TestDatabase(const std::string& admin_url);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  /// The owner's URL: what the server under test connects with.
  const std::string& url() const noexcept { return url_; }
  /// A login in `peregrine_reader` (read-only, `peregrine.tenant` = '*'), as Grafana would use.
  std::string reader_url() const;
  const std::string& name() const noexcept { return name_; }

  void exec(const std::string& sql) const;
  /// First column of the first row as an integer (0 when NULL).
  std::int64_t scalar(const std::string& sql) const;

  /// Rows in `readings`, optionally for one device and/or metric.
  std::int64_t count_readings(const std::string& device = "", const std::string& metric = "") const;
  /// Rows of `readings` for a device (and metric if given), ordered by metric, ts.
  std::vector<ReadingRow> readings(const std::string& device, const std::string& metric = "") const;
  /// Registers a device directly in the `devices` table (default tenant).
  void insert_device(const std::string& id) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
  std::string admin_db_url_;  // this database as the admin
};

}  // namespace peregrine::test
