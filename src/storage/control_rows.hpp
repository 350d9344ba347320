#pragma once
// SQL of the alert store's command and job ops (migrations/0008): upserts
// of commands, jobs and job items, and command events.

#include <pqxx/pqxx>

#include <peregrine/storage/alert_store.hpp>

namespace peregrine::storage {

/// Writes `op` when it is a command, command event, job or job item; false
/// for any other op.
bool write_control_op(pqxx::work& w, const AlertOp& op);

/// Columns of a `jobs` row for job_from_row.
extern const std::string kJobColumnsSql;
jobs::Job job_from_row(const pqxx::row& row);

}  // namespace peregrine::storage
