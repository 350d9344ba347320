#include <peregrine/storage/alert_repository.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "pg_test.hpp"
#include "run_sync.hpp"

namespace peregrine::storage {
namespace {

using testing::run_sync;

namespace asio = boost::asio;
using alerts::AlertState;
using rules::Severity;

// 2024-01-02T00:00:00Z in epoch microseconds.
constexpr core::Micros kDay = 1'704'153'600'000'000;
constexpr core::Micros kSec = 1'000'000;

std::vector<alerts::AlertId> ids(const Page<alerts::Alert>& page) {
  std::vector<alerts::AlertId> out;
  for (const auto& a : page.items) out.push_back(a.id);
  return out;
}

class AlertRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    {
      // Tenant 1: 1..5 as below; tenant 2: 6. Alert 3 has two events.
      pqxx::connection c(url_);
      pqxx::work w(c);
      w.exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
      w.exec(
          "INSERT INTO alerts (id, tenant_id, rule_id, device_id, metric, severity, state, value, "
          "message, opened_at, acknowledged_at, acknowledged_by, updated_at) VALUES "
          "(1, 1, 10, 'd1', 'co', 'critical', 'active', 61, 'co > 50', '2024-01-02 00:00:01+00', "
          "NULL, NULL, '2024-01-02 00:00:01+00'), "
          "(2, 1, 10, 'd1', 'co', 'warning', 'resolved', 62, '', '2024-01-02 00:00:02+00', "
          "NULL, NULL, '2024-01-02 00:00:02+00'), "
          "(3, 1, 11, 'd2', 'co', 'critical', 'acknowledged', 63, '', '2024-01-02 00:00:03+00', "
          "'2024-01-02 00:00:05+00', 'op@example.org', '2024-01-02 00:00:03+00'), "
          "(4, 1, 11, 'd2', 'co', 'info', 'active', 64, '', '2024-01-02 00:00:04+00', "
          "NULL, NULL, '2024-01-02 00:00:04+00'), "
          "(5, 1, 10, 'd1', 'co', 'critical', 'active', 65, '', '2024-01-02 00:00:05+00', "
          "NULL, NULL, '2024-01-02 00:00:05+00'), "
          "(6, 2, 20, 'x2', 'co', 'critical', 'active', 66, '', '2024-01-02 00:00:06+00', "
          "NULL, NULL, '2024-01-02 00:00:06+00')");
      w.exec(
          "INSERT INTO alert_events (alert_id, kind, actor, at, detail) VALUES "
          "(3, 'opened', 'system', '2024-01-02 00:00:03+00', 'co > 50'), "
          "(1, 'opened', 'system', '2024-01-02 00:00:01+00', ''), "
          "(3, 'acknowledged', 'op@example.org', '2024-01-02 00:00:05+00', '')");
      w.commit();
    }
    pool_ = std::make_unique<QueryPool>(target(), 1);
    repo_ = std::make_unique<AlertRepository>(*pool_);
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    repo_.reset();
    pool_.reset();
    PgTest::TearDown();
  }

  Page<alerts::Alert> list(AlertFilter filter, std::size_t limit = 100, std::int64_t after = 0,
                           core::TenantId tenant = 1) {
    return run_sync(io_, repo_->list(tenant, std::move(filter), {limit, after}));
  }

  asio::io_context io_;
  std::unique_ptr<QueryPool> pool_;
  std::unique_ptr<AlertRepository> repo_;
};

TEST_F(AlertRepositoryTest, ListIsNewestFirstByCursor) {
  const auto first = list({}, 2);
  EXPECT_EQ(ids(first), (std::vector<alerts::AlertId>{5, 4}));
  ASSERT_TRUE(first.next);
  EXPECT_EQ(*first.next, "4");
  const auto second = list({}, 2, std::stoll(*first.next));
  EXPECT_EQ(ids(second), (std::vector<alerts::AlertId>{3, 2}));
  ASSERT_TRUE(second.next);
  const auto last = list({}, 2, std::stoll(*second.next));
  EXPECT_EQ(ids(last), (std::vector<alerts::AlertId>{1}));
  EXPECT_FALSE(last.next);
  EXPECT_EQ(ids(list({}, 100, 0, 2)), (std::vector<alerts::AlertId>{6}));
}

TEST_F(AlertRepositoryTest, ListFiltersByStateSeverityAndDevice) {
  AlertFilter active;
  active.state = AlertState::active;
  EXPECT_EQ(ids(list(active)), (std::vector<alerts::AlertId>{5, 4, 1}));
  AlertFilter critical;
  critical.severity = Severity::critical;
  EXPECT_EQ(ids(list(critical)), (std::vector<alerts::AlertId>{5, 3, 1}));
  AlertFilter d2;
  d2.device = "d2";
  EXPECT_EQ(ids(list(d2)), (std::vector<alerts::AlertId>{4, 3}));
  AlertFilter active_d1;
  active_d1.state = AlertState::active;
  active_d1.device = "d1";
  EXPECT_EQ(ids(list(active_d1, 1)), (std::vector<alerts::AlertId>{5}));
  const auto page = list(active_d1, 1);
  ASSERT_TRUE(page.next);
  EXPECT_EQ(ids(list(active_d1, 1, std::stoll(*page.next))), (std::vector<alerts::AlertId>{1}));
  AlertFilter x2;
  x2.device = "x2";  // another tenant's device
  EXPECT_TRUE(list(x2).items.empty());
}

TEST_F(AlertRepositoryTest, GetReturnsTheAlertWithItsEventsInOrder) {
  auto got = run_sync(io_, repo_->get(1, 3));
  ASSERT_TRUE(got.ok());
  const AlertDetail& d = got.value();
  EXPECT_EQ(d.alert.id, 3);
  EXPECT_EQ(d.alert.tenant, 1);
  EXPECT_EQ(d.alert.rule_id, 11);
  EXPECT_EQ(d.alert.device, "d2");
  EXPECT_EQ(d.alert.state, AlertState::acknowledged);
  EXPECT_EQ(d.alert.severity, Severity::critical);
  EXPECT_EQ(d.alert.value, 63);
  EXPECT_EQ(d.alert.opened_at, kDay + 3 * kSec);
  EXPECT_EQ(d.alert.acknowledged_at, kDay + 5 * kSec);
  EXPECT_EQ(d.alert.acknowledged_by, "op@example.org");
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].kind, alerts::EventKind::opened);
  EXPECT_EQ(d.events[0].actor, "system");
  EXPECT_EQ(d.events[0].at, kDay + 3 * kSec);
  EXPECT_EQ(d.events[0].detail, "co > 50");
  EXPECT_EQ(d.events[1].kind, alerts::EventKind::acknowledged);
  EXPECT_EQ(d.events[1].actor, "op@example.org");
  EXPECT_EQ(d.events[1].at, kDay + 5 * kSec);

  auto bare = run_sync(io_, repo_->get(1, 4));
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare.value().events.empty());
}

TEST_F(AlertRepositoryTest, MissingAndOtherTenantsAlertsAreNotFound) {
  for (alerts::AlertId id : {6, 99}) {
    auto got = run_sync(io_, repo_->get(1, id));
    ASSERT_FALSE(got.ok()) << id;
    EXPECT_EQ(got.failure().kind, Failure::Kind::not_found);
    EXPECT_EQ(got.failure().detail, "no alert " + std::to_string(id));
    EXPECT_FALSE(run_sync(io_, repo_->state_of(1, id))) << id;
  }
}

TEST_F(AlertRepositoryTest, StateOfReadsTheStoredState) {
  EXPECT_EQ(run_sync(io_, repo_->state_of(1, 2)), AlertState::resolved);
  EXPECT_EQ(run_sync(io_, repo_->state_of(1, 3)), AlertState::acknowledged);
  EXPECT_EQ(run_sync(io_, repo_->state_of(2, 6)), AlertState::active);
}

}  // namespace
}  // namespace peregrine::storage
