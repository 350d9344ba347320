#include <peregrine/storage/migrator.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <pqxx/pqxx>

namespace peregrine::storage {
namespace {

// Any constant shared by every Peregrine process migrating the same database.
constexpr std::int64_t kMigrationLockId = 0x7065726567'7269;  // "peregri"

bool is_migration_file(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  if (p.extension() != ".sql" || name.size() < 6 || name[4] != '_') return false;
  return std::all_of(name.begin(), name.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("migration " + p.filename().string() + ": cannot read file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

MigrationResult migrate(const std::string& pg_url, const std::string& migrations_dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(migrations_dir, ec)) {
    if (entry.is_regular_file() && is_migration_file(entry.path())) files.push_back(entry.path());
  }
  if (ec) throw std::runtime_error("migrations directory " + migrations_dir + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });

  pqxx::connection conn(pg_url);
  {
    // Session-level lock: held across the per-migration transactions below and
    // released when the connection closes, even if we throw.
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockId) + ")");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
  }

  std::set<std::string> done;
  {
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec("SELECT version FROM schema_migrations")) {
      done.insert(row[0].as<std::string>());
    }
  }

  MigrationResult result;
  for (const auto& file : files) {
    const std::string version = file.stem().string();
    if (done.count(version) != 0) {
      ++result.already;
      continue;
    }
    const std::string sql = read_file(file);
    try {
      pqxx::work tx(conn);
      tx.exec(sql);
      tx.exec_params("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
                     version);
      tx.commit();
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + file.filename().string() + " failed: " + e.what());
    }
    result.applied.push_back(version);
  }
  return result;
}

}  // namespace peregrine::storage
