// Incidents: the list (newest first, filtered by state) kept current by the
// `incidents` WebSocket topic, and a form to open one (operator); an
// incident's own page is incident_detail.js.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, Severity, SEVERITIES, roleAtLeast, toMs, navigate, idList } from '../util.js';
import { getAll, post, enc, role } from '../api.js';
import { useFrames, resyncCount } from '../live.js';
import { ErrorBox, Field } from '../components.js';
import { IncidentDetail, IncidentState, INCIDENT_STATES } from './incident_detail.js';

export function IncidentsPage({ args }) {
  if (args[0]) return html`<${IncidentDetail} key=${args[0]} id=${args[0]} />`;
  return html`<${IncidentList} />`;
}

const newestFirst = (a, b) => toMs(b.created_at) - toMs(a.created_at) || Number(b.id) - Number(a.id);

function IncidentList() {
  const [state, setState] = useState('');
  const [list, setList] = useState(null);
  const [err, setErr] = useState(null);
  const canOperate = roleAtLeast(role.value, 'operator');
  useEffect(() => {
    setErr(null);
    setList(null);
    getAll('/incidents' + (state ? '?state=' + state : ''), 2000, 500).then(setList, (e) => { setErr(e); setList([]); });
  }, [state, resyncCount.value]);
  // A frame carries the whole incident: it joins, moves in or leaves the filtered list.
  useFrames('incidents', 'incident', (msg) => {
    const inc = msg.incident;
    if (!inc || inc.id == null) return;
    setList((cur) => {
      if (!cur) return cur;
      const rest = cur.filter((x) => String(x.id) !== String(inc.id));
      return !state || inc.state === state ? [inc, ...rest].sort(newestFirst) : rest;
    });
  }, [state]);
  return html`<section class="incidents">
    <div class="toolbar"><h1>Incidents</h1>
      <select aria-label="State" value=${state} onChange=${(e) => setState(e.target.value)} data-testid="incident-filter">
        <option value="">Any state</option>${INCIDENT_STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select>
      <span class="muted small">${list ? `${list.length} incidents` : ''}</span></div>
    <${ErrorBox} error=${err} label="Incidents" />
    <div class=${canOperate ? 'cols' : ''}>
      <div class="table-wrap"><table data-testid="incident-table"><thead><tr><th>#</th><th>Title</th><th>Severity</th><th>State</th><th>Assignee</th><th class="num">Alerts</th><th>Created</th><th>Updated</th></tr></thead>
        <tbody>${(list || []).map((i) => html`<tr data-testid=${'incident-' + i.id} data-state=${i.state} class=${'row-' + i.severity + (i.state === 'closed' ? ' st-resolved' : '')}>
          <td>${i.id}</td><td><a href=${'#/incidents/' + enc(i.id)}>${i.title}</a></td><td><${Severity} s=${i.severity} /></td>
          <td><${IncidentState} s=${i.state} /></td><td>${i.assignee?.email || html`<span class="muted">—</span>`}</td>
          <td class="num">${(i.alert_ids || []).length}</td><td><${Time} t=${i.created_at} /></td><td><${Time} t=${i.updated_at} /></td></tr>`)}</tbody></table>
        ${list && list.length === 0 ? html`<p class="muted empty">No ${state ? state + ' ' : ''}incidents.</p>` : null}
        ${list === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
      ${canOperate ? html`<${NewIncident} />` : null}
    </div>
  </section>`;
}

function NewIncident() {
  const [f, setF] = useState({ title: '', severity: 'warning', alert_ids: '', description: '' });
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const fe = err?.fields || {};
  const create = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setBusy(true);
    try {
      const body = { title: f.title.trim(), severity: f.severity, alert_ids: idList(f.alert_ids).map(Number) };
      if (f.description.trim()) body.description = f.description.trim();
      const inc = await post('/incidents', body);
      navigate('#/incidents/' + enc(inc.id));
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${create} data-testid="incident-form"><h2>New incident</h2>
    <${Field} label="Title" error=${fe.title}><input name="title" required maxlength="300" value=${f.title} onInput=${set('title')} /></${Field}>
    <${Field} label="Severity" error=${fe.severity}><select name="severity" value=${f.severity} onChange=${set('severity')}>
      ${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></${Field}>
    <${Field} label="Alerts" error=${fe.alert_ids} hint="alert ids, comma separated (optional); an alert belongs to one incident"><input name="alert_ids" value=${f.alert_ids} onInput=${set('alert_ids')} /></${Field}>
    <${Field} label="Description" error=${fe.description}><textarea name="description" rows="3" value=${f.description} onInput=${set('description')}></textarea></${Field}>
    <button class="primary" disabled=${busy} data-testid="create-incident">Open incident</button>
    <${ErrorBox} error=${err} label="Not created" />
  </form>`;
}
