#include <peregrine/storage/pg.hpp>

#include <stdexcept>

#include <pqxx/pqxx>

namespace peregrine::storage {

std::string Scope::setting() const {
  switch (kind_) {
    case Kind::all:
      return "*";
    case Kind::tenant:
      return std::to_string(tenant_);
    case Kind::none:
      break;
  }
  return "";
}

std::unique_ptr<pqxx::connection> connect(const PgTarget& target, Scope scope) {
  auto conn = std::make_unique<pqxx::connection>(target.app_url.empty() ? target.url
                                                                         : target.app_url);
  pqxx::nontransaction w(*conn);
  const std::string set_role =
      target.app_role.empty() ? "" : "SET ROLE " + w.quote_name(target.app_role) + "; ";
  // One round trip. Session-level (is_local = false): it holds for every
  // transaction on this connection until set_scope() changes it.
  w.exec(set_role + "SELECT set_config('peregrine.tenant', " + w.quote(scope.setting()) +
         ", false)");
  return conn;
}

void set_scope(pqxx::connection& conn, Scope scope) {
  pqxx::nontransaction w(conn);
  w.exec("SELECT set_config('peregrine.tenant', " + w.quote(scope.setting()) + ", false)");
}

namespace {

// Owner's functions (migrations/0005, 0014) that make and drop partitions.
const char* const kPartitionFunctions =
    "peregrine_create_day_partition(date), peregrine_drop_day_partitions_before(date), "
    "peregrine_drop_rollup_partitions_before(text, timestamptz)";

bool query_bool(pqxx::nontransaction& w, const std::string& sql, const std::string& arg) {
  return w.exec_params1(sql, arg)[0].as<bool>();
}

// The server's first line ("ERROR:  permission denied to create role").
std::string first_line(const pqxx::sql_error& e) {
  std::string text = e.what();
  text = text.substr(0, text.find('\n'));
  return text.starts_with("ERROR:  ") ? text.substr(8) : text;
}

[[noreturn]] void refuse(const std::string& role, const std::string& why) {
  throw std::runtime_error("PEREGRINE_PG_APP_ROLE '" + role + "' " + why +
                           " (see docs/security.md, \"The database role\")");
}

}  // namespace

std::optional<std::string> prepare_app_role(const PgTarget& target) {
  const std::string& role = target.app_role;
  if (role.empty()) refuse(role, "is empty: runtime work needs a role that owns nothing");
  pqxx::connection conn(target.url);
  pqxx::nontransaction w(conn);
  const std::string quoted = w.quote_name(role);

  const pqxx::result found =
      w.exec_params("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", role);
  if (found.empty()) {
    try {
      // Two servers starting at once may both try: the loser finds it made.
      w.exec("DO $$ BEGIN CREATE ROLE " + quoted +
             " NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    } catch (const pqxx::sql_error& e) {
      return "role '" + role + "' does not exist and this login cannot create it (" +
             first_line(e) + ")";
    }
  } else if (found[0][0].as<bool>() || found[0][1].as<bool>()) {
    refuse(role, "is a superuser or has BYPASSRLS: row-level security would not apply to it");
  }
  if (query_bool(w, "SELECT pg_has_role($1, current_user, 'MEMBER')", role))
    refuse(role, "is the owner or a member of it: it must own nothing");
  if (query_bool(w,
                 "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relowner = $1::regrole "
                 "AND relnamespace = 'public'::regnamespace)",
                 role))
    refuse(role, "owns tables: it must own nothing");
  if (!query_bool(w, "SELECT pg_has_role(current_user, $1, 'MEMBER')", role)) {
    try {
      w.exec("GRANT " + quoted + " TO CURRENT_USER");
    } catch (const pqxx::sql_error& e) {
      return "role '" + role + "' is not granted to this login, which cannot grant it (" +
             first_line(e) + ")";
    }
  }
  // The data, not the schema: no DDL, no TRUNCATE, no migrations table. The
  // partition functions run as the owner (SECURITY DEFINER) and do one thing.
  w.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + quoted +
         "; REVOKE ALL ON schema_migrations FROM " + quoted +
         "; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + quoted +
         "; REVOKE EXECUTE ON FUNCTION " + kPartitionFunctions + " FROM PUBLIC"
         "; GRANT EXECUTE ON FUNCTION " + kPartitionFunctions + " TO " + quoted);
  return std::nullopt;
}

}  // namespace peregrine::storage
