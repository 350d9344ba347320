#pragma once
// SQL of the notifications outbox on the alert store's transaction
// (migrations/0009): a notify step expanded into one delivery per
// (channel, contact), and an alert's later transitions (cancelling its
// pending escalation steps and reminders, telling its webhooks).

#include <pqxx/pqxx>

#include <peregrine/notifications/notify.hpp>

namespace peregrine::storage {

void write_notify(pqxx::work& w, const notifications::NotifyRequest& r);

}  // namespace peregrine::storage
