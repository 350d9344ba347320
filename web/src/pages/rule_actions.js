// The rule editor's actions: a builder for command actions (name, params,
// target device or group, ack timeout) with their on_timeout fallback steps
// (nested commands, escalate, notify), escalate and notify (channel, which
// contacts, a kind filter, delay and reminders), and the same list as JSON
// for anything typed by hand. The server nests on_timeout at most 3 deep: a
// command at depth 3 has no fallback of its own.
import { html, SEVERITIES, idList, idOf } from '../util.js';
import { Field } from '../components.js';
import { CONTACT_KINDS } from './contacts.js';

export const MAX_DEPTH = 3;
let nextKey = 1;

export function newAction(type) {
  const key = nextKey++;
  if (type === 'command') return { key, type, name: '', params: '{}', target: 'device', group: '', ack_timeout_s: '10', on_timeout: [] };
  if (type === 'escalate') return { key, type, to: 'critical' };
  return { key, type: 'notify', channel: '', contacts: 'device', contact_ids: '', kind: '', after_s: '', repeat_s: '' };
}

/** Builder state from stored actions. */
export function actionsToModel(list) {
  return (Array.isArray(list) ? list : []).map((a) => {
    const m = newAction(a?.type === 'command' || a?.type === 'escalate' ? a.type : 'notify');
    if (a.type === 'command') {
      Object.assign(m, {
        name: a.name || '', params: JSON.stringify(a.params ?? {}),
        target: a.target && typeof a.target === 'object' ? 'group' : 'device', group: a.target?.group != null ? String(a.target.group) : '',
        ack_timeout_s: a.ack_timeout_s != null ? String(a.ack_timeout_s) : '', on_timeout: actionsToModel(a.on_timeout),
      });
    } else if (a.type === 'escalate') {
      m.to = a.to || 'critical';
    } else {
      m.channel = a.channel != null ? String(a.channel) : '';
      if (Array.isArray(a.contacts)) Object.assign(m, { contacts: 'list', contact_ids: a.contacts.join(', ') });
      else m.contacts = a.contacts || 'device';
      Object.assign(m, { kind: a.kind || '', after_s: a.after_s ? String(a.after_s) : '', repeat_s: a.repeat_s ? String(a.repeat_s) : '' });
    }
    return m;
  });
}

const bad = (path, message) => Object.assign(new Error(`${path}: ${message}`), { path });

/** Stored actions from builder state; throws an Error whose `path` names the field (as the API does). */
export function modelToActions(models, path = 'actions') {
  return models.map((m, i) => {
    const p = `${path}[${i}]`;
    if (m.type === 'command') {
      let params;
      try {
        params = JSON.parse(m.params.trim() || '{}');
      } catch (e) {
        throw bad(p + '.params', 'must be JSON: ' + e.message);
      }
      if (!params || typeof params !== 'object' || Array.isArray(params)) throw bad(p + '.params', 'must be a JSON object');
      const a = { type: 'command', name: m.name.trim(), params };
      if (m.target === 'group') {
        if (!m.group) throw bad(p + '.target', 'pick a group');
        a.target = { group: Number(m.group) };
      } else {
        a.target = 'device';
      }
      if (String(m.ack_timeout_s).trim() !== '') a.ack_timeout_s = Number(m.ack_timeout_s);
      if (m.on_timeout.length) a.on_timeout = modelToActions(m.on_timeout, p + '.on_timeout');
      return a;
    }
    if (m.type === 'escalate') return { type: 'escalate', to: m.to };
    if (!m.channel.trim()) throw bad(p + '.channel', 'pick a channel');
    const a = { type: 'notify', channel: idOf(m.channel.trim()) };
    a.contacts = m.contacts === 'list' ? idList(m.contact_ids).map(idOf) : m.contacts;
    if (m.kind) a.kind = m.kind;
    for (const k of ['after_s', 'repeat_s']) if (String(m[k]).trim() !== '') a[k] = Number(m[k]);
    return a;
  });
}

const LABEL = { command: 'Command', escalate: 'Escalate', notify: 'Notify' };

/**
 * The list `value` (builder state) with add/remove/edit; `errors` are the
 * API's field errors by path (`actions[0].on_timeout[1].to`).
 */
export function ActionList({ value, onChange, groups, channels, contacts, errors = {}, path = 'actions', depth = 0 }) {
  const put = (i, m) => onChange(value.map((x, j) => (j === i ? m : x)));
  const drop = (i) => onChange(value.filter((_, j) => j !== i));
  const add = (type) => onChange([...value, newAction(type)]);
  const fallback = depth > 0;
  return html`<div class=${'action-list' + (fallback ? ' fallback' : '')} data-testid=${path}>
    ${value.map((m, i) => html`<${ActionBox} key=${m.key} m=${m} n=${i + 1} path=${`${path}[${i}]`} depth=${depth}
      groups=${groups} channels=${channels} contacts=${contacts} errors=${errors} onChange=${(x) => put(i, x)} onRemove=${() => drop(i)} />`)}
    ${errors[path] ? html`<span class="field-error" role="alert">${errors[path]}</span>` : null}
    <div class="row add-actions"><span class="muted small">${fallback ? 'Add fallback step:' : value.length ? 'Add action:' : 'No actions. Add:'}</span>
      ${['command', 'escalate', 'notify'].map((t) => html`<button type="button" class="small" onClick=${() => add(t)}
        data-testid=${`add-${t}-${path}`}>+ ${LABEL[t]}</button>`)}</div>
  </div>`;
}

function ActionBox({ m, n, path, depth, groups, channels, contacts, errors, onChange, onRemove }) {
  const set = (k) => (e) => onChange({ ...m, [k]: e.target.value });
  const err = (k) => errors[`${path}.${k}`];
  return html`<fieldset class=${'action action-' + m.type} data-testid=${path} data-type=${m.type}>
    <legend>${n}. ${LABEL[m.type]}</legend>
    <button type="button" class="icon remove-action" aria-label=${`Remove action ${path}`} onClick=${onRemove}>✕</button>
    ${errors[path] || err('type') ? html`<span class="field-error" role="alert">${errors[path] || err('type')}</span>` : null}
    ${m.type === 'command' ? html`
      <div class="row">
        <${Field} label="Command name" error=${err('name')}><input name="action_name" value=${m.name} onInput=${set('name')} placeholder="activate_backup" /></${Field}>
        <${Field} label="Ack timeout (s)" error=${err('ack_timeout_s')}><input name="action_ack_timeout_s" type="number" min="1" step="any" value=${m.ack_timeout_s} onInput=${set('ack_timeout_s')} /></${Field}>
      </div>
      <${Field} label="Params (JSON object)" error=${err('params')}><textarea name="action_params" rows="2" spellcheck="false" value=${m.params} onInput=${set('params')}></textarea></${Field}>
      <${Field} label="Target" error=${err('target')}>
        <div class="row"><select name="action_target" value=${m.target} onChange=${set('target')}>
          <option value="device">the alert's device</option><option value="group">every device of a group</option></select>
        ${m.target === 'group' ? html`<select name="action_group" aria-label="Target group" value=${m.group} onChange=${set('group')}>
          <option value="">— pick a group —</option>
          ${(groups || []).map((g) => html`<option value=${String(g.id)}>${g.name} (${g.device_count})</option>`)}</select>` : null}</div>
      </${Field}>
      ${depth < MAX_DEPTH ? html`<div class="on-timeout"><span class="label">If no ack in time (timed out, expired, error, not sent):</span>
        <${ActionList} value=${m.on_timeout} onChange=${(v) => onChange({ ...m, on_timeout: v })} groups=${groups} channels=${channels} contacts=${contacts} errors=${errors}
          path=${path + '.on_timeout'} depth=${depth + 1} /></div>` : html`<p class="muted small">Fallbacks nest at most ${MAX_DEPTH} deep.</p>`}` : null}
    ${m.type === 'escalate' ? html`<${Field} label="Raise severity to" error=${err('to')}><select name="action_to" value=${m.to} onChange=${set('to')}>
      ${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></${Field}>` : null}
    ${m.type === 'notify' ? html`<${NotifyFields} m=${m} set=${set} err=${err} channels=${channels} contacts=${contacts} onChange=${onChange} />` : null}
  </fieldset>`;
}

/**
 * A notify action: the channel (picked from GET /channels when the caller may
 * list them, else typed as an id), whose contacts, an optional kind filter,
 * a delay (sent only if still unacknowledged then) and a reminder period.
 */
function NotifyFields({ m, set, err, channels, contacts, onChange }) {
  const known = (channels || []).some((c) => String(c.id) === m.channel);
  const picked = new Set(idList(m.contact_ids));
  const toggle = (id, on) => {
    const next = new Set(picked);
    if (on) next.add(id);
    else next.delete(id);
    onChange({ ...m, contact_ids: [...next].join(', ') });
  };
  return html`<div class="row">
      ${channels ? html`<${Field} label="Channel" error=${err('channel')}><select name="action_channel" value=${m.channel} onChange=${set('channel')}>
          <option value="">— pick a channel —</option>
          ${m.channel && !known ? html`<option value=${m.channel}>channel ${m.channel}</option>` : null}
          ${channels.map((c) => html`<option value=${String(c.id)}>${c.name} (${c.type})</option>`)}</select></${Field}>`
        : html`<${Field} label="Channel id" error=${err('channel')}><input name="action_channel" inputmode="numeric" value=${m.channel} onInput=${set('channel')} /></${Field}>`}
      <${Field} label="Contacts" error=${err('contacts')} hint="webhooks ignore contacts"><select name="action_contacts" value=${m.contacts} onChange=${set('contacts')}>
        <option value="device">the device's contacts</option><option value="all">all contacts</option><option value="list">these contacts…</option></select></${Field}>
      <${Field} label="Only kind" error=${err('kind')}><select name="action_kind" value=${m.kind} onChange=${set('kind')}>
        <option value="">any kind</option>${CONTACT_KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select></${Field}>
    </div>
    ${m.contacts === 'list' ? contacts?.length
      ? html`<fieldset class="checks" data-testid="action-contact-ids"><legend>Contacts</legend>${contacts.map((c) => html`<label class="check">
          <input type="checkbox" name="action_contact" value=${String(c.id)} checked=${picked.has(String(c.id))} onChange=${(e) => toggle(String(c.id), e.target.checked)} />
          ${c.name} <span class="muted small">${c.kind}</span></label>`)}
          ${err('contacts') ? null : picked.size === 0 ? html`<span class="hint">none picked</span>` : null}</fieldset>`
      : html`<${Field} label="Contact ids" hint="comma separated"><input name="action_contact_ids" value=${m.contact_ids} onInput=${set('contact_ids')} /></${Field}>` : null}
    <div class="row">
      <${Field} label="After (s)" error=${err('after_s')} hint="0 = at once; later: only if unacknowledged"><input name="action_after_s" type="number" min="0" step="any"
        value=${m.after_s} onInput=${set('after_s')} placeholder="0" /></${Field}>
      <${Field} label="Repeat every (s)" error=${err('repeat_s')} hint="until acknowledged; 0 = never, else ≥ 10"><input name="action_repeat_s" type="number" min="0"
        step="any" value=${m.repeat_s} onInput=${set('repeat_s')} placeholder="0" /></${Field}>
    </div>`;
}
