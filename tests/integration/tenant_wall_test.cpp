// The row-level-security wall around a running server: the database belongs
// to a login that is not a superuser (TestDatabase), the server runs as
// peregrine_app, and outside readers (psql, Grafana) logging in as the owner
// see every tenant unless they name one.
#include <filesystem>
#include <fstream>

#include <pqxx/pqxx>

#include "auth_fixture.hpp"

namespace peregrine::test {
namespace {

using nlohmann::json;

class TenantWallTest : public AuthTest {
 protected:
  /// First column of the first row, as the owner, after `setup` (e.g. SET).
  std::int64_t owner_scalar(const std::string& sql, const std::string& setup = "") const {
    pqxx::connection c(db_->url());
    pqxx::work w(c);
    if (!setup.empty()) w.exec(setup);
    return w.exec1(sql)[0].as<std::int64_t>();
  }
};

TEST_F(TenantWallTest, TwoTenantsReadingsReachTheServerAndOutsideReaders) {
  ASSERT_TRUE(start());
  EXPECT_EQ(metric("peregrine_pg_tenant_wall"), 1) << "the server runs as peregrine_app";
  const std::string root = root_token();
  const auto t = call("POST", "/api/v1/tenants", root, R"({"name":"north"})");
  ASSERT_EQ(t.status, 201) << t.body;
  const std::int64_t north = t.json()["id"];
  const std::string da = device("wall-a"), db = device("wall-b");
  const auto ca = call("POST", "/api/v1/devices", root, json{{"id", da}}.dump());
  ASSERT_EQ(ca.status, 201) << ca.body;
  const auto cb = call("POST", "/api/v1/devices", root, json{{"id", db}}.dump(),
                       {{"X-Peregrine-Tenant", std::to_string(north)}});
  ASSERT_EQ(cb.status, 201) << cb.body;

  for (const auto& [id, token] : {std::pair{da, ca.json()["token"].get<std::string>()},
                                  std::pair{db, cb.json()["token"].get<std::string>()}}) {
    const auto r = call("POST", "/api/v1/devices/" + id + "/telemetry", "",
                        telemetry(now_ms() - 1000, 1, {{"co", 4.5}}).dump(),
                        {{"X-Device-Token", token}});
    ASSERT_EQ(r.status, 202) << r.body;
  }
  ASSERT_TRUE(wait_rows(1, da));
  ASSERT_TRUE(wait_rows(1, db));

  // Through the API, each tenant's admin sees its own device only.
  ASSERT_GT(create_user(root, "wall-north@example.org", "admin", north), 0);
  const std::string admin_north = access_token("wall-north@example.org", "password-123");
  const auto listed = call("GET", "/api/v1/devices", admin_north);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json()["items"].size(), 1u) << listed.body;
  EXPECT_EQ(listed.json()["items"][0]["id"], db);
  EXPECT_EQ(call("GET", "/api/v1/devices/" + da + "/readings?metric=co", admin_north).status, 404);
  const auto own = call("GET", "/api/v1/devices/" + db + "/readings?metric=co", admin_north);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(own.json()["points"].size(), 1u);

  // The owner's login (psql, Grafana) sees every tenant in the contract's
  // view, and only one when it names it.
  const std::string both = "SELECT count(*) FROM readings WHERE device_id IN ('" + da + "', '" + db + "')";
  EXPECT_EQ(owner_scalar(both), 2);
  EXPECT_EQ(owner_scalar(both, "SET LOCAL peregrine.tenant = '" + std::to_string(north) + "'"), 1);
  EXPECT_EQ(owner_scalar("SELECT count(*) FROM devices WHERE id = '" + da + "'",
                         "SET LOCAL peregrine.tenant = '" + std::to_string(north) + "'"),
            0);
  // The server's role, with no tenant named, sees nothing at all.
  EXPECT_EQ(owner_scalar("SELECT count(*) FROM readings", "SET LOCAL ROLE peregrine_app"), 0);
  EXPECT_EQ(owner_scalar("SELECT count(*) FROM devices", "SET LOCAL ROLE peregrine_app"), 0);

  // Grafana's login in peregrine_reader: the documented views, read-only, nothing else.
  pqxx::connection grafana(db_->reader_url());
  const auto reader_scalar = [&](const std::string& sql, const std::string& setup = "") {
    pqxx::read_transaction w(grafana);
    if (!setup.empty()) w.exec(setup);
    return w.exec1(sql)[0].as<std::int64_t>();
  };
  EXPECT_EQ(reader_scalar(both), 2) << "its login names every tenant ('*')";
  EXPECT_EQ(reader_scalar(both, "SET LOCAL peregrine.tenant = '" + std::to_string(north) + "'"), 1);
  EXPECT_GE(reader_scalar("SELECT count(*) FROM readings_1m"), 0);
  EXPECT_GE(reader_scalar("SELECT count(*) FROM readings_1h"), 0);
  EXPECT_GE(reader_scalar("SELECT count(*) FROM alerts"), 0);
  for (const std::string refused : {"SELECT count(*) FROM users", "SELECT count(*) FROM refresh_tokens",
                                    "SELECT count(*) FROM channels", "SELECT count(*) FROM audit_log"}) {
    pqxx::work w(grafana);
    EXPECT_THROW(w.exec(refused), pqxx::insufficient_privilege) << refused;
  }
  {
    pqxx::work w(grafana);
    EXPECT_THROW(w.exec("UPDATE devices SET name = 'grafana was here'"), pqxx::sql_error) << "read-only";
  }

  // Every query of the provisioned dashboard runs as that login (docs/grafana/peregrine.json).
  std::ifstream file(std::filesystem::path(__FILE__).parent_path() / "../../docs/grafana/peregrine.json");
  ASSERT_TRUE(file) << "docs/grafana/peregrine.json";
  const json dashboard = json::parse(file);
  std::vector<std::string> queries;
  for (const auto& v : dashboard["templating"]["list"])
    if (v["type"] == "query") queries.push_back(v["query"]);
  for (const auto& panel : dashboard["panels"])
    for (const auto& t : panel["targets"]) queries.push_back(t["rawSql"]);
  ASSERT_GE(queries.size(), 7u);
  for (std::string q : queries) {
    for (const auto& [macro, text] : std::vector<std::pair<std::string, std::string>>{
             {"$__timeFilter(ts)", "ts > now() - interval '1 day'"},
             {"$__timeFilter(time)", "time > now() - interval '1 day'"},
             {"$device", da},
             {"$metric", "co"}})
      for (auto at = q.find(macro); at != std::string::npos; at = q.find(macro, at + text.size()))
        q.replace(at, macro.size(), text);
    ASSERT_EQ(q.find('$'), std::string::npos) << "a macro left: " << q;
    pqxx::read_transaction w(grafana);
    EXPECT_NO_THROW(w.exec(q)) << q;
  }
  pqxx::read_transaction w(grafana);
  EXPECT_EQ(w.exec("SELECT ts AS time, value FROM readings WHERE device_id = '" + da + "' AND metric = 'co'").size(), 1u);
}

}  // namespace
}  // namespace peregrine::test
