// OEE of a machine (device) or a line (group) by shift or day, from the
// server's ISO 22400 arithmetic (GET /devices|groups/{id}/oee), with a
// downtime bar per row, and the shift calendar that gives the planned time
// (everyone reads it; admins add and delete shifts).
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast, iso } from '../util.js';
import { get, getAll, post, del, enc, role } from '../api.js';
import { devices, devicesVersion } from '../live.js';
import { ErrorBox, Field } from '../components.js';

const RATE_KEY = 'peregrine.oee.ideal_rate';
const DAY = 86400e3;
const RANGES = [['today', 'Today'], ['yesterday', 'Yesterday'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** [from, to) in ms of a named range, local calendar days. */
export function oeeWindow(range, at = Date.now()) {
  const midnight = new Date(at);
  midnight.setHours(0, 0, 0, 0);
  const m = midnight.getTime();
  if (range === 'today') return { from: m, to: at };
  if (range === 'yesterday') return { from: m - DAY, to: m };
  return { from: m - (range === '7d' ? 7 : 30) * DAY, to: at };
}

const pct = (v) => (v == null ? '—' : `${(v * 100).toFixed(1)} %`);
const hours = (s) => `${(s / 3600).toFixed(2)} h`;

function DowntimeBar({ row }) {
  const planned = row.planned_s || 0;
  const run = planned ? Math.min(100, (100 * row.run_s) / planned) : 0;
  return html`<div class="downtime-bar" data-testid="downtime-bar" role="img"
      aria-label=${`ran ${hours(row.run_s)}, down ${hours(row.downtime_s)} of ${hours(planned)} planned`}>
    <span class="run" style=${`width:${run}%`}></span><span class="down" style=${`width:${100 - run}%`}></span>
    <small>${hours(row.run_s)} run · ${hours(row.downtime_s)} down</small></div>`;
}

function Factors({ r }) {
  return html`<td class="num">${pct(r.availability)}</td><td class="num">${pct(r.performance)}</td>
    <td class="num">${pct(r.quality)}</td><td class="num"><b>${pct(r.oee)}</b></td>
    <td class="num">${r.good_count} / ${r.total_count}</td>`;
}

export function OeePage() {
  const [q, setQ] = useState({ kind: 'device', device: '', group: '', range: 'today', by: 'shift',
    ideal_rate: localStorage.getItem(RATE_KEY) || '', state_metric: 'state', good: 'count_good', total: 'count_total', running: '1' });
  const [groups, setGroups] = useState([]);
  const [result, setResult] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  devicesVersion.value;
  useEffect(() => { getAll('/groups', 5000, 500).then(setGroups, setErr); }, []);
  const set = (k) => (e) => setQ({ ...q, [k]: e.target.value });
  const run = async (ev) => {
    ev?.preventDefault();
    setErr(null);
    setBusy(true);
    try {
      localStorage.setItem(RATE_KEY, q.ideal_rate);
      const win = oeeWindow(q.range);
      const params = new URLSearchParams({ from: iso(win.from), to: iso(win.to), by: q.by, ideal_rate: q.ideal_rate,
        state_metric: q.state_metric, good: q.good, total: q.total, running: q.running,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' });
      const path = q.kind === 'device' ? `/devices/${enc(q.device.trim())}/oee` : `/groups/${enc(q.group)}/oee`;
      setResult(await get(`${path}?${params}`));
    } catch (e) {
      setResult(null);
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const calendarGroup = q.kind === 'group' ? q.group : '';
  return html`<section class="oee">
    <div class="toolbar"><h1>OEE</h1><span class="muted small">availability × performance × quality (ISO 22400)</span></div>
    <form class="card oee-form" onSubmit=${run} data-testid="oee-form">
      <div class="row">
        <select name="kind" aria-label="Machine or line" value=${q.kind} onChange=${set('kind')}>
          <option value="device">Machine</option><option value="group">Line (group)</option></select>
        ${q.kind === 'device'
          ? html`<input name="device" aria-label="Device id" required list="oee-devices" value=${q.device} onInput=${set('device')} />
            <datalist id="oee-devices">${[...devices.keys()].slice(0, 500).map((d) => html`<option value=${d} />`)}</datalist>`
          : html`<select name="group" aria-label="Group" required value=${q.group} onChange=${set('group')}>
            <option value="">— pick a line —</option>${groups.map((g) => html`<option value=${String(g.id)}>${g.name}</option>`)}</select>`}
        <select name="range" aria-label="Range" value=${q.range} onChange=${set('range')}>
          ${RANGES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
        <select name="by" aria-label="Rows" value=${q.by} onChange=${set('by')}>
          <option value="shift">by shift</option><option value="day">by day</option></select>
      </div>
      <div class="row">
        <${Field} label="Ideal rate (units/hour)"><input name="ideal_rate" type="number" min="0" step="any" required value=${q.ideal_rate} onInput=${set('ideal_rate')} /></${Field}>
        <${Field} label="State metric"><input name="state_metric" value=${q.state_metric} onInput=${set('state_metric')} /></${Field}>
        <${Field} label="Running value"><input name="running" value=${q.running} onInput=${set('running')} /></${Field}>
        <${Field} label="Good counter"><input name="good" value=${q.good} onInput=${set('good')} /></${Field}>
        <${Field} label="Total counter"><input name="total" value=${q.total} onInput=${set('total')} /></${Field}>
      </div>
      <button class="primary" disabled=${busy} data-testid="oee-run">Compute</button>
    </form>
    <${ErrorBox} error=${err} label="OEE" />
    ${err?.status === 422 ? html`<p class="muted" data-testid="oee-no-calendar">Add shifts below, or show the OEE by day.</p>` : null}
    ${result ? html`<${OeeResult} r=${result} />` : null}
    <${ShiftCalendar} group=${calendarGroup} groups=${groups} />
  </section>`;
}

function OeeResult({ r }) {
  return html`<div class="card" data-testid="oee-result">
    <div class="oee-figures">
      <div><span class="muted small">OEE</span><b class="big" data-testid="oee-total">${pct(r.oee)}</b></div>
      <div><span class="muted small">Availability</span><b data-testid="oee-availability">${pct(r.availability)}</b></div>
      <div><span class="muted small">Performance</span><b data-testid="oee-performance">${pct(r.performance)}</b></div>
      <div><span class="muted small">Quality</span><b data-testid="oee-quality">${pct(r.quality)}</b></div>
      <div><span class="muted small">Planned</span><b>${hours(r.planned_s)}</b></div>
    </div>
    <div class="table-wrap"><table data-testid="oee-rows"><thead><tr><th>${r.by === 'day' ? 'Day' : 'Shift'}</th>
      <th>Availability</th><th>Performance</th><th>Quality</th><th>OEE</th><th>Good / total</th><th>Run and downtime</th></tr></thead>
      <tbody>${r.rows.map((row) => html`<tr data-testid="oee-row"><td>${row.label}<br /><span class="muted small"><${Time} t=${row.from} /></span></td>
        <${Factors} r=${row} /><td><${DowntimeBar} row=${row} /></td></tr>`)}</tbody></table>
      ${r.rows.length === 0 ? html`<p class="muted empty">No planned time in this range.</p>` : null}</div>
    ${r.machines ? html`<h2>Machines</h2><div class="table-wrap"><table data-testid="oee-machines"><thead><tr><th>Machine</th>
      <th>Availability</th><th>Performance</th><th>Quality</th><th>OEE</th><th>Good / total</th><th>Run and downtime</th></tr></thead>
      <tbody>${r.machines.map((m) => html`<tr><td><a href=${'#/device/' + enc(m.device)}>${m.device}</a></td>
        <${Factors} r=${m} /><td><${DowntimeBar} row=${m} /></td></tr>`)}</tbody></table></div>
      <p class="muted small">The line's factors come from its machines' summed time and counts, not from averaging them.</p>` : null}
  </div>`;
}

function ShiftCalendar({ group, groups }) {
  const [shifts, setShifts] = useState(null);
  const [err, setErr] = useState(null);
  const isAdmin = roleAtLeast(role.value, 'admin');
  const load = () => get('/shifts' + (group ? `?group=${enc(group)}` : '')).then((r) => setShifts(r.items), setErr);
  useEffect(load, [group]);
  const groupName = (id) => groups.find((g) => String(g.id) === String(id))?.name || `group ${id}`;
  const remove = async (s) => {
    if (!confirm(`Delete shift ${s.name}?`)) return;
    try {
      await del(`/shifts/${enc(s.id)}`);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<div class="card" data-testid="shift-calendar"><h2>Shift calendar ${group ? `of ${groupName(group)}` : '(all)'}</h2>
    <${ErrorBox} error=${err} label="Shifts" />
    <div class="table-wrap"><table data-testid="shift-table"><thead><tr><th>Name</th><th>Time</th><th>Days</th><th>Zone</th><th>Breaks</th><th>Calendar</th>
      ${isAdmin ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${(shifts || []).map((s) => html`<tr data-testid=${'shift-' + s.id}><td>${s.name}</td><td>${s.start}–${s.end}</td>
        <td>${s.weekdays.map((d) => WEEKDAYS[d - 1]).join(' ')}</td><td>${s.tz}</td>
        <td>${s.breaks.map((b) => `${b.start}–${b.end}`).join(', ')}</td><td>${s.group == null ? 'tenant' : groupName(s.group)}</td>
        ${isAdmin ? html`<td class="actions"><button onClick=${() => remove(s)}>Delete</button></td>` : null}</tr>`)}</tbody></table>
      ${shifts && shifts.length === 0 ? html`<p class="muted empty">No shifts: planned time is around the clock.</p>` : null}</div>
    ${isAdmin ? html`<${ShiftForm} group=${group} onCreated=${load} />` : null}
  </div>`;
}

function ShiftForm({ group, onCreated }) {
  const [f, setF] = useState({ name: '', start: '06:00', end: '14:00', tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    days: [1, 2, 3, 4, 5], break_start: '', break_end: '' });
  const [err, setErr] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const toggle = (d) => setF({ ...f, days: f.days.includes(d) ? f.days.filter((x) => x !== d) : [...f.days, d].sort() });
  const create = async (ev) => {
    ev.preventDefault();
    setErr(null);
    try {
      const body = { name: f.name.trim(), start: f.start, end: f.end, tz: f.tz.trim(), weekdays: f.days,
        breaks: f.break_start && f.break_end ? [{ start: f.break_start, end: f.break_end }] : [], group: group ? Number(group) : null };
      await post('/shifts', body);
      setF({ ...f, name: '' });
      onCreated();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<form class="row shift-form" onSubmit=${create} data-testid="shift-form">
    <input name="name" aria-label="Shift name" placeholder="Early" required value=${f.name} onInput=${set('name')} />
    <input name="start" aria-label="Start" type="time" required value=${f.start} onInput=${set('start')} />
    <input name="end" aria-label="End" type="time" required value=${f.end} onInput=${set('end')} />
    <input name="tz" aria-label="Time zone" required value=${f.tz} onInput=${set('tz')} />
    <span>${WEEKDAYS.map((w, i) => html`<label class="check"><input type="checkbox" checked=${f.days.includes(i + 1)} onChange=${() => toggle(i + 1)} />${w}</label>`)}</span>
    <input name="break_start" aria-label="Break start" type="time" value=${f.break_start} onInput=${set('break_start')} />
    <input name="break_end" aria-label="Break end" type="time" value=${f.break_end} onInput=${set('break_end')} />
    <button data-testid="create-shift">Add shift</button>
    <${ErrorBox} error=${err} label="Not added" />
  </form>`;
}
