#pragma once
/// Applies migrations/NNNN_name.sql in order, each in its own transaction,
/// recorded in `schema_migrations`. A PostgreSQL advisory lock makes
/// concurrent starts apply each migration exactly once. Blocking: call at
/// start, before the event loop runs.

#include <string>
#include <vector>

namespace peregrine::storage {

struct MigrationResult {
  std::vector<std::string> applied;  ///< names applied by this call
  std::size_t already = 0;           ///< found already applied
};

/// Throws std::runtime_error naming the migration that failed.
MigrationResult migrate(const std::string& pg_url, const std::string& migrations_dir);

}  // namespace peregrine::storage
