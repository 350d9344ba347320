#pragma once
/// Every repository over one query pool: what the REST handlers reach for
/// persistence. Each repository owns the SQL of one resource; its methods
/// are awaited on the event loop and run on the pool (see query_pool.hpp).

#include <peregrine/storage/aggregate_repository.hpp>
#include <peregrine/storage/alert_repository.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/command_repository.hpp>
#include <peregrine/storage/config_repository.hpp>
#include <peregrine/storage/device_repository.hpp>
#include <peregrine/storage/export_repository.hpp>
#include <peregrine/storage/group_repository.hpp>
#include <peregrine/storage/incident_repository.hpp>
#include <peregrine/storage/response_repository.hpp>
#include <peregrine/storage/rule_repository.hpp>
#include <peregrine/storage/session_repository.hpp>
#include <peregrine/storage/shift_repository.hpp>
#include <peregrine/storage/tenant_repository.hpp>
#include <peregrine/storage/user_repository.hpp>

namespace peregrine::storage {

class QueryPool;

struct Repositories {
  explicit Repositories(QueryPool& pool)
      : audit(pool), tenants(pool), users(pool), sessions(pool), devices(pool), rules(pool),
        alerts(pool), groups(pool), commands(pool), channels(pool), contacts(pool), silences(pool),
        notifications(pool), incidents(pool), aggregates(pool), exports(pool), shifts(pool), configs(pool) {}

  AuditRepository audit;
  TenantRepository tenants;
  UserRepository users;
  SessionRepository sessions;
  DeviceRepository devices;
  RuleRepository rules;
  AlertRepository alerts;
  GroupRepository groups;
  CommandRepository commands;
  ChannelRepository channels;
  ContactRepository contacts;
  SilenceRepository silences;
  NotificationRepository notifications;
  IncidentRepository incidents;
  AggregateRepository aggregates;
  ExportRepository exports;
  ShiftRepository shifts;
  ConfigRepository configs;
};

}  // namespace peregrine::storage
