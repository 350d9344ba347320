// Notification channels (admin): list, create and edit per type (webhook,
// email, sms, voice), delete (refused while a rule's notify action names
// the channel), and a test send showing the provider's answer. Write-only
// secrets come back as "********": the form shows that mask and sends the
// field only when it was retyped, so an edit never overwrites a secret.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast } from '../util.js';
import { getAll, post, patch, del, enc, role } from '../api.js';
import { ErrorBox, Field, Modal } from '../components.js';

export const MASK = '********';
export const CHANNEL_TYPES = ['webhook', 'email', 'sms', 'voice'];

// Per type: [field, label, hint, input type]; `secret` fields are write-only.
const FIELDS = {
  webhook: [['url', 'URL', 'http:// or https://; receives a signed JSON POST per event', 'url'], ['secret', 'Secret', 'at least 16 characters; signs every delivery', 'secret']],
  email: [['smtp_url', 'SMTP URL', 'smtp://host:port (STARTTLS) or smtps://host:port (TLS)', 'text'], ['from', 'From', 'sender address', 'email'],
    ['username', 'Username', 'optional', 'text'], ['password', 'Password', 'optional', 'secret']],
  sms: [['api_url', 'API URL', 'Twilio-compatible base, e.g. https://api.twilio.com', 'url'], ['account_sid', 'Account SID', '', 'text'],
    ['auth_token', 'Auth token', '', 'secret'], ['from', 'From', 'E.164 phone, e.g. +4915112345678', 'tel']],
};
FIELDS.voice = FIELDS.sms;
const SECRETS = new Set(['secret', 'password', 'auth_token']);
const needsTo = (type) => type !== 'webhook';

/** One line saying where a channel sends. */
export function channelTarget(c) {
  if (c.type === 'webhook') return c.url;
  if (c.type === 'email') return `${c.smtp_url || ''} from ${c.from || '?'}`;
  return `${c.api_url || ''} from ${c.from || '?'}`;
}

function toForm(c, type = 'webhook') {
  const f = { name: c?.name || '', type: c?.type || type, starttls: c?.starttls || 'required' };
  for (const t of CHANNEL_TYPES) {
    for (const [k] of FIELDS[t]) if (f[k] === undefined) f[k] = SECRETS.has(k) ? (c?.[k] ? MASK : '') : c?.[k] ?? '';
  }
  return f;
}

/**
 * The request body: only the type's fields; a secret only when retyped (never
 * the mask, never empty). On an edit, an optional field emptied is cleared (null).
 */
function toBody(f, original) {
  const b = { name: f.name.trim() };
  if (!original) b.type = f.type;
  for (const [k] of FIELDS[f.type]) {
    const raw = String(f[k] ?? '');
    const v = raw.trim();
    if (SECRETS.has(k)) {
      if (raw !== '' && raw !== MASK) b[k] = raw;
    } else if (v !== '') {
      b[k] = v;
    } else if (original?.[k]) {
      b[k] = null;
    }
  }
  if (f.type === 'email' && /^smtp:\/\//i.test(f.smtp_url.trim())) b.starttls = f.starttls;
  return b;
}

export function ChannelsPage() {
  const [list, setList] = useState(null);
  const [err, setErr] = useState(null);
  const [edit, setEdit] = useState(null); // null (new) | channel
  const [testing, setTesting] = useState(null);
  const load = () => getAll('/channels', 5000, 500).then(setList, (e) => { setErr(e); setList([]); });
  useEffect(load, []);
  if (!roleAtLeast(role.value, 'admin')) return html`<section><h1>Channels</h1><p>Your role (${role.value}) cannot manage notification channels.</p></section>`;
  const remove = async (c) => {
    if (!confirm(`Delete channel "${c.name}"? Past deliveries keep its name.`)) return;
    setErr(null);
    try {
      await del(`/channels/${enc(c.id)}`);
      if (edit?.id === c.id) setEdit(null);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<section class="channels">
    <div class="toolbar"><h1>Channels</h1><span class="muted small">${list ? `${list.length} channels` : ''}</span>
      <div class="spacer"></div>${edit ? html`<button onClick=${() => setEdit(null)} data-testid="new-channel">New channel</button>` : null}</div>
    <${ErrorBox} error=${err} label="Channels" />
    <div class="cols">
      <div class="table-wrap"><table data-testid="channel-table"><thead><tr><th>Name</th><th>Type</th><th>Sends to</th><th>Secret</th><th>Updated</th><th>Actions</th></tr></thead>
        <tbody>${(list || []).map((c) => {
          const secret = c.secret ?? c.password ?? c.auth_token;
          return html`<tr data-testid=${'channel-' + c.id} data-name=${c.name} class=${edit?.id === c.id ? 'selected' : ''}>
            <td>${c.name}</td><td>${c.type}</td><td class="small">${channelTarget(c)}</td>
            <td class="small" data-testid="channel-secret">${secret ? secret : html`<span class="muted">not set</span>`}</td>
            <td><${Time} t=${c.updated_at || c.created_at} /></td>
            <td class="actions"><button onClick=${() => setEdit(c)} data-testid="edit-channel">Edit</button>
              <button onClick=${() => setTesting(c)} data-testid="test-channel">Send test</button>
              <button onClick=${() => remove(c)} data-testid="delete-channel">Delete</button></td></tr>`;
        })}</tbody></table>
        ${list && list.length === 0 ? html`<p class="muted empty">No channels yet. Rules notify through a channel (rule action "notify").</p>` : null}
        ${list === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
      <${ChannelForm} key=${edit?.id ?? 'new'} c=${edit} onSaved=${(c) => { setEdit(c); load(); }} />
    </div>
    ${testing ? html`<${TestDialog} c=${testing} onClose=${() => setTesting(null)} />` : null}
  </section>`;
}

function ChannelForm({ c, onSaved }) {
  const [f, setF] = useState(toForm(c));
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => (setF({ ...f, [k]: e.target.value }), setSaved(false));
  const fe = err?.fields || {};
  const save = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setSaved(false);
    setBusy(true);
    try {
      const r = c ? await patch(`/channels/${enc(c.id)}`, toBody(f, c)) : await post('/channels', toBody(f, null));
      setSaved(true);
      onSaved(r);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const smtp = f.type === 'email' && /^smtp:\/\//i.test(f.smtp_url.trim());
  return html`<form class="card" onSubmit=${save} data-testid="channel-form" data-editing=${c ? c.id : ''}>
    <h2>${c ? `Edit ${c.name}` : 'New channel'}</h2>
    <${Field} label="Name" error=${fe.name} hint="unique in the tenant"><input name="name" required maxlength="200" value=${f.name} onInput=${set('name')} /></${Field}>
    <${Field} label="Type" error=${fe.type} hint=${c ? 'fixed once created' : ''}><select name="type" value=${f.type} disabled=${!!c} onChange=${set('type')}>
      ${CHANNEL_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></${Field}>
    ${FIELDS[f.type].map(([k, label, hint, type]) => SECRETS.has(k)
      ? html`<${Field} label=${label} error=${fe[k]} hint=${f[k] === MASK ? 'stored; kept unless you type a new one' : hint}>
          <input name=${k} type="password" autocomplete="new-password" value=${f[k]} onInput=${set(k)}
            onFocus=${(e) => f[k] === MASK && e.target.select()} /></${Field}>`
      : html`<${Field} label=${label} error=${fe[k]} hint=${hint}><input name=${k} type=${type} value=${f[k]} onInput=${set(k)} /></${Field}>`)}
    ${smtp ? html`<${Field} label="STARTTLS" error=${fe.starttls}><select name="starttls" value=${f.starttls} onChange=${set('starttls')}>
      <option value="required">required</option><option value="optional">optional</option></select></${Field}>` : null}
    <button class="primary" disabled=${busy} data-testid="save-channel">${c ? 'Save' : 'Create channel'}</button>
    ${saved ? html` <span class="ok" role="status">Saved.</span>` : null}
    <${ErrorBox} error=${err} label="Not saved" />
  </form>`;
}

function TestDialog({ c, onClose }) {
  const [to, setTo] = useState('');
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setRes(null);
    setBusy(true);
    try {
      setRes(await post(`/channels/${enc(c.id)}/test`, needsTo(c.type) ? { to: to.trim() } : {}));
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Modal} title=${'Send a test through ' + c.name} onClose=${onClose}>
    <form onSubmit=${send} data-testid="test-form">
      ${needsTo(c.type)
        ? html`<${Field} label="To" error=${err?.fields?.to} hint=${c.type === 'email' ? 'an email address' : 'an E.164 phone, e.g. +4915112345678'}>
            <input name="to" required type=${c.type === 'email' ? 'email' : 'tel'} value=${to} onInput=${(e) => setTo(e.target.value)} /></${Field}>`
        : html`<p class="muted small">Posts a test event to ${c.url}.</p>`}
      <div class="row"><button class="primary" disabled=${busy} data-testid="send-test">${busy ? 'Sending…' : 'Send test'}</button>
        <button type="button" onClick=${onClose}>Close</button></div>
      ${res ? html`<p class=${res.ok ? 'ok' : 'error'} role="status" data-testid="test-result" data-ok=${String(!!res.ok)}>
        <b>${res.ok ? 'Delivered' : 'Not delivered'}</b>${res.status ? ` (status ${res.status})` : ' (no answer)'}${res.detail ? ` — ${res.detail}` : ''}</p>` : null}
      <${ErrorBox} error=${err} label="Test not sent" />
    </form></${Modal}>`;
}
