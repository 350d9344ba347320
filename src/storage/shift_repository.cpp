#include <peregrine/storage/shift_repository.hpp>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

const std::string kColumns = "id, group_id, name, start_time, end_time, array_to_string(weekdays, ','), tz, "
                             "breaks::text, " + sql::micros("created_at") + ", " + sql::micros("updated_at");

ShiftRow shift_from(const pqxx::row& r) {
  ShiftRow out;
  analytics::Shift& s = out.shift;
  s.id = r[0].as<std::int64_t>();
  out.group = r[1].is_null() ? 0 : r[1].as<std::int64_t>();
  s.name = r[2].as<std::string>();
  s.start_min = analytics::parse_clock(r[3].c_str()).value_or(0);
  s.end_min = analytics::parse_clock(r[4].c_str()).value_or(0);
  for (const auto d : sql::parse_int_list(r[5])) s.weekdays |= 1u << d;
  s.tz = r[6].as<std::string>();
  for (const auto& b : json::parse(r[7].c_str()))
    s.breaks.emplace_back(analytics::parse_clock(b.at("start").get<std::string>()).value_or(0),
                          analytics::parse_clock(b.at("end").get<std::string>()).value_or(0));
  out.created_at = r[8].as<std::int64_t>();
  out.updated_at = r[9].as<std::int64_t>();
  return out;
}

std::string weekdays_array(unsigned bits) {
  std::string out = "{";
  for (int d = 1; d <= 7; ++d)
    if (bits & (1u << d)) out += (out.size() > 1 ? "," : "") + std::to_string(d);
  return out + "}";
}

std::string breaks_json(const analytics::Shift& s) {
  json out = json::array();
  for (const auto& [a, b] : s.breaks)
    out.push_back({{"start", analytics::format_clock(a)}, {"end", analytics::format_clock(b)}});
  return out.dump();
}

const std::vector<sql::Violation>& violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "shifts_name_idx",
       Failure::conflict("name", "a shift of that name is already in this calendar")},
      {sql::Violation::Class::foreign_key, "", Failure::invalid("group", "no such group")},
  };
  return v;
}

std::optional<Failure> check_group(pqxx::work& w, core::TenantId tenant, std::int64_t group) {
  if (group != 0 &&
      w.exec_params("SELECT 1 FROM device_groups WHERE id = $1 AND tenant_id = $2", group, tenant).empty())
    return Failure::invalid("group", "no group " + std::to_string(group));
  return std::nullopt;
}

}  // namespace

awaitable<std::vector<ShiftRow>> ShiftRepository::list(core::TenantId tenant, std::int64_t group) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<ShiftRow> out;
    const auto rows = group > 0 ? w.exec_params("SELECT " + kColumns +
                                                    " FROM shifts WHERE tenant_id = $1 AND group_id = $2 ORDER BY id",
                                                tenant, group)
                                : w.exec_params("SELECT " + kColumns + " FROM shifts WHERE tenant_id = $1 ORDER BY id",
                                                tenant);
    for (const auto& r : rows) out.push_back(shift_from(r));
    return out;
  });
}

awaitable<Outcome<ShiftRow>> ShiftRepository::get(core::TenantId tenant, std::int64_t id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<ShiftRow> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kColumns + " FROM shifts WHERE id = $1 AND tenant_id = $2", id, tenant);
    if (r.empty()) return Failure::not_found("no shift " + std::to_string(id));
    return shift_from(r[0]);
  });
}

awaitable<Outcome<ShiftRow>> ShiftRepository::create(core::TenantId tenant, ShiftRow row, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<ShiftRow>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<ShiftRow> {
      if (auto f = check_group(w, tenant, row.group)) return *f;
      const analytics::Shift& s = row.shift;
      const auto r = w.exec_params1(
          "INSERT INTO shifts (tenant_id, group_id, name, start_time, end_time, weekdays, tz, breaks) "
          "VALUES ($1, $2, $3, $4, $5, $6::smallint[], $7, $8::jsonb) RETURNING " + kColumns,
          tenant, sql::nullable_id(row.group).c_str(), s.name, analytics::format_clock(s.start_min),
          analytics::format_clock(s.end_min), weekdays_array(s.weekdays), s.tz, breaks_json(s));
      ShiftRow out = shift_from(r);
      audit.target = "shift:" + std::to_string(out.shift.id);
      return out;
    });
  });
}

awaitable<Outcome<ShiftRow>> ShiftRepository::update(core::TenantId tenant, std::int64_t id, ShiftRow row,
                                                     AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<ShiftRow>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<ShiftRow> {
      if (auto f = check_group(w, tenant, row.group)) return *f;
      const analytics::Shift& s = row.shift;
      const auto r = w.exec_params(
          "UPDATE shifts SET group_id = $3, name = $4, start_time = $5, end_time = $6, weekdays = $7::smallint[], "
          "tz = $8, breaks = $9::jsonb, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING " + kColumns,
          id, tenant, sql::nullable_id(row.group).c_str(), s.name, analytics::format_clock(s.start_min),
          analytics::format_clock(s.end_min), weekdays_array(s.weekdays), s.tz, breaks_json(s));
      if (r.empty()) return Failure::not_found("no shift " + std::to_string(id));
      return shift_from(r[0]);
    });
  });
}

awaitable<Outcome<Done>> ShiftRepository::remove(core::TenantId tenant, std::int64_t id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Done> {
      if (w.exec_params("DELETE FROM shifts WHERE id = $1 AND tenant_id = $2", id, tenant).affected_rows() == 0)
        return Failure::not_found("no shift " + std::to_string(id));
      return Done{};
    });
  });
}

awaitable<std::vector<analytics::Shift>> ShiftRepository::calendar(core::TenantId tenant,
                                                                   std::vector<std::int64_t> groups) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    auto rows = w.exec_params("SELECT " + kColumns +
                                  " FROM shifts WHERE tenant_id = $1 AND group_id = ANY($2::bigint[]) ORDER BY id",
                              tenant, sql::int_array(groups));
    if (rows.empty())
      rows = w.exec_params("SELECT " + kColumns + " FROM shifts WHERE tenant_id = $1 AND group_id IS NULL ORDER BY id",
                           tenant);
    std::vector<analytics::Shift> out;
    for (const auto& r : rows) out.push_back(shift_from(r).shift);
    return out;
  });
}

}  // namespace peregrine::storage
