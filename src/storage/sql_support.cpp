#include "storage/sql_support.hpp"

namespace peregrine::storage::sql {

namespace {

// SQLSTATE class 23, integrity constraint violation.
constexpr std::string_view kUnique = "23505";
constexpr std::string_view kForeignKey = "23503";
constexpr std::string_view kCheck = "23514";

/// The constraint name PostgreSQL quotes in its message:
/// `... violates unique constraint "users_tenant_id_email_key"`.
std::string constraint_of(const pqxx::sql_error& e) {
  const std::string_view what = e.what();
  const auto at = what.find("constraint \"");
  if (at == std::string_view::npos) return "";
  const auto start = at + 12;
  const auto end = what.find('"', start);
  return end == std::string_view::npos ? "" : std::string(what.substr(start, end - start));
}

}  // namespace

void write_audit(pqxx::work& w, const AuditEntry& e) {
  w.exec_params("INSERT INTO audit_log (tenant_id, actor_id, actor_email, action, target, "
                "detail, remote) VALUES (NULLIF($1, 0), NULLIF($2, 0), $3, $4, $5, $6::jsonb, $7)",
                e.tenant.value_or(0), e.actor_id.value_or(0), e.actor_email, e.action, e.target,
                e.detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), e.remote);
}

std::optional<Failure> match_violation(const pqxx::sql_error& e,
                                       const std::vector<Violation>& expected) {
  const std::string state = e.sqlstate();
  Violation::Class cls;
  if (state == kUnique) {
    cls = Violation::Class::unique;
  } else if (state == kForeignKey) {
    cls = Violation::Class::foreign_key;
  } else if (state == kCheck) {
    cls = Violation::Class::check;
  } else {
    return std::nullopt;
  }
  const std::string name = constraint_of(e);
  for (const Violation& v : expected) {
    if (v.cls == cls && (v.constraint.empty() || v.constraint == name)) return v.failure;
  }
  return std::nullopt;
}

}  // namespace peregrine::storage::sql

namespace peregrine::storage::sql {

std::vector<std::int64_t> parse_int_list(const pqxx::field& f) {
  std::vector<std::int64_t> out;
  if (f.is_null()) return out;
  const std::string text = f.as<std::string>();
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace peregrine::storage::sql
