// A device's configuration card: the desired/applied badge (live from
// `config` frames), a form generated from the type's JSON Schema (our own
// small renderer: objects, strings, numbers, integers, booleans and enums —
// what board configurations are made of — with a JSON editor for anything
// else, so nothing a schema allows is out of reach), the server's 422 paths
// shown on their fields, and the version history with the diff between two
// versions. Writing is for operators; every write carries if_version, so a
// stale page gets a 409 instead of overwriting someone else's change.
import { useEffect, useState } from 'preact/hooks';
import { html, Time } from '../util.js';
import { get, post, enc, ApiError } from '../api.js';
import { onFrame, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';

const SIMPLE = new Set(['string', 'number', 'integer', 'boolean']);

/** Whether the form can render `schema` field by field (else: the JSON editor). */
export function formable(schema) {
  if (!schema || schema.type !== 'object' || !schema.properties) return false;
  return Object.values(schema.properties).every((p) => p && (p.enum || SIMPLE.has(p.type) || formable(p)));
}

function setAt(obj, path, value) {
  const [head, ...rest] = path;
  const copy = { ...(obj || {}) };
  if (!rest.length) {
    if (value === undefined) delete copy[head];
    else copy[head] = value;
  } else copy[head] = setAt(copy[head], rest, value);
  return copy;
}

/** The pointers of every field the form renders for `schema`. */
function fieldPointers(schema, path = [], out = new Set()) {
  for (const [k, s] of Object.entries(schema?.properties || {})) {
    out.add(pointer([...path, k]));
    if (s.type === 'object') fieldPointers(s, [...path, k], out);
  }
  return out;
}

/** The JSON pointer of a path of property names (RFC 6901). */
export const pointer = (path) => path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');

function Field({ name, schema, value, path, errors, onChange }) {
  const ptr = pointer(path);
  const err = errors[ptr];
  const id = 'cfg' + ptr.replace(/[^A-Za-z0-9]/g, '-');
  const label = schema.title || name;
  if (schema.type === 'object' && schema.properties)
    return html`<fieldset class="cfg-group"><legend>${label}</legend>
      ${Object.entries(schema.properties).map(([k, s]) => html`<${Field} key=${k} name=${k} schema=${s} value=${value?.[k]}
          path=${[...path, k]} errors=${errors} onChange=${onChange} />`)}
      ${err ? html`<span class="field-error" data-testid=${'cfg-error' + ptr}>${err}</span>` : null}</fieldset>`;
  let input;
  if (schema.enum) {
    input = html`<select id=${id} value=${value === undefined ? '' : JSON.stringify(value)}
        onChange=${(e) => onChange(path, e.target.value === '' ? undefined : JSON.parse(e.target.value))}>
      <option value="">—</option>
      ${schema.enum.map((v) => html`<option value=${JSON.stringify(v)}>${String(v)}</option>`)}</select>`;
  } else if (schema.type === 'boolean') {
    input = html`<input id=${id} type="checkbox" checked=${value === true} onChange=${(e) => onChange(path, e.target.checked)} />`;
  } else if (schema.type === 'number' || schema.type === 'integer') {
    input = html`<input id=${id} type="number" step=${schema.type === 'integer' ? 1 : 'any'} min=${schema.minimum} max=${schema.maximum}
        value=${value ?? ''} onInput=${(e) => onChange(path, e.target.value === '' ? undefined : Number(e.target.value))} />`;
  } else {
    input = html`<input id=${id} type="text" value=${value ?? ''} onInput=${(e) => onChange(path, e.target.value === '' ? undefined : e.target.value)} />`;
  }
  return html`<label class="cfg-field" for=${id}><span>${label}</span>${input}
    ${schema.description ? html`<span class="muted small">${schema.description}</span>` : null}
    ${err ? html`<span class="field-error" data-testid=${'cfg-error' + ptr}>${err}</span>` : null}</label>`;
}

const STATE_CLASS = { in_sync: 'on', pending: 'warn', rejected: 'off' };

export function ConfigCard({ id, type, canWrite }) {
  const [state, setState] = useState(undefined); // undefined: loading; null: none yet
  const [schema, setSchema] = useState(null);
  const [draft, setDraft] = useState({});
  const [text, setText] = useState('{}');
  const [asJson, setAsJson] = useState(false);
  const [errors, setErrors] = useState({}); // pointer → message
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [versions, setVersions] = useState([]);
  const [diff, setDiff] = useState(null);

  const load = () => {
    get(`/devices/${enc(id)}/config`).then(
      (s) => {
        setState(s);
        setDraft(s.config);
        setText(JSON.stringify(s.config, null, 2));
      },
      (e) => (e.status === 404 ? setState(null) : setErr(e)),
    );
    get(`/devices/${enc(id)}/config/versions?limit=10`).then((r) => setVersions(r.items || []), () => setVersions([]));
  };
  useEffect(() => {
    setErr(null);
    load();
    if (type) get(`/device-types/${enc(type)}/schema`).then((r) => setSchema(r.schema), () => setSchema(null));
    else setSchema(null);
  }, [id, type, resyncCount.value]);
  // Reports move the badge live.
  useEffect(() => onFrame('config', (f) => {
    if (f.config?.device !== id) return;
    setState((s) => (s ? { ...s, ...f.config } : s));
  }), [id]);

  const useForm = formable(schema) && !asJson;
  const save = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setErrors({});
    let config = draft;
    if (!useForm) {
      try {
        config = JSON.parse(text);
      } catch (e) {
        setErrors({ '': `not JSON: ${e.message}` });
        return;
      }
    }
    setBusy(true);
    try {
      await post(`/devices/${enc(id)}/config`, { config, if_version: state?.desired_version || 0 });
      load();
    } catch (e) {
      setErr(e);
      if (e instanceof ApiError && Array.isArray(e.problem.errors))
        setErrors(Object.fromEntries(e.problem.errors.map((x) => [x.path, x.message])));
    } finally {
      setBusy(false);
    }
  };
  const showDiff = (from, to) =>
    get(`/devices/${enc(id)}/config/diff?from=${from}&to=${to}`).then((r) => setDiff(r), setErr);

  // noValidate: the schema's bounds are the server's to check, and its 422 names the fields.
  return html`<form class="card" onSubmit=${save} noValidate data-testid="config-card"><h2>Configuration</h2>
    ${state === undefined ? html`<p class="muted">Loading…</p>` : state === null
      ? html`<p class="muted" data-testid="config-none">No configuration yet.</p>`
      : html`<p><span class=${'pill ' + (STATE_CLASS[state.state] || '')} data-testid="config-state">${state.state.replace('_', ' ')}</span>
          ${' '}<span class="small">desired v${state.desired_version} · applied ${state.applied_version ? 'v' + state.applied_version : '—'}</span>
          ${state.state === 'rejected' ? html`<br /><span class="field-error">${state.error || state.rejected_error}</span>` : null}</p>`}
    ${schema ? html`<p class="muted small">Schema of type ${type}${formable(schema) ? html` · <a href="javascript:void 0"
        onClick=${() => (setText(JSON.stringify(draft, null, 2)), setAsJson(!asJson))}>${asJson ? 'form' : 'edit as JSON'}</a>` : ''}</p>` : null}
    ${canWrite ? html`
      ${useForm
        ? Object.entries(schema.properties).map(([k, s]) => html`<${Field} key=${k} name=${k} schema=${s} value=${draft?.[k]} path=${[k]}
            errors=${errors} onChange=${(path, v) => setDraft((d) => setAt(d, path, v))} />`)
        : html`<textarea class="cfg-json" rows="8" value=${text} onInput=${(e) => setText(e.target.value)} data-testid="config-json" />`}
      ${Object.entries(errors).filter(([p]) => !useForm || !fieldPointers(schema).has(p))
        .map(([p, m]) => html`<div class="field-error" data-testid=${'cfg-error' + p}>${p || 'configuration'}: ${m}</div>`)}
      <button class="primary" disabled=${busy} data-testid="config-save">${busy ? 'Saving…' : 'Save and push'}</button>` : null}
    <${ErrorBox} error=${err} label="Configuration" />
    ${versions.length ? html`<h3>Versions</h3><ul class="plain small" data-testid="config-versions">
      ${versions.map((v, i) => html`<li>v${v.version} · ${v.created_by} · <${Time} t=${v.created_at} />
        ${i + 1 < versions.length ? html` · <a href="javascript:void 0" onClick=${() => showDiff(versions[i + 1].version, v.version)}
          data-testid=${'config-diff-' + v.version}>diff</a>` : null}</li>`)}</ul>` : null}
    ${diff ? html`<pre class="small" data-testid="config-diff">${[`v${diff.from} → v${diff.to}`,
      ...(diff.patch.length ? diff.patch.map((op) => `${op.op} ${op.path}${'value' in op ? ' = ' + JSON.stringify(op.value) : ''}`)
        : ['no change'])].join('\n')}</pre>` : null}
  </form>`;
}
