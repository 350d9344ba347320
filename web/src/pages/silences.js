// Silences: while one covers a device, a group or a rule, its alerts still
// open and show as silenced, but no notify or command action runs. Everyone
// reads the list (active, scheduled and past); operators create and delete.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast, toMs, iso, toLocalInput, fromLocalInput } from '../util.js';
import { getAll, post, del, enc, role } from '../api.js';
import { devices, devicesVersion, now } from '../live.js';
import { ErrorBox, Field } from '../components.js';

const PRESETS = [['1 h', 3600e3], ['4 h', 4 * 3600e3], ['1 day', 86400e3], ['1 week', 7 * 86400e3]];

function phase(s, at) {
  if (s.active) return 'active';
  return toMs(s.from) > at ? 'scheduled' : 'ended';
}

export function SilencesPage() {
  const [list, setList] = useState(null);
  const [onlyActive, setOnlyActive] = useState(false);
  const [groups, setGroups] = useState([]);
  const [rules, setRules] = useState([]);
  const [err, setErr] = useState(null);
  const canOperate = roleAtLeast(role.value, 'operator');
  const load = () => getAll('/silences' + (onlyActive ? '?active=true' : ''), 5000, 500).then(setList, (e) => { setErr(e); setList([]); });
  useEffect(load, [onlyActive]);
  useEffect(() => {
    getAll('/groups', 5000, 500).then(setGroups, setErr);
    getAll('/rules', 5000, 500).then(setRules, setErr);
  }, []);
  const t = now.value;
  const groupName = (id) => groups.find((g) => String(g.id) === String(id))?.name;
  const ruleName = (id) => rules.find((r) => String(r.id) === String(id))?.name;
  const target = (s) => {
    if (s.device != null) return html`device <a href=${'#/device/' + enc(s.device)}>${s.device}</a>`;
    if (s.group != null) return html`group <a href=${'#/groups/' + enc(s.group)}>${groupName(s.group) || s.group}</a>`;
    return html`rule ${roleAtLeast(role.value, 'admin') ? html`<a href=${'#/rules/' + enc(s.rule)}>${ruleName(s.rule) || s.rule}</a>` : ruleName(s.rule) || s.rule}`;
  };
  // Active first, then scheduled, then the most recently ended.
  const order = { active: 0, scheduled: 1, ended: 2 };
  const rows = (list || []).map((s) => ({ ...s, phase: phase(s, t) }))
    .sort((a, b) => order[a.phase] - order[b.phase] || toMs(b.to) - toMs(a.to));
  const remove = async (s) => {
    if (!confirm(`Delete silence ${s.id}? ${s.phase === 'active' ? 'Actions run again for new alerts at once.' : ''}`)) return;
    setErr(null);
    try {
      await del(`/silences/${enc(s.id)}`);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<section class="silences">
    <div class="toolbar"><h1>Silences</h1>
      <label class="check"><input type="checkbox" checked=${onlyActive} onChange=${(e) => setOnlyActive(e.target.checked)} data-testid="only-active" /> Active only</label>
      <span class="muted small">${list ? `${rows.filter((s) => s.phase === 'active').length} active of ${rows.length}` : ''}</span></div>
    <${ErrorBox} error=${err} label="Silences" />
    <div class=${canOperate ? 'cols' : ''}>
      <div class="table-wrap"><table data-testid="silence-table"><thead><tr><th>State</th><th>Target</th><th>From</th><th>To</th><th>Reason</th><th>By</th>
        ${canOperate ? html`<th>Actions</th>` : null}</tr></thead>
        <tbody>${rows.map((s) => html`<tr data-testid=${'silence-' + s.id} data-phase=${s.phase} class=${s.phase === 'ended' ? 'st-resolved' : ''}>
          <td><span class=${'pill silence-' + s.phase}>${s.phase}</span></td><td>${target(s)}</td>
          <td><${Time} t=${s.from} /></td><td><${Time} t=${s.to} /></td><td>${s.reason || ''}</td><td class="small">${s.created_by}</td>
          ${canOperate ? html`<td class="actions"><button onClick=${() => remove(s)} data-testid="delete-silence">Delete</button></td>` : null}</tr>`)}</tbody></table>
        ${list && rows.length === 0 ? html`<p class="muted empty">No ${onlyActive ? 'active ' : ''}silences.</p>` : null}
        ${list === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
      ${canOperate ? html`<${SilenceForm} groups=${groups} rules=${rules} onCreated=${load} />` : null}
    </div>
  </section>`;
}

function SilenceForm({ groups, rules, onCreated }) {
  const start = Date.now();
  const [f, setF] = useState({ kind: 'device', device: '', group: '', rule: '', from: toLocalInput(start), to: toLocalInput(start + 3600e3), reason: '' });
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState(null);
  devicesVersion.value;
  const set = (k) => (e) => (setF({ ...f, [k]: e.target.value }), setMade(null));
  const fe = err?.fields || {};
  const create = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setMade(null);
    setBusy(true);
    try {
      const body = { from: iso(fromLocalInput(f.from)), to: iso(fromLocalInput(f.to)), reason: f.reason.trim() };
      if (f.kind === 'device') body.device = f.device.trim();
      else body[f.kind] = Number(f[f.kind]);
      const s = await post('/silences', body);
      setMade(s);
      setF({ ...f, reason: '' });
      onCreated();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const preset = (ms) => setF({ ...f, to: toLocalInput(fromLocalInput(f.from) + ms) });
  return html`<form class="card" onSubmit=${create} data-testid="silence-form"><h2>New silence</h2>
    <${Field} label="Silence" error=${fe[f.kind]}>
      <div class="row"><select name="kind" value=${f.kind} onChange=${set('kind')}>
        <option value="device">a device</option><option value="group">a group</option><option value="rule">a rule</option></select>
      ${f.kind === 'device' ? html`<input name="device" aria-label="Device id" required list="silence-devices" value=${f.device} onInput=${set('device')} />
        <datalist id="silence-devices">${[...devices.keys()].slice(0, 500).map((d) => html`<option value=${d} />`)}</datalist>` : null}
      ${f.kind === 'group' ? html`<select name="group" aria-label="Group" required value=${f.group} onChange=${set('group')}>
        <option value="">— pick a group —</option>${groups.map((g) => html`<option value=${String(g.id)}>${g.name}</option>`)}</select>` : null}
      ${f.kind === 'rule' ? html`<select name="rule" aria-label="Rule" required value=${f.rule} onChange=${set('rule')}>
        <option value="">— pick a rule —</option>${rules.map((r) => html`<option value=${String(r.id)}>${r.name}</option>`)}</select>` : null}</div>
    </${Field}>
    <${Field} label="From" error=${fe.from}><input name="from" type="datetime-local" required value=${f.from} onInput=${set('from')} /></${Field}>
    <${Field} label="To" error=${fe.to}><input name="to" type="datetime-local" required value=${f.to} onInput=${set('to')} /></${Field}>
    <div class="row presets"><span class="muted small">Length:</span>${PRESETS.map(([l, ms]) => html`<button type="button" class="small" onClick=${() => preset(ms)}>${l}</button>`)}</div>
    <${Field} label="Reason" error=${fe.reason} hint="e.g. planned maintenance"><input name="reason" maxlength="2000" value=${f.reason} onInput=${set('reason')} /></${Field}>
    <button class="primary" disabled=${busy} data-testid="create-silence">Create silence</button>
    ${made ? html` <span class="ok" role="status">Silence ${made.id} created.</span>` : null}
    <${ErrorBox} error=${err} label="Not created" />
  </form>`;
}
