#pragma once
// The alert store's spill records: a batch of AlertOps (alert rows, events,
// snapshots) as one JSON array, so that alerts and events that could not
// reach PostgreSQL survive a restart in the order they happened.

#include <string>
#include <string_view>
#include <vector>

#include <peregrine/storage/alert_store.hpp>

namespace peregrine::storage {

std::string encode_alert_ops(const std::vector<AlertOp>& ops);
/// False when the payload is not a batch encode_alert_ops() wrote.
bool decode_alert_ops(std::string_view payload, std::vector<AlertOp>& out);

}  // namespace peregrine::storage
