#include <peregrine/storage/rule_repository.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "pg_test.hpp"
#include "run_sync.hpp"

namespace peregrine::storage {
namespace {

using testing::run_sync;

namespace asio = boost::asio;
using nlohmann::json;

rules::Rule threshold(const std::string& name, core::TenantId tenant = 1) {
  auto r = rules::parse_rule({{"name", name},
                              {"metric", "co"},
                              {"scope", {{"all", true}}},
                              {"kind", "threshold"},
                              {"params", {{"op", ">"}, {"value", 50}}}},
                             tenant);
  EXPECT_TRUE(std::holds_alternative<rules::Rule>(r));
  return std::get<rules::Rule>(r);
}

AuditEntry audit(std::optional<std::int64_t> tenant, std::string action, std::string target = "") {
  AuditEntry e;
  e.tenant = tenant;
  e.actor_email = "admin@example.org";
  e.action = std::move(action);
  e.target = std::move(target);
  return e;
}

const RuleRecord& record(const StoredRule& s) { return std::get<RuleRecord>(s); }

double threshold_value(const rules::Rule& r) {
  return std::get<rules::ThresholdParams>(r.params).value;
}

class RuleRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    owner_exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
    pool_ = std::make_unique<QueryPool>(target(), 1);
    repo_ = std::make_unique<RuleRepository>(*pool_);
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    repo_.reset();
    pool_.reset();
    PgTest::TearDown();
  }

  RuleRecord create(const std::string& name, core::TenantId tenant = 1) {
    auto o =
        run_sync(io_, repo_->create(tenant, threshold(name, tenant), audit(tenant, "rule.create")));
    EXPECT_TRUE(o.ok());
    return o.value();
  }

  std::int64_t audit_rows(const std::string& action, const std::string& target) {
    return query_value<std::int64_t>("SELECT count(*) FROM audit_log WHERE action = '" + action +
                                     "' AND target = '" + target + "'");
  }

  /// Inserts, as the owner, what `exec` says (e.g. seed readings).
  void exec(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }

  asio::io_context io_;
  std::unique_ptr<QueryPool> pool_;
  std::unique_ptr<RuleRepository> repo_;
};

TEST_F(RuleRepositoryTest, CreateThenGetAndListByPages) {
  const RuleRecord a = create("a");
  const RuleRecord b = create("b");
  const RuleRecord c = create("c");
  EXPECT_GT(a.rule.id, 0);
  EXPECT_EQ(a.rule.tenant, 1);
  EXPECT_GT(a.created_at, 0);
  EXPECT_EQ(a.created_at, a.updated_at);
  EXPECT_EQ(audit_rows("rule.create", "rule:" + std::to_string(b.rule.id)), 1);

  auto got = run_sync(io_, repo_->get(1, b.rule.id));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(record(got.value()).rule.name, "b");
  EXPECT_EQ(threshold_value(record(got.value()).rule), 50);
  EXPECT_EQ(record(got.value()).created_at, b.created_at);

  const Page<StoredRule> first = run_sync(io_, repo_->list(1, {2, 0}));
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_EQ(record(first.items[0]).rule.id, a.rule.id);
  EXPECT_EQ(record(first.items[1]).rule.id, b.rule.id);
  ASSERT_TRUE(first.next);
  EXPECT_EQ(*first.next, std::to_string(b.rule.id));

  const Page<StoredRule> last = run_sync(io_, repo_->list(1, {2, std::stoll(*first.next)}));
  ASSERT_EQ(last.items.size(), 1u);
  EXPECT_EQ(record(last.items[0]).rule.id, c.rule.id);
  EXPECT_FALSE(last.next);
}

TEST_F(RuleRepositoryTest, AnotherTenantsRuleIsNotFound) {
  const RuleRecord theirs = create("theirs", 2);
  const auto id = theirs.rule.id;
  auto got = run_sync(io_, repo_->get(1, id));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.failure().kind, Failure::Kind::not_found);
  EXPECT_EQ(got.failure().detail, "no rule " + std::to_string(id));
  auto patched = run_sync(io_, repo_->update(1, id, {{"name", "mine"}}, audit(1, "rule.update")));
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.failure().kind, Failure::Kind::not_found);
  auto removed = run_sync(io_, repo_->remove(1, id, audit(1, "rule.delete")));
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.failure().kind, Failure::Kind::not_found);
  EXPECT_TRUE(run_sync(io_, repo_->list(1, {10, 0})).items.empty());
  EXPECT_EQ(query_value<std::string>("SELECT name FROM rules WHERE id = " + std::to_string(id)),
            "theirs");
}

TEST_F(RuleRepositoryTest, APatchMergesAndLandsWithItsAuditRow) {
  const RuleRecord r = create("r");
  const std::string target = "rule:" + std::to_string(r.rule.id);
  auto patched =
      run_sync(io_, repo_->update(1, r.rule.id,
                                  json::parse(R"({"params": {"value": 60}, "enabled": false})"),
                                  audit(1, "rule.update", target)));
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched.value().rule.id, r.rule.id);
  EXPECT_EQ(patched.value().rule.name, "r");
  EXPECT_FALSE(patched.value().rule.enabled);
  EXPECT_EQ(threshold_value(patched.value().rule), 60);
  EXPECT_EQ(patched.value().created_at, r.created_at);
  EXPECT_GE(patched.value().updated_at, r.created_at);
  EXPECT_EQ(audit_rows("rule.update", target), 1);

  auto stored = run_sync(io_, repo_->get(1, r.rule.id));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(threshold_value(record(stored.value()).rule), 60);
  EXPECT_FALSE(record(stored.value()).rule.enabled);
}

TEST_F(RuleRepositoryTest, ARefusedPatchWritesNeitherTheRuleNorAnAuditRow) {
  const RuleRecord r = create("r");
  const std::string target = "rule:" + std::to_string(r.rule.id);
  auto meaningless =
      run_sync(io_, repo_->update(1, r.rule.id, {{"name", ""}}, audit(1, "rule.update", target)));
  ASSERT_FALSE(meaningless.ok());
  EXPECT_EQ(meaningless.failure().kind, Failure::Kind::invalid);  // 422
  EXPECT_EQ(meaningless.failure().field, "name");

  auto malformed = run_sync(
      io_, repo_->update(1, r.rule.id, {{"kind", "absence"}}, audit(1, "rule.update", target)));
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.failure().kind, Failure::Kind::bad_input);  // 400
  EXPECT_EQ(malformed.failure().field, "params");
  EXPECT_EQ(audit_rows("rule.update", target), 0);

  // The audit row is part of the write: when it cannot be written, the change is rolled back.
  EXPECT_ANY_THROW(run_sync(
      io_, repo_->update(1, r.rule.id, {{"name", "renamed"}}, audit(999, "rule.update", target))));
  auto stored = run_sync(io_, repo_->get(1, r.rule.id));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(record(stored.value()).rule.name, "r");
}

TEST_F(RuleRepositoryTest, ARuleThatNoLongerValidatesIsListedButNotPatched) {
  exec(
      "INSERT INTO rules (id, tenant_id, name, metric, scope, kind, params, severity) "
      "VALUES (77, 1, 'old', 'co', '{\"all\": true}', 'threshold', '{}', 'critical')");
  const Page<StoredRule> page = run_sync(io_, repo_->list(1, {10, 0}));
  ASSERT_EQ(page.items.size(), 1u);
  const auto* raw = std::get_if<UnparsedRule>(&page.items[0]);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->id, 77);
  EXPECT_EQ(raw->body["name"], "old");
  EXPECT_EQ(raw->body["params"], json::object());

  auto got = run_sync(io_, repo_->get(1, 77));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(std::holds_alternative<UnparsedRule>(got.value()));

  auto patched =
      run_sync(io_, repo_->update(1, 77, {{"name", "new"}}, audit(1, "rule.update", "rule:77")));
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.failure().kind, Failure::Kind::invalid);
  EXPECT_NE(patched.failure().detail.find("no longer validates"), std::string::npos);
  EXPECT_TRUE(run_sync(io_, repo_->remove(1, 77, audit(1, "rule.delete", "rule:77"))).ok());
}

TEST_F(RuleRepositoryTest, RemoveDeletesOnceWithItsAuditRow) {
  const RuleRecord r = create("r");
  const std::string target = "rule:" + std::to_string(r.rule.id);
  EXPECT_TRUE(run_sync(io_, repo_->remove(1, r.rule.id, audit(1, "rule.delete", target))).ok());
  auto again = run_sync(io_, repo_->remove(1, r.rule.id, audit(1, "rule.delete", target)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.failure().kind, Failure::Kind::not_found);
  EXPECT_FALSE(run_sync(io_, repo_->get(1, r.rule.id)).ok());
  EXPECT_EQ(audit_rows("rule.delete", target), 1);
}

// 2024-01-02T00:00:00Z in epoch microseconds.
constexpr core::Micros kDay = 1'704'153'600'000'000;
constexpr core::Micros kSec = 1'000'000;

TEST_F(RuleRepositoryTest, BacktestReadsTheScopeInOrderWithinItsLimit) {
  exec(
      "SELECT peregrine_create_day_partition('2024-01-02');"
      "SELECT peregrine_create_day_partition('2024-01-03');"
      "INSERT INTO devices (id, tenant_id) VALUES ('d1', 1), ('d2', 1), ('x2', 2);"
      "INSERT INTO series (id, tenant_id, device_id, metric) VALUES "
      "(1, 1, 'd1', 'co'), (2, 1, 'd2', 'co'), (3, 1, 'd1', 'temp'), (4, 2, 'x2', 'co');"
      "INSERT INTO readings_raw (series_id, ts, value) VALUES "
      "(1, '2024-01-02 00:00:01+00', 10), (1, '2024-01-02 00:00:02+00', 60), "
      "(1, '2024-01-02 00:00:03+00', 10), (2, '2024-01-02 00:00:02+00', 70), "
      "(3, '2024-01-02 00:00:02+00', 99), (4, '2024-01-02 00:00:02+00', 99), "
      "(1, '2024-01-03 00:00:00+00', 99)");  // the day after: outside [from, to)
  auto range = [](std::size_t max_rows, std::optional<std::vector<std::string>> devices) {
    BacktestRange r;
    r.from = kDay;
    r.to = kDay + 86'400 * kSec;
    r.devices = std::move(devices);
    r.max_rows = max_rows;
    return r;
  };
  const rules::Rule rule = threshold("bt");

  BacktestRun all = run_sync(io_, repo_->backtest(1, rule, range(4, std::nullopt)));
  ASSERT_EQ(all.status, BacktestRun::Status::done);
  EXPECT_EQ(all.result.evaluated, 4u);
  ASSERT_EQ(all.result.alerts.size(), 2u);
  EXPECT_EQ(all.result.alerts[0].device, "d1");  // same ts: ordered by device
  EXPECT_EQ(all.result.alerts[0].opened_at, kDay + 2 * kSec);
  EXPECT_EQ(all.result.alerts[1].device, "d2");

  BacktestRun one =
      run_sync(io_, repo_->backtest(1, rule, range(4, std::vector<std::string>{"d1"})));
  ASSERT_EQ(one.status, BacktestRun::Status::done);
  EXPECT_EQ(one.result.evaluated, 3u);
  ASSERT_EQ(one.result.alerts.size(), 1u);
  EXPECT_EQ(one.result.alerts[0].value, 60);

  BacktestRun none = run_sync(io_, repo_->backtest(1, rule, range(4, std::vector<std::string>{})));
  EXPECT_EQ(none.status, BacktestRun::Status::done);
  EXPECT_EQ(none.result.evaluated, 0u);

  BacktestRun too_many = run_sync(io_, repo_->backtest(1, rule, range(3, std::nullopt)));
  EXPECT_EQ(too_many.status, BacktestRun::Status::too_many_readings);
  EXPECT_TRUE(too_many.result.alerts.empty());

  BacktestRun theirs =
      run_sync(io_, repo_->backtest(2, threshold("bt", 2), range(4, std::nullopt)));
  EXPECT_EQ(theirs.status, BacktestRun::Status::done);
  EXPECT_EQ(theirs.result.evaluated, 1u);
}

}  // namespace
}  // namespace peregrine::storage
