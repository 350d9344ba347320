#include "storage/notification_sql.hpp"

#include "storage/sql_support.hpp"

namespace peregrine::storage {
namespace {

const char* mode_text(notifications::ContactMode m) {
  switch (m) {
    case notifications::ContactMode::all: return "all";
    case notifications::ContactMode::ids: return "ids";
    case notifications::ContactMode::device: break;
  }
  return "device";
}

// $1 channel, $2 tenant, $3 kind filter, $4 mode, $5 contact ids, $6 device,
// $7 alert, $8 event, $9 conditional, $10 repeat_s, $11 payload, $12 opened_at, $13 due_at.
// A step that reaches nobody says so in the alert's events.
const std::string kStepSql =
    "WITH ch AS (SELECT id, name, type FROM channels WHERE id = $1 AND tenant_id = $2), "
    "targets AS ("
    "  SELECT ch.id AS channel_id, ch.name AS channel_name, ch.type AS channel_type, "
    "         NULL::bigint AS contact_id, NULL::text AS contact_name, NULL::text AS to_address "
    "  FROM ch WHERE ch.type = 'webhook' "
    "  UNION ALL "
    "  SELECT ch.id, ch.name, ch.type, c.id, c.name, "
    "         CASE WHEN ch.type = 'email' THEN c.email ELSE c.phone END "
    "  FROM ch JOIN contacts c ON c.tenant_id = $2 "
    "  WHERE ch.type <> 'webhook' "
    "    AND (CASE WHEN ch.type = 'email' THEN c.email ELSE c.phone END) IS NOT NULL "
    "    AND ($3 = '' OR c.kind = $3) "
    "    AND CASE $4 WHEN 'all' THEN true "
    "                WHEN 'ids' THEN c.id = ANY($5::bigint[]) "
    "                ELSE EXISTS (SELECT 1 FROM contact_devices cd "
    "                             WHERE cd.contact_id = c.id AND cd.device_id = $6) "
    "                  OR EXISTS (SELECT 1 FROM contact_groups cg JOIN device_group_members m "
    "                             ON m.group_id = cg.group_id "
    "                             WHERE cg.contact_id = c.id AND m.device_id = $6) END"
    "), ins AS ("
    "  INSERT INTO notifications (id, tenant_id, alert_id, event, channel_id, channel_name, "
    "    channel_type, contact_id, contact_name, to_address, status, conditional, repeat_s, "
    "    payload, opened_at, due_at, next_attempt_at) "
    "  SELECT gen_random_uuid(), $2, $7, $8, channel_id, channel_name, channel_type, contact_id, "
    "    contact_name, to_address, 'pending', $9, $10, $11::jsonb, " + sql::ts_param(12) + ", " +
    sql::ts_param(13) + ", " + sql::ts_param(13) +
    "  FROM targets RETURNING 1"
    ") "
    "INSERT INTO alert_events (alert_id, kind, actor, at, detail) "
    "SELECT $7, 'action', 'system', now(), "
    "  CASE WHEN NOT EXISTS (SELECT 1 FROM ch) THEN 'notify: channel ' || $1 || ' does not exist' "
    "       ELSE 'notify: no contact with an address for channel ' || $1 || ' matches' END "
    "WHERE NOT EXISTS (SELECT 1 FROM ins)";

// $1 alert, $2 cancel reason ('' = none), $3 event, $4 payload. The webhooks
// the opening went to (already due: a pending escalation step has not) get
// the event; an acknowledgement or resolution cancels pending conditional
// deliveries, and the alert's events say how many.
const char* const kLifecycleSql =
    "WITH cancelled AS ("
    "  UPDATE notifications SET status = 'cancelled', last_error = 'alert ' || $2 "
    "  WHERE alert_id = $1 AND status = 'pending' AND conditional AND $2 <> '' RETURNING 1"
    "), noted AS ("
    "  INSERT INTO alert_events (alert_id, kind, actor, at, detail) "
    "  SELECT $1, 'action', 'system', now(), "
    "    'notifications cancelled: ' || count(*) || ' pending (' || $2 || ')' "
    "  FROM cancelled HAVING count(*) > 0 RETURNING 1"
    ") "
    "INSERT INTO notifications (id, tenant_id, alert_id, event, channel_id, channel_name, "
    "  channel_type, status, payload, opened_at, due_at, next_attempt_at) "
    "SELECT gen_random_uuid(), n.tenant_id, $1, $3, n.channel_id, n.channel_name, 'webhook', "
    "  'pending', $4::jsonb, n.opened_at, now(), now() "
    "FROM (SELECT DISTINCT ON (channel_id) tenant_id, channel_id, channel_name, opened_at "
    "      FROM notifications WHERE alert_id = $1 AND channel_type = 'webhook' "
    "        AND event = 'alert.opened' AND reminder = 0 AND status <> 'cancelled' "
    "        AND due_at <= now() AND channel_id IS NOT NULL ORDER BY channel_id) n";

}  // namespace

void write_notify(pqxx::work& w, const notifications::NotifyRequest& r) {
  if (r.channel_id == 0) {
    w.exec_params(kLifecycleSql, r.alert_id, r.cancel_reason, r.event, r.payload);
    return;
  }
  w.exec_params(kStepSql, r.channel_id, r.tenant, r.kind, mode_text(r.mode), sql::int_array(r.contact_ids),
                r.device, r.alert_id, r.event, r.conditional, r.repeat_s, r.payload, r.opened_at, r.due_at);
}

}  // namespace peregrine::storage
