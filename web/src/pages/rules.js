// Rules: list with enable/disable, create/edit form showing the API's field
// errors (actions built in rule_actions.js), and a backtest preview plotting
// would-be alerts before saving.
import { useEffect, useState, useMemo } from 'preact/hooks';
import { html, Time, Severity, SEVERITIES, fmtValue, roleAtLeast, toMs, iso, toLocalInput, fromLocalInput, navigate } from '../util.js';
import { get, getAll, post, patch, del, enc, role } from '../api.js';
import { devices } from '../live.js';
import { Chart, ErrorBox, Field } from '../components.js';
import { ActionList, actionsToModel, modelToActions } from './rule_actions.js';

const KIND_PARAMS = {
  threshold: { op: '>', value: 50, for_s: 0, clear: '' },
  rate: { dir: 'rise', amount: 20, window_s: 60 },
  absence: { timeout_s: 120 },
  anomaly: { z: 4, warmup: 50, alpha: 0.05 },
};

function describe(r) {
  const p = r.params || {};
  switch (r.kind) {
    case 'threshold': return `${r.metric} ${p.op} ${p.value}${p.for_s ? ` for ${p.for_s}s` : ''}${p.clear != null ? `, clears at ${p.clear}` : ''}`;
    case 'rate': return `${r.metric} ${p.rise != null ? 'rises ' + p.rise : 'falls ' + p.fall} within ${p.window_s}s`;
    case 'absence': return `no ${r.metric} for ${p.timeout_s}s`;
    case 'anomaly': return `${r.metric} z > ${p.z}`;
    default: return r.kind;
  }
}
function scopeText(s) {
  if (!s || s.all) return 'all devices';
  if (s.device) return 'device ' + s.device;
  if (s.group != null) return 'group ' + s.group;
  return JSON.stringify(s);
}
function actionsText(list) {
  const one = (a) => (a.type === 'command' ? `${a.name}${a.on_timeout?.length ? ' (fallback: ' + a.on_timeout.map(one).join(', ') + ')' : ''}`
    : a.type === 'escalate' ? `escalate to ${a.to}` : `notify ${a.channel}`);
  return (list || []).map(one).join('; ');
}

export function RulesPage({ args }) {
  if (args[0]) return html`<${RuleEditor} key=${args[0]} id=${args[0] === 'new' ? null : args[0]} />`;
  return html`<${RuleList} />`;
}

function RuleList() {
  const [rules, setRules] = useState(null);
  const [err, setErr] = useState(null);
  const canEdit = roleAtLeast(role.value, 'admin'); // the API lets admins change rules
  const load = () => getAll('/rules', 5000, 500).then(setRules, (e) => { setErr(e); setRules([]); });
  useEffect(load, []);
  const toggle = async (r) => {
    setErr(null);
    try {
      await patch(`/rules/${enc(r.id)}`, { enabled: !r.enabled });
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const remove = async (r) => {
    if (!confirm(`Delete rule "${r.name}"?`)) return;
    try {
      await del(`/rules/${enc(r.id)}`);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<section>
    <div class="toolbar"><h1>Rules</h1>${canEdit ? html`<a class="button primary" href="#/rules/new" data-testid="new-rule">New rule</a>` : null}</div>
    <${ErrorBox} error=${err} label="Rules" />
    <div class="table-wrap"><table data-testid="rule-table"><thead><tr><th>Name</th><th>Condition</th><th>Scope</th><th>Actions</th><th>Severity</th><th>Enabled</th>${canEdit ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${(rules || []).map((r) => html`<tr data-testid=${'rule-' + r.id}>
        <td>${canEdit ? html`<a href=${'#/rules/' + enc(r.id)}>${r.name}</a>` : r.name}</td>
        <td>${describe(r)}</td><td>${scopeText(r.scope)}</td><td class="small">${actionsText(r.actions)}</td><td><${Severity} s=${r.severity} /></td>
        <td>${canEdit ? html`<label class="check"><input type="checkbox" checked=${r.enabled !== false} onChange=${() => toggle(r)} aria-label=${'Enabled: ' + r.name} /> ${r.enabled !== false ? 'on' : 'off'}</label>` : r.enabled !== false ? 'on' : 'off'}</td>
        ${canEdit ? html`<td class="actions"><a class="button" href=${'#/rules/' + enc(r.id)}>Edit</a> <button onClick=${() => remove(r)}>Delete</button></td>` : null}
      </tr>`)}</tbody></table>
      ${rules && rules.length === 0 ? html`<p class="muted empty">No rules.</p>` : null}
      ${rules === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
  </section>`;
}

function toForm(r) {
  const kind = r?.kind || 'threshold';
  const params = { ...KIND_PARAMS[kind], ...(r?.params || {}) };
  if (kind === 'rate') {
    params.dir = r?.params?.fall != null ? 'fall' : 'rise';
    params.amount = r?.params?.fall ?? r?.params?.rise ?? 20;
  }
  const s = r?.scope || { all: true };
  return {
    name: r?.name || '', metric: r?.metric || '', kind, params, severity: r?.severity || 'warning', enabled: r?.enabled !== false,
    scopeKind: s.device ? 'device' : s.group != null ? 'group' : 'all', scopeValue: s.device || (s.group != null ? String(s.group) : ''),
    actions: actionsToModel(r?.actions), actionsMode: 'builder', actionsText: '',
    escAfter: r?.escalate?.after_s ?? '', escTo: r?.escalate?.to || 'critical',
  };
}

/** The actions of the form as stored; throws with `path` naming the field. */
function formActions(f) {
  if (f.actionsMode === 'builder') return modelToActions(f.actions);
  let list;
  try {
    list = JSON.parse(f.actionsText.trim() || '[]');
  } catch (e) {
    throw Object.assign(new Error('actions: must be JSON: ' + e.message), { path: 'actions' });
  }
  if (!Array.isArray(list)) throw Object.assign(new Error('actions: must be a JSON array'), { path: 'actions' });
  return list;
}

/** The rule body; `editing` sends empty actions and escalate too, since PATCH merges. */
function toBody(f, editing) {
  const num = (v) => (v === '' || v == null ? undefined : Number(v));
  let params;
  if (f.kind === 'threshold') params = { op: f.params.op, value: num(f.params.value), for_s: num(f.params.for_s) ?? 0, clear: num(f.params.clear) };
  else if (f.kind === 'rate') params = { [f.params.dir]: num(f.params.amount), window_s: num(f.params.window_s) };
  else if (f.kind === 'absence') params = { timeout_s: num(f.params.timeout_s) };
  else params = { z: num(f.params.z), warmup: num(f.params.warmup), alpha: num(f.params.alpha) };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  const scope = f.scopeKind === 'device' ? { device: f.scopeValue } : f.scopeKind === 'group' ? { group: /^\d+$/.test(f.scopeValue) ? Number(f.scopeValue) : f.scopeValue } : { all: true };
  const body = { name: f.name, metric: f.metric, scope, kind: f.kind, params, severity: f.severity, enabled: f.enabled };
  const actions = formActions(f);
  if (actions.length || editing) body.actions = actions;
  if (String(f.escAfter).trim() !== '') body.escalate = { after_s: Number(f.escAfter), to: f.escTo };
  else if (editing) body.escalate = null;
  return body;
}

function RuleEditor({ id }) {
  const [f, setF] = useState(null);
  const [err, setErr] = useState(null);
  const [saving, setSaving] = useState(false);
  const [touched, setTouched] = useState({});
  const [groups, setGroups] = useState([]);
  const [channels, setChannels] = useState(null); // null: typed as an id
  const [contacts, setContacts] = useState(null);
  useEffect(() => {
    if (!id) setF(toForm(null));
    else get(`/rules/${enc(id)}`).then((r) => setF(toForm(r)), setErr);
    getAll('/groups', 5000, 500).then(setGroups, setErr);
    // Channels are admin-only and contacts operator-only: without them the notify action takes typed ids.
    if (roleAtLeast(role.value, 'admin')) getAll('/channels', 5000, 500).then(setChannels, () => setChannels(null));
    if (roleAtLeast(role.value, 'operator')) getAll('/contacts', 5000, 500).then(setContacts, () => setContacts(null));
  }, [id]);
  if (!f) return html`<section><${ErrorBox} error=${err} label="Rule" />${err ? null : html`<p class="muted">Loading…</p>`}</section>`;
  // A field the user changed since the last save attempt no longer shows the API's complaint.
  const set = (k, v) => (setF({ ...f, [k]: v }), setTouched({ ...touched, [k]: 1 }));
  const setParam = (k, v) => (setF({ ...f, params: { ...f.params, [k]: v } }), setTouched({ ...touched, [k]: 1, ['params.' + k]: 1 }));
  const setKind = (k) => setF({ ...f, kind: k, params: { ...KIND_PARAMS[k] } });
  const fe = Object.fromEntries(Object.entries(err?.fields || {}).filter(([k]) => !touched[k] && !(k === 'scope.device' && touched.scopeValue)
    && !(k.startsWith('actions') && touched.actions)));
  // A refusal about fields that have all been changed since says nothing more.
  const shownErr = err && Object.keys(err.fields || {}).length && !Object.keys(fe).length ? null : err;
  const pe = (k) => fe['params.' + k] || fe[k];
  let bodyErr = null;
  let body = null;
  try {
    body = toBody(f, !!id);
  } catch (e) {
    bodyErr = e;
  }
  // The builder shows its own problem (and the API's, until the actions change) at the field.
  const actionErrs = Object.fromEntries(Object.entries(fe).filter(([k]) => k.startsWith('actions')));
  if (bodyErr?.path) actionErrs[bodyErr.path] = bodyErr.message.slice(bodyErr.path.length + 2);
  const setMode = (mode) => {
    if (mode === f.actionsMode) return;
    // Switching needs a valid list: the builder's problem is shown at its field, the JSON's under the textarea.
    if (bodyErr) return;
    const list = formActions(f);
    if (mode === 'json') setF({ ...f, actionsMode: 'json', actionsText: JSON.stringify(list, null, 1) });
    else setF({ ...f, actionsMode: 'builder', actions: actionsToModel(list) });
  };
  const save = async (ev) => {
    ev.preventDefault();
    if (!body) return;
    setSaving(true);
    setErr(null);
    setTouched({});
    try {
      if (id) await patch(`/rules/${enc(id)}`, body);
      else await post('/rules', body);
      navigate('#/rules');
    } catch (e) {
      setErr(e);
    } finally {
      setSaving(false);
    }
  };
  return html`<section class="rule-editor">
    <div class="toolbar"><h1><a href="#/rules" class="muted">Rules</a> / ${id ? 'Edit rule' : 'New rule'}</h1></div>
    <div class="editor-grid">
      <form class="card" onSubmit=${save} data-testid="rule-form" novalidate>
        <${Field} label="Name" error=${fe.name}><input name="name" value=${f.name} onInput=${(e) => set('name', e.target.value)} /></${Field}>
        <${Field} label="Metric" error=${fe.metric}><input name="metric" value=${f.metric} onInput=${(e) => set('metric', e.target.value)} placeholder="co" /></${Field}>
        <${Field} label="Scope" error=${fe.scope || fe['scope.device'] || fe['scope.group']}>
          <div class="row"><select name="scope" value=${f.scopeKind} onChange=${(e) => set('scopeKind', e.target.value)}>
            <option value="all">All devices</option><option value="device">One device</option><option value="group">Group</option></select>
          ${f.scopeKind === 'device' ? html`<input name="scope_value" aria-label="device id" value=${f.scopeValue} list="rule-devices" onInput=${(e) => set('scopeValue', e.target.value)} />` : null}
          ${f.scopeKind === 'group' ? html`<select name="scope_value" aria-label="group" value=${f.scopeValue} onChange=${(e) => set('scopeValue', e.target.value)}>
            <option value="">— pick a group —</option>${groups.map((g) => html`<option value=${String(g.id)}>${g.name}</option>`)}</select>` : null}</div>
          <datalist id="rule-devices">${[...devices.keys()].slice(0, 500).map((d) => html`<option value=${d} />`)}</datalist>
        </${Field}>
        <${Field} label="Kind" error=${fe.kind}><select name="kind" value=${f.kind} onChange=${(e) => setKind(e.target.value)}>
          ${Object.keys(KIND_PARAMS).map((k) => html`<option value=${k}>${k}</option>`)}</select></${Field}>
        ${f.kind === 'threshold' ? html`<div class="row">
          <${Field} label="Operator" error=${pe('op')}><select name="op" value=${f.params.op} onChange=${(e) => setParam('op', e.target.value)}>
            ${['>', '>=', '<', '<='].map((o) => html`<option value=${o}>${o}</option>`)}</select></${Field}>
          <${Field} label="Value" error=${pe('value')}><input name="value" type="number" step="any" value=${f.params.value} onInput=${(e) => setParam('value', e.target.value)} /></${Field}>
          <${Field} label="For (s)" error=${pe('for_s')}><input name="for_s" type="number" min="0" value=${f.params.for_s} onInput=${(e) => setParam('for_s', e.target.value)} /></${Field}>
          <${Field} label="Clear at" error=${pe('clear')} hint="hysteresis; empty = value"><input name="clear" type="number" step="any" value=${f.params.clear ?? ''} onInput=${(e) => setParam('clear', e.target.value)} /></${Field}>
        </div>` : null}
        ${f.kind === 'rate' ? html`<div class="row">
          <${Field} label="Direction"><select value=${f.params.dir} onChange=${(e) => setParam('dir', e.target.value)}><option value="rise">rise</option><option value="fall">fall</option></select></${Field}>
          <${Field} label="By" error=${pe('rise') || pe('fall')}><input type="number" step="any" value=${f.params.amount} onInput=${(e) => setParam('amount', e.target.value)} /></${Field}>
          <${Field} label="Within (s)" error=${pe('window_s')}><input type="number" min="1" value=${f.params.window_s} onInput=${(e) => setParam('window_s', e.target.value)} /></${Field}>
        </div>` : null}
        ${f.kind === 'absence' ? html`<${Field} label="Timeout (s)" error=${pe('timeout_s')}><input type="number" min="1" value=${f.params.timeout_s} onInput=${(e) => setParam('timeout_s', e.target.value)} /></${Field}>` : null}
        ${f.kind === 'anomaly' ? html`<div class="row">
          <${Field} label="z" error=${pe('z')}><input type="number" step="any" value=${f.params.z} onInput=${(e) => setParam('z', e.target.value)} /></${Field}>
          <${Field} label="Warm-up" error=${pe('warmup')}><input type="number" value=${f.params.warmup} onInput=${(e) => setParam('warmup', e.target.value)} /></${Field}>
          <${Field} label="Alpha" error=${pe('alpha')}><input type="number" step="any" value=${f.params.alpha} onInput=${(e) => setParam('alpha', e.target.value)} /></${Field}>
        </div>` : null}
        <${Field} label="Severity" error=${fe.severity}><select name="severity" value=${f.severity} onChange=${(e) => set('severity', e.target.value)}>
          ${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></${Field}>
        <label class="check"><input type="checkbox" name="enabled" checked=${f.enabled} onChange=${(e) => set('enabled', e.target.checked)} /> Enabled</label>
        <div class="row">
          <${Field} label="Escalate after (s)" error=${fe['escalate.after_s'] || fe.escalate} hint="if still unacknowledged; empty = never">
            <input name="escalate_after_s" type="number" min="1" step="any" value=${f.escAfter} onInput=${(e) => set('escAfter', e.target.value)} /></${Field}>
          <${Field} label="Escalate to" error=${fe['escalate.to']}><select name="escalate_to" value=${f.escTo} onChange=${(e) => set('escTo', e.target.value)}>
            ${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></${Field}>
        </div>
        <fieldset class="actions-box" data-testid="rule-actions"><legend>Actions when an alert opens</legend>
          <div role="tablist" class="row">${[['builder', 'Builder'], ['json', 'JSON']].map(([k, l]) => html`<button type="button" role="tab"
            aria-selected=${f.actionsMode === k} class=${f.actionsMode === k ? 'tab active' : 'tab'} onClick=${() => setMode(k)}>${l}</button>`)}</div>
          ${f.actionsMode === 'builder'
            ? html`<${ActionList} value=${f.actions} onChange=${(v) => set('actions', v)} groups=${groups} channels=${channels} contacts=${contacts} errors=${actionErrs} />`
            : html`<${Field} label="Actions (JSON array)" error=${actionErrs.actions}><textarea name="actions_json" rows="8" spellcheck="false" value=${f.actionsText}
                onInput=${(e) => set('actionsText', e.target.value)}></textarea></${Field}>`}
        </fieldset>
        ${bodyErr && !bodyErr.path ? html`<div class="error" role="alert">${bodyErr.message}</div>` : null}
        <${ErrorBox} error=${shownErr} label="Not saved" />
        <div class="row"><button class="primary" type="submit" disabled=${saving || !body} data-testid="save-rule">${saving ? 'Saving…' : 'Save rule'}</button>
          <a class="button" href="#/rules">Cancel</a></div>
      </form>
      <${Backtest} body=${body} />
    </div>
  </section>`;
}

function Backtest({ body }) {
  const [from, setFrom] = useState(toLocalInput(Date.now() - 86400e3));
  const [to, setTo] = useState(toLocalInput(Date.now() + 60e3));
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [plotDev, setPlotDev] = useState('');
  const [series, setSeries] = useState(null);

  const run = async () => {
    if (!body) return;
    setBusy(true);
    setErr(null);
    setRes(null);
    setSeries(null);
    const f = fromLocalInput(from), t = fromLocalInput(to);
    try {
      const r = await post('/rules/backtest', { ...body, from: iso(f), to: iso(t) });
      setRes({ ...r, from: f, to: t, metric: body.metric });
      const dev = body.scope?.device || r.alerts?.[0]?.device || '';
      setPlotDev(dev);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (!res || !plotDev) return;
    get(`/devices/${enc(plotDev)}/readings?metric=${enc(res.metric)}&from=${iso(res.from)}&to=${iso(res.to)}&limit=20000`).then(
      (r) => setSeries((r.points || []).map((p) => [toMs(p.ts), p.value])),
      () => setSeries([]),
    );
  }, [res, plotDev]);

  const data = useMemo(() => [(series || []).map((p) => p[0] / 1000), (series || []).map((p) => p[1])], [series]);
  const bands = useMemo(
    () => (res?.alerts || []).filter((a) => a.device === plotDev).map((a) => ({
      from: toMs(a.opened_at) / 1000,
      to: a.resolved_at ? toMs(a.resolved_at) / 1000 : null,
    })),
    [res, plotDev],
  );
  const alertsList = res?.alerts || [];
  const devs = [...new Set(alertsList.map((a) => a.device))];

  return html`<div class="card backtest" data-testid="backtest">
    <h2>Backtest preview</h2>
    <p class="muted small">Runs this rule (unsaved) over stored readings and shows where it would have opened and resolved alerts.</p>
    <div class="row">
      <label>From <input type="datetime-local" value=${from} onChange=${(e) => setFrom(e.target.value)} /></label>
      <label>To <input type="datetime-local" value=${to} onChange=${(e) => setTo(e.target.value)} /></label>
      <button onClick=${run} disabled=${busy || !body} data-testid="run-backtest">${busy ? 'Running…' : 'Run backtest'}</button>
    </div>
    <${ErrorBox} error=${err} label="Backtest" />
    ${res ? html`
      <p class="result" data-testid="backtest-result"><b data-testid="backtest-count">${alertsList.length}</b> would-be alert${alertsList.length === 1 ? '' : 's'}
        ${' '}over <b>${res.evaluated ?? '?'}</b> readings evaluated.</p>
      ${devs.length > 1 || (devs.length && !body?.scope?.device) ? html`<label>Plot device <select value=${plotDev} onChange=${(e) => setPlotDev(e.target.value)}>
        ${devs.map((d) => html`<option value=${d}>${d}</option>`)}</select></label>` : null}
      ${plotDev ? html`<${Chart} data=${data} series=${[res.metric]} height=${220} bands=${bands}
          hline=${body?.kind === 'threshold' ? Number(body.params.value) : null} testid="backtest-chart" />
        <p class="muted small">Shaded: would-be alerts on ${plotDev}; dashed: threshold.</p>` : null}
      <div class="table-wrap"><table><thead><tr><th>Device</th><th>Opened</th><th>Resolved</th><th>Value</th></tr></thead>
        <tbody>${alertsList.slice(0, 200).map((a) => html`<tr><td>${a.device}</td><td><${Time} t=${a.opened_at} /></td>
          <td>${a.resolved_at ? html`<${Time} t=${a.resolved_at} />` : html`<span class="muted">still open</span>`}</td><td class="num">${fmtValue(a.value)}</td></tr>`)}</tbody></table></div>` : null}
  </div>`;
}
