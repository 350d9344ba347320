#pragma once
/// What the command, batch and job REST handlers reach (CONTRACT.md
/// "commands", "groups" batch, "jobs"): the command and job services on the
/// loop, which own pending commands and running jobs, and the repositories
/// for history. Reads come from PostgreSQL, overlaid with the services'
/// newer in-memory state.

#include <peregrine/api/context.hpp>
#include <peregrine/commands/service.hpp>
#include <peregrine/fleet/config_service.hpp>
#include <peregrine/jobs/service.hpp>

namespace peregrine::api {

struct ControlContext {
  Context& base;
  commands::Service& commands;  ///< loop thread only
  jobs::Service& jobs;          ///< loop thread only
  fleet::ConfigService& configs;  ///< loop thread only
};

/// `POST/GET /api/v1/devices/{id}/commands`, `GET …/commands/{cid}`,
/// `POST /api/v1/groups/{id}/commands` (batch, a job).
void add_command_routes(http::Router& router, ControlContext& ctx);
/// `POST /api/v1/devices/bulk` (admin): a JSON array or CSV, one result per
/// row, recorded as an `import` job.
void add_bulk_routes(http::Router& router, ControlContext& ctx);
/// `GET /api/v1/jobs`, `GET /api/v1/jobs/{id}`, `POST /api/v1/jobs/{id}/cancel`.
void add_job_routes(http::Router& router, ControlContext& ctx);
/// `/api/v1/device-types[/{type}[/schema]]`, `/api/v1/devices/{id}/config[/versions[/{v}]|/diff]`,
/// `POST /api/v1/groups/{id}/config` (a job).
void add_config_routes(http::Router& router, ControlContext& ctx);

}  // namespace peregrine::api
