// Groups and membership against the real PostgreSQL: members are the
// tenant's devices only, a change reports who joined and who left, a rule
// keeps its group, and another tenant's group does not exist.
#include <peregrine/storage/group_repository.hpp>

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include <peregrine/storage/device_repository.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "pg_test.hpp"
#include "run_sync.hpp"

namespace peregrine::storage {
namespace {

using testing::run_sync;
using Ids = std::vector<std::string>;

AuditEntry audit(std::int64_t tenant, std::string action) {
  AuditEntry e;
  e.tenant = tenant;
  e.actor_email = "admin@example.org";
  e.action = std::move(action);
  return e;
}

class GroupRepositoryTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    owner_exec("INSERT INTO tenants (id, name) VALUES (2, 'north')");
    owner_exec("INSERT INTO devices (id, tenant_id) VALUES ('a', 1), ('b', 1), ('c', 1), ('x', 2)");
    pool_ = std::make_unique<QueryPool>(target(), 1);
    repo_ = std::make_unique<GroupRepository>(*pool_);
    devices_ = std::make_unique<DeviceRepository>(*pool_);
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    repo_.reset();
    devices_.reset();
    pool_.reset();
    PgTest::TearDown();
  }
  Membership create(const std::string& name, Ids ids, std::int64_t tenant = 1) {
    auto o = run_sync(io_, repo_->create(tenant, NewGroup{name, "", std::move(ids)}, audit(tenant, "group.create")));
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.failure().detail);
    return o.ok() ? o.value() : Membership{};
  }

  boost::asio::io_context io_;
  std::unique_ptr<QueryPool> pool_;
  std::unique_ptr<GroupRepository> repo_;
  std::unique_ptr<DeviceRepository> devices_;
};

TEST_F(GroupRepositoryTest, MembersChangeAndTheChangeSaysWhoJoinedAndLeft) {
  const Membership m = create("line 1", {"a", "b"});
  EXPECT_EQ(m.group.device_ids, (Ids{"a", "b"}));
  EXPECT_EQ(m.joined, (Ids{"a", "b"}));
  EXPECT_EQ(m.group.device_count, 2);

  GroupPatch p;
  p.add = {"c"};
  p.remove = {"a"};
  auto changed = run_sync(io_, repo_->update(1, m.group.id, p, audit(1, "group.update")));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed.value().group.device_ids, (Ids{"b", "c"}));
  EXPECT_EQ(changed.value().joined, (Ids{"c"}));
  EXPECT_EQ(changed.value().left, (Ids{"a"}));

  GroupPatch replace;
  replace.device_ids = Ids{"a"};
  changed = run_sync(io_, repo_->update(1, m.group.id, replace, audit(1, "group.update")));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed.value().group.device_ids, (Ids{"a"}));
  EXPECT_EQ(changed.value().left, (Ids{"b", "c"}));

  // Devices show their groups; the list filters by group.
  DeviceFilter f;
  f.group = m.group.id;
  const auto members = run_sync(io_, devices_->list(1, f, {100, ""}));
  ASSERT_EQ(members.items.size(), 1u);
  EXPECT_EQ(members.items[0].id, "a");
  EXPECT_EQ(members.items[0].group_ids, (std::vector<std::int64_t>{m.group.id}));
}

TEST_F(GroupRepositoryTest, OnlyTheTenantsDevicesAndGroupsCount) {
  const Membership m = create("mine", {});
  auto bad = run_sync(io_, repo_->create(1, NewGroup{"theirs", "", {"x"}}, audit(1, "group.create")));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.failure().kind, Failure::Kind::invalid);
  EXPECT_EQ(bad.failure().field, "device_ids");
  EXPECT_EQ(run_sync(io_, repo_->get(2, m.group.id)).failure().kind, Failure::Kind::not_found);
  // A device of tenant 2 cannot join tenant 1's group through its own PATCH either.
  DevicePatch p;
  p.group_ids = std::vector<std::int64_t>{m.group.id};
  auto cross = run_sync(io_, devices_->update(2, "x", p, audit(2, "device.update")));
  ASSERT_FALSE(cross.ok());
  EXPECT_EQ(cross.failure().field, "group_ids");
  auto dup = run_sync(io_, repo_->create(1, NewGroup{"mine", "", {}}, audit(1, "group.create")));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.failure().kind, Failure::Kind::conflict);
  EXPECT_EQ(dup.failure().field, "name");
}

TEST_F(GroupRepositoryTest, AGroupARuleUsesIsNotDeleted) {
  const Membership m = create("ward", {"a"});
  owner_exec("INSERT INTO rules (tenant_id, name, metric, scope, scope_group, kind, params, severity) VALUES "
             "(1, 'r', 'co', '{}', " + std::to_string(m.group.id) + ", 'threshold', '{}', 'warning')");
  auto refused = run_sync(io_, repo_->remove(1, m.group.id, audit(1, "group.delete")));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.failure().kind, Failure::Kind::conflict);
  owner_exec("DELETE FROM rules");
  // A rule that sends commands to the group (in a fallback) keeps it too.
  owner_exec("INSERT INTO rules (tenant_id, name, metric, scope, kind, params, severity, actions) VALUES "
             "(1, 'r', 'co', '{}', 'threshold', '{}', 'warning', '[{\"type\": \"command\", \"name\": \"a\", "
             "\"on_timeout\": [{\"type\": \"command\", \"name\": \"b\", \"target\": {\"group\": " +
             std::to_string(m.group.id) + "}}]}]')");
  refused = run_sync(io_, repo_->remove(1, m.group.id, audit(1, "group.delete")));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.failure().detail.find("sends commands"), std::string::npos) << refused.failure().detail;
  owner_exec("DELETE FROM rules");
  auto removed = run_sync(io_, repo_->remove(1, m.group.id, audit(1, "group.delete")));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value().left, (Ids{"a"}));
  EXPECT_EQ(query_value<std::int64_t>("SELECT count(*) FROM device_group_members"), 0);
}

}  // namespace
}  // namespace peregrine::storage
