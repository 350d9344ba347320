#pragma once
/// Incidents (CONTRACT.md "incidents", migrations/0009), always within one
/// tenant: a title, severity, state (open → investigating → resolved →
/// closed; resolved may reopen to investigating; closed is final), an
/// assignee, the alerts it gathers (each alert in at most one incident), a
/// timeline and maintenance log entries. Results are the API's JSON. Every
/// write lands with its timeline event and audit entry in one transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

struct NewIncident {
  std::string title, description, severity;
  std::vector<std::int64_t> alert_ids;
};

struct IncidentPatch {
  std::optional<std::string> title, description, severity, state;
  bool set_assignee = false;
  std::optional<std::int64_t> assignee;  ///< with set_assignee: the user, or nullopt to clear
};

struct NewMaintenance {
  std::string note, performed_by;
  core::Micros performed_at = 0;
  nlohmann::json parts = nlohmann::json::array();
};

/// Whether an incident may move from `from` to `to`.
bool incident_transition_allowed(std::string_view from, std::string_view to) noexcept;

class IncidentRepository {
 public:
  explicit IncidentRepository(QueryPool& pool) : pool_(pool) {}

  /// Newest first; `state` empty: any.
  boost::asio::awaitable<nlohmann::json> list(core::TenantId tenant, std::string state);
  /// With `alerts`, `timeline` and `maintenance`.
  boost::asio::awaitable<Outcome<nlohmann::json>> get(core::TenantId tenant, std::int64_t id);
  /// Invalid `alert_ids` naming an alert that is not the tenant's; conflict
  /// when one is already in another incident.
  boost::asio::awaitable<Outcome<nlohmann::json>> create(core::TenantId tenant, NewIncident n,
                                                         std::string actor, AuditEntry audit);
  /// Conflict on `state` for a move not allowed; invalid `assignee` when the
  /// user is not the tenant's.
  boost::asio::awaitable<Outcome<nlohmann::json>> update(core::TenantId tenant, std::int64_t id,
                                                         IncidentPatch p, std::string actor, AuditEntry audit);
  boost::asio::awaitable<Outcome<nlohmann::json>> add_alerts(core::TenantId tenant, std::int64_t id,
                                                             std::vector<std::int64_t> alert_ids,
                                                             std::string actor, AuditEntry audit);
  boost::asio::awaitable<Outcome<nlohmann::json>> comment(core::TenantId tenant, std::int64_t id,
                                                          std::string text, std::string actor, AuditEntry audit);
  /// The new entry (`incident` holds the incident after it).
  boost::asio::awaitable<Outcome<nlohmann::json>> add_maintenance(core::TenantId tenant, std::int64_t id,
                                                                  NewMaintenance m, std::string actor,
                                                                  AuditEntry audit);
  /// The incident the tenant's alert belongs to.
  boost::asio::awaitable<std::optional<std::int64_t>> of_alert(core::TenantId tenant, std::int64_t alert_id);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
