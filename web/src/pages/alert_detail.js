// One alert with its timeline: opened, acknowledged, escalated, resolved
// and the rule's `action` steps (commands sent, acked or timed out, and the
// fallbacks they started). Action steps arrive live as `alert_event` frames
// and are appended; the other kinds come only as a changed alert (an alert
// frame), which updates the header and has the stored events read again.
// Below: the notify actions' deliveries (no frame carries them: they are
// read again every few seconds while one is pending) and the incident the
// alert belongs to, or a button to open one.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, Severity, fmtValue, roleAtLeast, toMs, navigate } from '../util.js';
import { get, post, enc, role } from '../api.js';
import { alerts, alertsVersion, putAlert, onAlert, useFrames, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';

const KIND_ICON = { opened: '●', updated: '↻', acknowledged: '✓', resolved: '◯', escalated: '▲', action: '⚙' };
const DELIVERY_ICON = { pending: '…', sent: '✓', failed: '✗', cancelled: '⊘' };
const DELIVERY_POLL_MS = 5000;
const eventKey = (e) => `${e.kind}|${e.at}|${e.actor}|${e.detail}`;

function mergeEvents(list, more) {
  const seen = new Set(list.map(eventKey));
  const out = list.concat(more.filter((e) => !seen.has(eventKey(e))));
  return out.sort((a, b) => toMs(a.at) - toMs(b.at));
}

export function AlertDetail({ id }) {
  const [stored, setStored] = useState(null);
  const [events, setEvents] = useState([]);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [reads, setReads] = useState(0); // bumped to read the stored events again
  const [deliveries, setDeliveries] = useState([]);
  alertsVersion.value;

  useEffect(() => {
    setErr(null);
    get(`/alerts/${enc(id)}`).then(
      (a) => {
        const { events: ev, notifications, ...alert } = a;
        setStored(alert);
        setEvents((live) => mergeEvents(ev || [], live));
        setDeliveries(notifications || []);
      },
      setErr,
    );
  }, [id, resyncCount.value, reads]);

  // The event behind an alert frame is written to PostgreSQL just after the
  // frame: read shortly after it, and once more for a slow write.
  useEffect(() => {
    const timers = [];
    const off = onAlert((a) => {
      if (String(a?.id) !== String(id)) return;
      timers.forEach(clearTimeout);
      timers.length = 0;
      for (const ms of [500, 2500]) timers.push(setTimeout(() => setReads((n) => n + 1), ms));
    });
    return () => {
      off();
      timers.forEach(clearTimeout);
    };
  }, [id]);

  // A pending delivery is being tried (and retried): read the list again until none is.
  const pending = deliveries.some((n) => n.status === 'pending');
  useEffect(() => {
    if (!pending) return undefined;
    const t = setInterval(() => {
      get(`/notifications?alert=${enc(id)}`).then((r) => setDeliveries(r?.items || []), () => {});
    }, DELIVERY_POLL_MS);
    return () => clearInterval(t);
  }, [id, pending]);

  useFrames('alerts', 'alert_event', (msg) => {
    if (String(msg.alert_id) === String(id) && msg.event) setEvents((list) => mergeEvents(list, [msg.event]));
  }, [id]);

  const live = alerts.get(stored?.id) || alerts.get(Number(id));
  const a = stored ? { ...stored, ...live } : live;
  const canOperate = roleAtLeast(role.value, 'operator');
  const act = async (what) => {
    setBusy(true);
    setErr(null);
    try {
      const r = await post(`/alerts/${enc(id)}/${what}`, {});
      if (r?.id != null) {
        putAlert(r);
        setStored((s) => ({ ...s, ...r }));
      }
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };

  const openIncident = async () => {
    setBusy(true);
    setErr(null);
    try {
      const inc = await post('/incidents', {
        title: `${a.device} ${a.metric}: ${a.message || 'alert ' + a.id}`.slice(0, 300), severity: a.severity, alert_ids: [Number(a.id)],
      });
      navigate('#/incidents/' + enc(inc.id));
    } catch (e) {
      setErr(e);
      setBusy(false);
    }
  };

  if (!a) return html`<section><${ErrorBox} error=${err} label="Alert" />${err ? null : html`<p class="muted">Loading…</p>`}</section>`;
  return html`<section class="alert-detail" data-testid="alert-detail" data-state=${a.state} data-severity=${a.severity}>
    <div class="toolbar"><h1><a href="#/alerts" class="muted">Alerts</a> / Alert ${a.id}</h1>
      <${Severity} s=${a.severity} /><span class="pill" data-testid="alert-state">${a.state}</span>
      ${a.silenced ? html`<span class="pill silenced" data-testid="silenced" title="a silence covered this alert: no notify or command action ran">silenced</span>` : null}
      ${a.incident_id != null ? html`<a class="button" href=${'#/incidents/' + enc(a.incident_id)} data-testid="incident-link">Incident ${a.incident_id}</a>`
        : canOperate ? html`<button onClick=${openIncident} disabled=${busy} data-testid="create-incident">Create incident</button>` : null}
      ${canOperate && a.state === 'active' ? html`<button onClick=${() => act('ack')} disabled=${busy}>Acknowledge</button>` : null}
      ${canOperate && a.state !== 'resolved' ? html`<button onClick=${() => act('resolve')} disabled=${busy}>Resolve</button>` : null}</div>
    <${ErrorBox} error=${err} label="Alert" />
    <div class="cols">
      <div class="card"><h2>Timeline</h2>
        <ol class="timeline" data-testid="timeline">${events.map((e) => html`<li class=${'ev ev-' + e.kind} data-kind=${e.kind}>
          <span class="ev-icon" aria-hidden="true">${KIND_ICON[e.kind] || '·'}</span>
          <span class="ev-when"><${Time} t=${e.at} /></span> <b class="ev-kind">${e.kind}</b> <span class="muted small">by ${e.actor}</span>
          ${e.detail ? html`<div class="ev-detail" data-testid="event-detail">${e.detail}</div>` : null}</li>`)}</ol>
        ${events.length === 0 ? html`<p class="muted">No events yet.</p>` : null}
        <p class="muted small">Action steps (commands the rule sent and their fallbacks) appear here as they happen.</p></div>
      <div class="card"><h2>Details</h2><dl class="kvlist">
        <dt>Device</dt><dd><a href=${'#/device/' + enc(a.device)}>${a.device}</a></dd>
        <dt>Metric</dt><dd>${a.metric}</dd><dt>Value</dt><dd>${fmtValue(a.value)}</dd>
        <dt>Message</dt><dd>${a.message || '—'}</dd><dt>Rule</dt><dd>${a.rule_id == null ? '—' : roleAtLeast(role.value, 'admin') ? html`<a href=${'#/rules/' + enc(a.rule_id)}>${a.rule_id}</a>` : a.rule_id}</dd>
        <dt>Opened</dt><dd><${Time} t=${a.opened_at} /></dd>
        <dt>Acknowledged</dt><dd>${a.acknowledged_at ? html`<${Time} t=${a.acknowledged_at} /> by ${a.acknowledged_by}` : '—'}</dd>
        <dt>Resolved</dt><dd>${a.resolved_at ? html`<${Time} t=${a.resolved_at} />` : '—'}</dd>
        <dt>Incident</dt><dd>${a.incident_id != null ? html`<a href=${'#/incidents/' + enc(a.incident_id)}>${a.incident_id}</a>` : '—'}</dd></dl></div>
    </div>
    <${Deliveries} list=${deliveries} />
  </section>`;
}

function DeliveryStatus({ s }) {
  return html`<span class=${'dst dst-' + s} data-testid="delivery-status"><span aria-hidden="true">${DELIVERY_ICON[s] || '?'}</span> ${s}</span>`;
}

function Deliveries({ list }) {
  return html`<div class="card" data-testid="deliveries"><h2>Deliveries</h2>
    <div class="table-wrap"><table><thead><tr><th>Event</th><th>Channel</th><th>To</th><th>Status</th><th class="num">Attempts</th><th>Last error</th><th>Due</th><th>Sent</th></tr></thead>
      <tbody>${list.map((n) => html`<tr data-testid=${'delivery-' + n.id} data-status=${n.status} data-attempts=${n.attempts} class=${n.status === 'failed' ? 'row-error' : ''}>
        <td>${n.event}${n.reminder ? html` <span class="muted small">reminder ${n.reminder}</span>` : null}</td>
        <td>${n.channel_name} <span class="muted small">${n.channel_type}</span></td>
        <td>${n.contact_name ? html`${n.contact_name} ` : null}${n.to ? html`<span class="muted small">${n.to}</span>` : n.contact_name ? null : html`<span class="muted">—</span>`}</td>
        <td><${DeliveryStatus} s=${n.status} /></td><td class="num" data-testid="delivery-attempts">${n.attempts}</td>
        <td class="small">${n.last_error || ''}</td><td><${Time} t=${n.due_at} /></td><td>${n.sent_at ? html`<${Time} t=${n.sent_at} />` : '—'}</td></tr>`)}</tbody></table>
      ${list.length === 0 ? html`<p class="muted empty">No notifications for this alert (a rule's notify action sends them).</p>` : null}</div>
  </div>`;
}
