#include <peregrine/storage/migrator.hpp>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "pg_test.hpp"

namespace peregrine::storage {
namespace {

using MigratorTest = testing::PgTest;

std::size_t migration_count() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing::migrations_dir())) {
    n += e.path().extension() == ".sql";
  }
  return n;
}

TEST_F(MigratorTest, SecondRunAppliesNothing) {
  const auto first = migrate(url_, testing::migrations_dir());
  ASSERT_EQ(first.applied.size(), migration_count());
  EXPECT_EQ(first.applied.front(), "0001_init");
  EXPECT_EQ(first.already, 0u);

  const auto second = migrate(url_, testing::migrations_dir());
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.already, migration_count());
  EXPECT_EQ(query_value<std::size_t>("SELECT count(*) FROM schema_migrations"), migration_count());
}

TEST_F(MigratorTest, ConcurrentStartsApplyEachMigrationOnce) {
  std::vector<MigrationResult> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&r, this] { r = migrate(url_, testing::migrations_dir()); });
  }
  for (auto& t : threads) t.join();

  std::size_t applied = 0;
  for (const auto& r : results) {
    applied += r.applied.size();
    EXPECT_EQ(r.applied.size() + r.already, migration_count());
  }
  EXPECT_EQ(applied, migration_count());
  EXPECT_EQ(query_value<std::size_t>("SELECT count(*) FROM schema_migrations"), migration_count());
}

TEST_F(MigratorTest, FailureNamesTheFileAndKeepsEarlierMigrations) {
  const auto dir = std::filesystem::temp_directory_path() / db_;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "0001_good.sql") << "CREATE TABLE good (x int);";
  std::ofstream(dir / "0002_bad.sql") << "CREATE TABLE bad (x int); SELEC oops;";
  std::ofstream(dir / "README.md") << "not a migration";

  try {
    migrate(url_, dir.string());
    ADD_FAILURE() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("0002_bad.sql"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);

  EXPECT_EQ(query_value<std::string>("SELECT string_agg(version, ',') FROM schema_migrations"),
            "0001_good");
  // The failed migration's own statements were rolled back with it.
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM pg_tables WHERE tablename = 'bad'"), 0);
}

}  // namespace
}  // namespace peregrine::storage
