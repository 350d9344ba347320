// The second wall: row-level security as the server's role sees it. Every
// tenant-owned table holds a row of tenant 1 and of tenant 2; SQL that forgets
// its tenant filter must still see only the scope's rows, write none outside
// it, and see nothing at all when no scope was set.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <peregrine/storage/pg.hpp>

#include "pg_test.hpp"

namespace peregrine::storage {
namespace {

// Tenant-owned tables (and the contract's view), each seeded with one row per tenant.
const std::vector<std::string> kWalled = {"tenants", "devices",    "series", "readings",
                                          "users",   "rules",      "alerts", "alert_events",
                                          "refresh_tokens", "audit_log"};

class TenantWallTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
    w.exec("SELECT peregrine_create_day_partition(current_date)");
    for (int t = 1; t <= 2; ++t) {
      const std::string n = std::to_string(t);
      w.exec("INSERT INTO devices (id, tenant_id) VALUES ('d" + n + "', " + n + ")");
      w.exec("INSERT INTO series (id, tenant_id, device_id, metric) VALUES (" + n + ", " + n +
             ", 'd" + n + "', 'co')");
      w.exec("INSERT INTO readings_raw (series_id, ts, value) VALUES (" + n + ", now(), 1)");
      w.exec("INSERT INTO users (id, tenant_id, email, role, password_hash) VALUES (" + n + ", " +
             n + ", 'u" + n + "@example.org', 'admin', 'x')");
      w.exec("INSERT INTO rules (tenant_id, name, metric, scope, kind, params, severity) VALUES (" +
             n + ", 'r', 'co', '{}', 'threshold', '{}', 'critical')");
      w.exec("INSERT INTO alerts (id, tenant_id, rule_id, device_id, metric, severity, state, "
             "value, opened_at, updated_at) VALUES (" + n + ", " + n + ", 1, 'd" + n +
             "', 'co', 'critical', 'active', 1, now(), now())");
      w.exec("INSERT INTO alert_events (alert_id, kind, actor, at) VALUES (" + n +
             ", 'opened', 'rules', now())");
      w.exec("INSERT INTO refresh_tokens (token_hash, family, user_id, expires_at) VALUES ('h" + n +
             "', 'f', " + n + ", now() + interval '1 day')");
      w.exec("INSERT INTO audit_log (tenant_id, action) VALUES (" + n + ", 'test')");
    }
    w.commit();
  }

  std::int64_t count(pqxx::connection& c, const std::string& table) {
    pqxx::read_transaction tx(c);
    return tx.exec1("SELECT count(*) FROM " + table)[0].as<std::int64_t>();
  }
};

TEST_F(TenantWallTest, AScopeSeesOnlyItsTenantsRowsWithoutAnyFilter) {
  const auto one = connect(target(), Scope::tenant(1));
  const auto two = connect(target(), Scope::tenant(2));
  for (const auto& table : kWalled) {
    EXPECT_EQ(count(*one, table), 1) << table;
    EXPECT_EQ(count(*two, table), 1) << table;
  }
  pqxx::read_transaction tx(*two);
  EXPECT_EQ(tx.exec1("SELECT device_id FROM readings")[0].as<std::string>(), "d2");
  EXPECT_EQ(tx.exec1("SELECT email FROM users")[0].as<std::string>(), "u2@example.org");
}

TEST_F(TenantWallTest, NoScopeSeesNothingAndAllSeesEverything) {
  const auto none = connect(target(), Scope::none());
  const auto all = connect(target(), Scope::all());
  for (const auto& table : kWalled) {
    EXPECT_EQ(count(*none, table), 0) << table;
    EXPECT_EQ(count(*all, table), 2) << table;
  }
}

TEST_F(TenantWallTest, SetScopeSwitchesAnOpenConnection) {
  const auto c = connect(target(), Scope::tenant(1));
  set_scope(*c, Scope::tenant(2));
  pqxx::read_transaction tx(*c);
  EXPECT_EQ(tx.exec1("SELECT id FROM devices")[0].as<std::string>(), "d2");
}

TEST_F(TenantWallTest, WritesOutsideTheScopeAreRefusedOrTouchNothing) {
  const auto one = connect(target(), Scope::tenant(1));
  {
    pqxx::work w(*one);
    EXPECT_THROW(w.exec("INSERT INTO devices (id, tenant_id) VALUES ('x', 2)"),
                 pqxx::insufficient_privilege);
  }
  {
    pqxx::work w(*one);
    EXPECT_THROW(w.exec("UPDATE devices SET tenant_id = 2 WHERE id = 'd1'"),
                 pqxx::insufficient_privilege);
  }
  pqxx::work w(*one);
  EXPECT_EQ(w.exec("UPDATE devices SET name = 'taken' WHERE id = 'd2'").affected_rows(), 0u);
  EXPECT_EQ(w.exec("DELETE FROM alerts").affected_rows(), 1u);
  EXPECT_EQ(w.exec("DELETE FROM users WHERE id = 2").affected_rows(), 0u);
  w.commit();
  const auto all = connect(target(), Scope::all());
  EXPECT_EQ(count(*all, "alerts"), 1);
  EXPECT_EQ(count(*all, "devices WHERE name = 'taken'"), 0);
}

TEST_F(TenantWallTest, TheServersRoleCannotTakeTheWallDown) {
  const auto all = connect(target(), Scope::all());
  {
    pqxx::read_transaction tx(*all);
    const auto r = tx.exec1("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                            "WHERE rolname = current_user");
    EXPECT_EQ(r[0].as<std::string>(), "peregrine_app");
    EXPECT_FALSE(r[1].as<bool>());
    EXPECT_FALSE(r[2].as<bool>());
  }
  const std::vector<std::string> refused = {
      "ALTER TABLE devices DISABLE ROW LEVEL SECURITY",
      "DROP POLICY tenant_isolation ON devices",
      "TRUNCATE alerts",
      "SELECT count(*) FROM schema_migrations",
      "CREATE TABLE readings_raw_p20000101 PARTITION OF readings_raw "
      "FOR VALUES FROM ('2000-01-01') TO ('2000-01-02')",
  };
  for (const auto& sql : refused) {
    pqxx::work w(*all);
    EXPECT_THROW(w.exec(sql), pqxx::sql_error) << sql;
  }
}

TEST_F(TenantWallTest, WithItsOwnLoginTheRoleCannotResetBackToTheOwner) {
  {
    pqxx::connection c(url_);
    pqxx::nontransaction(c).exec("ALTER ROLE peregrine_app LOGIN");
  }
  // postgresql://postgres@host… → postgresql://peregrine_app@host…
  std::string app_url = url_;
  app_url.replace(app_url.find("://") + 3, app_url.find('@') - app_url.find("://") - 3,
                  "peregrine_app");
  PgTarget t = target();
  t.app_url = app_url;
  const auto c = connect(t, Scope::tenant(1));
  pqxx::nontransaction w(*c);
  w.exec("RESET ROLE");
  EXPECT_EQ(w.exec1("SELECT current_user")[0].as<std::string>(), "peregrine_app");
  EXPECT_EQ(w.exec1("SELECT count(*) FROM devices")[0].as<int>(), 1);
}

TEST_F(TenantWallTest, DayPartitionsAreMadeAndDroppedThroughTheOwnersFunctions) {
  const auto all = connect(target(), Scope::all());
  pqxx::work w(*all);
  w.exec("SELECT peregrine_create_day_partition('2000-01-01'), "
         "peregrine_create_day_partition('2000-01-02')");
  w.exec("INSERT INTO readings_raw (series_id, ts, value) VALUES (1, '2000-01-01 23:59:59+00', 1)");
  EXPECT_EQ(w.exec1("SELECT peregrine_drop_day_partitions_before('2000-01-02')")[0].as<int>(), 1);
  EXPECT_EQ(w.exec1("SELECT string_agg(relname, ',') FROM pg_class "
                    "WHERE relkind = 'r' AND relname LIKE 'readings_raw_p2000%'")[0]
                .as<std::string>(),
            "readings_raw_p20000102");
  // A day's partition comes with its rollup month and year; those are
  // dropped when all of them is past retention.
  w.exec("INSERT INTO rollup_1m VALUES (1, '2000-01-31 23:59+00', 1, 1, 1, 1, '2000-01-31 23:59+00', 1, "
         "'2000-01-31 23:59+00', 1)");
  EXPECT_EQ(w.exec1("SELECT peregrine_drop_rollup_partitions_before('1m', '2000-01-31 23:59:59+00')")[0].as<int>(), 0);
  EXPECT_EQ(w.exec1("SELECT peregrine_drop_rollup_partitions_before('1m', '2000-02-01 00:00+00')")[0].as<int>(), 1);
  EXPECT_EQ(w.exec1("SELECT peregrine_drop_rollup_partitions_before('1h', '2000-12-31 00:00+00')")[0].as<int>(), 0);
  EXPECT_EQ(w.exec1("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                    "WHERE relkind = 'r' AND relname ~ '^rollup_1[mh]_p2000'")[0]
                .as<std::string>(),
            "rollup_1h_p2000");
  EXPECT_THROW(w.exec("SELECT peregrine_drop_rollup_partitions_before('raw', now())"), pqxx::sql_error);
}

TEST_F(TenantWallTest, PrepareRefusesARoleThatWouldBypassTheWall) {
  {
    pqxx::connection c(url_);
    pqxx::nontransaction w(c);
    w.exec("DO $$ BEGIN CREATE ROLE wall_bypass NOLOGIN BYPASSRLS; "
           "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  }
  EXPECT_THROW(prepare_app_role({url_, "wall_bypass", ""}), std::runtime_error);
  EXPECT_THROW(prepare_app_role({url_, "postgres", ""}), std::runtime_error);
  EXPECT_THROW(prepare_app_role({url_, "", ""}), std::runtime_error);
}

TEST_F(TenantWallTest, PrepareSaysWhyWhenThisLoginCannotHaveTheRole) {
  {
    pqxx::connection c(url_);
    pqxx::nontransaction w(c);
    w.exec("DO $$ BEGIN CREATE ROLE wall_plain LOGIN; "
           "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  }
  std::string plain = url_;
  plain.replace(plain.find("://") + 3, plain.find('@') - plain.find("://") - 3, "wall_plain");
  const auto why = prepare_app_role({plain, "wall_never_created", ""});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("cannot create it (permission denied"), std::string::npos) << *why;
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM pg_roles WHERE rolname = 'wall_never_created'"),
            0);
}

}  // namespace
}  // namespace peregrine::storage
