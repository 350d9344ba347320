// One incident: state and its valid next moves, severity, assignee, the
// linked alerts (and adding more by id), the timeline oldest first, comments
// and the maintenance log. Any change (here, by another user or by the
// server) comes as an `incidents` frame: the header takes it at once and the
// incident is read again for its timeline, alerts and maintenance entries.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Time, Severity, SEVERITIES, fmtValue, roleAtLeast, toMs, iso, toLocalInput, fromLocalInput, idList } from '../util.js';
import { get, getAll, post, patch, enc, role, session, tenantOverride, ApiError } from '../api.js';
import { useFrames, resyncCount } from '../live.js';
import { ErrorBox, Field } from '../components.js';

export const INCIDENT_STATES = ['open', 'investigating', 'resolved', 'closed'];
// open → investigating → resolved → closed; resolved → investigating reopens; closed is final.
const NEXT = { open: ['investigating'], investigating: ['resolved'], resolved: ['investigating', 'closed'], closed: [] };
const MOVE_LABEL = { investigating: 'Start investigating', resolved: 'Resolve', closed: 'Close' };
const KIND_ICON = { created: '●', alert_added: '+', state: '⇄', assignee: '@', comment: '✎', maintenance: '⚒', updated: '↻' };

export function IncidentState({ s }) {
  return html`<span class=${'pill inc-' + s} data-testid="incident-state">${s}</span>`;
}

export function IncidentDetail({ id }) {
  const [inc, setInc] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [reads, setReads] = useState(0); // bumped to read the incident again
  const timer = useRef(null);
  const canOperate = roleAtLeast(role.value, 'operator');
  const reload = () => setReads((n) => n + 1);

  useEffect(() => {
    get(`/incidents/${enc(id)}`).then((i) => (setInc(i), setErr(null)), setErr);
  }, [id, reads, resyncCount.value]);
  useEffect(() => () => clearTimeout(timer.current), []);

  useFrames('incidents', 'incident', (msg) => {
    if (String(msg.incident?.id) !== String(id)) return;
    setInc((cur) => (cur ? { ...cur, ...msg.incident } : cur));
    // Several frames in a burst (a state change and its timeline row) cost one read.
    clearTimeout(timer.current);
    timer.current = setTimeout(reload, 250);
  }, [id]);

  /** A write, then the incident read again; the error lands in the header's box. */
  const write = async (fn) => {
    setBusy(true);
    setErr(null);
    try {
      await fn();
      reload();
      return true;
    } catch (e) {
      setErr(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const move = (to) => write(() => patch(`/incidents/${enc(id)}`, { state: to }));

  if (!inc) return html`<section><${ErrorBox} error=${err} label="Incident" />${err ? null : html`<p class="muted">Loading…</p>`}</section>`;
  // Closed is final: only comments are still taken.
  const closed = inc.state === 'closed';
  const timeline = [...(inc.timeline || [])].sort((a, b) => toMs(a.at) - toMs(b.at));
  return html`<section class="incident" data-testid="incident-detail" data-incident=${inc.id} data-state=${inc.state}>
    <div class="toolbar"><h1><a href="#/incidents" class="muted">Incidents</a> / <span data-testid="incident-title">${inc.title}</span></h1>
      <${Severity} s=${inc.severity} /><${IncidentState} s=${inc.state} />
      <div class="spacer"></div>
      ${canOperate ? NEXT[inc.state]?.map((to) => html`<button onClick=${() => move(to)} disabled=${busy} data-testid=${'to-' + to}>
        ${inc.state === 'resolved' && to === 'investigating' ? 'Reopen' : MOVE_LABEL[to]}</button>`) : null}</div>
    ${inc.description ? html`<p class="muted">${inc.description}</p>` : null}
    <${ErrorBox} error=${err} label="Incident" />
    <div class="cols">
      <div>
        <div class="card"><h2>Timeline</h2>
          <ol class="timeline" data-testid="incident-timeline">${timeline.map((e) => html`<li class=${'ev iev-' + e.kind} data-kind=${e.kind}>
            <span class="ev-icon" aria-hidden="true">${KIND_ICON[e.kind] || '·'}</span>
            <span class="ev-when"><${Time} t=${e.at} /></span> <b class="ev-kind">${e.kind.replace('_', ' ')}</b> <span class="muted small">by ${e.actor}</span>
            ${e.text ? html`<div class="ev-detail">${e.text}</div>` : null}</li>`)}</ol>
          ${timeline.length === 0 ? html`<p class="muted">No events yet.</p>` : null}
          ${canOperate ? html`<${CommentForm} write=${(text) => write(() => post(`/incidents/${enc(id)}/comments`, { text }))} />` : null}</div>
        <${LinkedAlerts} inc=${inc} canOperate=${canOperate && !closed} write=${write} />
        <${Maintenance} inc=${inc} canOperate=${canOperate && !closed} write=${write} />
      </div>
      <aside class="card"><h2>Details</h2><dl class="kvlist">
        <dt>Assignee</dt><dd>${canOperate && !closed ? html`<${Assignee} inc=${inc} write=${write} busy=${busy} />`
          : inc.assignee?.email || html`<span class="muted">nobody</span>`}</dd>
        <dt>Severity</dt><dd>${canOperate && !closed ? html`<select aria-label="Severity" value=${inc.severity} disabled=${busy} data-testid="incident-severity"
          onChange=${(e) => write(() => patch(`/incidents/${enc(id)}`, { severity: e.target.value }))}>
          ${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select>` : html`<${Severity} s=${inc.severity} />`}</dd>
        <dt>Opened by</dt><dd>${inc.created_by}</dd>
        <dt>Created</dt><dd><${Time} t=${inc.created_at} /></dd>
        <dt>Updated</dt><dd><${Time} t=${inc.updated_at} /></dd></dl></aside>
    </div>
  </section>`;
}

/** The tenant's users to pick from; null when the caller may not list them (GET /users may be admin-only). */
function useUsers() {
  const [users, setUsers] = useState(undefined); // undefined = loading
  useEffect(() => {
    // A superadmin lists every tenant's users: ask for the tenant in view.
    const tenant = role.value === 'superadmin' ? tenantOverride.value || session.value?.tenant : '';
    getAll('/users' + (tenant ? '?tenant_id=' + enc(tenant) : ''), 5000, 500).then(setUsers, () => setUsers(null));
  }, [tenantOverride.value]);
  return users;
}

function Assignee({ inc, write, busy }) {
  const users = useUsers();
  const current = inc.assignee?.id != null ? String(inc.assignee.id) : '';
  const [typed, setTyped] = useState(current);
  useEffect(() => setTyped(current), [current]);
  const assign = (v) => write(() => patch(`/incidents/${enc(inc.id)}`, { assignee: v === '' ? null : Number(v) }));
  if (users === undefined) return html`<span class="muted">${inc.assignee?.email || 'nobody'}</span>`;
  if (users) {
    const known = users.some((u) => String(u.id) === current);
    return html`<select aria-label="Assignee" value=${current} disabled=${busy} onChange=${(e) => assign(e.target.value)} data-testid="assignee">
      <option value="">— nobody —</option>
      ${current && !known ? html`<option value=${current}>${inc.assignee.email}</option>` : null}
      ${users.map((u) => html`<option value=${String(u.id)}>${u.email}</option>`)}</select>`;
  }
  // Without the user list: the assignee by user id.
  return html`<form class="row" onSubmit=${(e) => (e.preventDefault(), assign(typed.trim()))} data-testid="assignee-form">
    <span>${inc.assignee?.email || html`<span class="muted">nobody</span>`}</span>
    <input name="assignee" type="number" min="1" aria-label="Assignee user id" placeholder="user id" value=${typed} onInput=${(e) => setTyped(e.target.value)} />
    <button disabled=${busy} data-testid="assign">Assign</button></form>`;
}

function CommentForm({ write }) {
  const [text, setText] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    if (text.trim() && (await write(text.trim()))) setText('');
  };
  return html`<form onSubmit=${submit} data-testid="comment-form">
    <${Field} label="Comment"><textarea name="comment" rows="2" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></${Field}>
    <button disabled=${!text.trim()} data-testid="add-comment">Add comment</button></form>`;
}

function LinkedAlerts({ inc, canOperate, write }) {
  const [add, setAdd] = useState('');
  const alerts = inc.alerts || [];
  const submit = async (ev) => {
    ev.preventDefault();
    const ids = idList(add).map(Number);
    if (ids.length && (await write(() => post(`/incidents/${enc(inc.id)}/alerts`, { alert_ids: ids })))) setAdd('');
  };
  return html`<div class="card" data-testid="incident-alerts">
    <div class="toolbar"><h2>Alerts</h2>
      ${canOperate ? html`<form class="row" onSubmit=${submit} data-testid="add-alerts">
        <input name="alert_ids" aria-label="Alert ids to add" placeholder="alert ids, comma separated" value=${add} onInput=${(e) => setAdd(e.target.value)} />
        <button data-testid="add-alert">Add</button></form>` : null}</div>
    <div class="table-wrap"><table><thead><tr><th>Alert</th><th>Severity</th><th>State</th><th>Device</th><th>Metric</th><th>Value</th><th>Opened</th></tr></thead>
      <tbody>${alerts.map((a) => html`<tr data-testid=${'incident-alert-' + a.id} data-state=${a.state} class=${'st-' + a.state}>
        <td><a href=${'#/alerts/' + enc(a.id)}>${a.id}</a>${a.silenced ? html` <span class="pill silenced">silenced</span>` : null}</td>
        <td><${Severity} s=${a.severity} /></td><td>${a.state}</td><td><a href=${'#/device/' + enc(a.device)}>${a.device}</a></td>
        <td>${a.metric}</td><td class="num">${fmtValue(a.value)}</td><td><${Time} t=${a.opened_at} /></td></tr>`)}</tbody></table>
      ${alerts.length === 0 ? html`<p class="muted empty">No alerts linked.</p>` : null}</div>
  </div>`;
}

const emptyEntry = () => ({ note: '', performed_by: session.peek()?.email || '', performed_at: toLocalInput(Date.now()), parts: '' });

function Maintenance({ inc, canOperate, write }) {
  const [f, setF] = useState(emptyEntry());
  const [fieldErr, setFieldErr] = useState({});
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const entries = [...(inc.maintenance || [])].sort((a, b) => toMs(a.performed_at) - toMs(b.performed_at));
  const submit = async (ev) => {
    ev.preventDefault();
    setFieldErr({});
    const body = { note: f.note.trim(), performed_by: f.performed_by.trim(), performed_at: iso(fromLocalInput(f.performed_at)),
      parts: f.parts.split(',').map((p) => p.trim()).filter(Boolean) };
    let refused = null;
    const ok = await write(() => post(`/incidents/${enc(inc.id)}/maintenance`, body).catch((e) => {
      if (e instanceof ApiError) refused = e.fields;
      throw e;
    }));
    if (ok) setF(emptyEntry());
    else if (refused) setFieldErr(refused);
  };
  return html`<div class="card" data-testid="maintenance">
    <h2>Maintenance</h2>
    <div class="table-wrap"><table data-testid="maintenance-table"><thead><tr><th>Performed</th><th>By</th><th>Note</th><th>Parts</th><th>Logged by</th></tr></thead>
      <tbody>${entries.map((m) => html`<tr data-testid=${'maintenance-' + m.id}>
        <td><${Time} t=${m.performed_at} /></td><td>${m.performed_by}</td><td class="pre">${m.note}</td>
        <td>${(m.parts || []).join(', ') || html`<span class="muted">—</span>`}</td><td class="small">${m.created_by}</td></tr>`)}</tbody></table>
      ${entries.length === 0 ? html`<p class="muted empty">No maintenance logged.</p>` : null}</div>
    ${canOperate ? html`<form onSubmit=${submit} data-testid="maintenance-form"><h2>Log maintenance</h2>
      <${Field} label="What was done" error=${fieldErr.note}><textarea name="note" required rows="2" value=${f.note} onInput=${set('note')}></textarea></${Field}>
      <div class="row">
        <${Field} label="Performed by" error=${fieldErr.performed_by}><input name="performed_by" required value=${f.performed_by} onInput=${set('performed_by')} /></${Field}>
        <${Field} label="Performed at" error=${fieldErr.performed_at}><input name="performed_at" type="datetime-local" required value=${f.performed_at} onInput=${set('performed_at')} /></${Field}>
      </div>
      <${Field} label="Parts" error=${fieldErr.parts} hint="comma separated, e.g. valve V-12, gasket"><input name="parts" value=${f.parts} onInput=${set('parts')} /></${Field}>
      <button class="primary" data-testid="add-maintenance">Log entry</button></form>` : null}
  </div>`;
}
