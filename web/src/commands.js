// Commands to devices, shared by the device page and the group batch form:
// status presentation, the order statuses move in (a live frame must never
// be overwritten by an older REST answer), and the request form fields.
import { useState } from 'preact/hooks';
import { html } from './util.js';
import { Field } from './components.js';

// queued → sent → ok | error | timed_out; queued → expired; queued | sent → cancelled.
const STATUS_RANK = { queued: 0, sent: 1, ok: 2, error: 2, timed_out: 2, expired: 2, cancelled: 2 };
const STATUS_ICON = { queued: '…', sent: '→', ok: '✓', error: '✗', timed_out: '⏱', expired: '⌛', cancelled: '⊘' };

export const isFinalStatus = (s) => STATUS_RANK[s] === 2;
const rank = (s) => STATUS_RANK[s] ?? -1;

/** The newer of two views of one command (or job item): a status never moves backwards, a final one never changes. */
export function newerCommand(old, next) {
  if (!old) return next;
  if (!next) return old;
  if (rank(next.status) < rank(old.status)) return { ...next, ...old };
  if (isFinalStatus(old.status) && old.status !== next.status) return { ...next, ...old };
  return { ...old, ...next };
}

export function CommandStatus({ s }) {
  return html`<span class=${'cst cst-' + (s || 'unknown')} data-testid="command-status"><span aria-hidden="true">${STATUS_ICON[s] || '?'}</span> ${s || '?'}</span>`;
}

export const emptyCommand = () => ({ name: '', params: '{}', ack_timeout_s: '10', expires_s: '' });

/** Request body from the form, or throws an Error naming the field. */
export function commandBody(f) {
  let params;
  try {
    params = JSON.parse(f.params.trim() || '{}');
  } catch (e) {
    throw Object.assign(new Error(`params must be JSON: ${e.message}`), { field: 'params' });
  }
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    throw Object.assign(new Error('params must be a JSON object, e.g. {"level": 2}'), { field: 'params' });
  }
  const body = { name: f.name.trim(), params };
  for (const k of ['ack_timeout_s', 'expires_s']) {
    if (String(f[k]).trim() !== '') body[k] = Number(f[k]);
  }
  return body;
}

/** Name, params, ack timeout and (optionally) expiry inputs over the form state `f`. */
export function CommandFields({ f, setF, error, withExpiry = true }) {
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`
    <${Field} label="Command name" hint="[A-Za-z0-9_.-], up to 64"><input name="command_name" required value=${f.name}
      onInput=${set('name')} placeholder="activate_backup" pattern="[A-Za-z0-9_.\\-]{1,64}" /></${Field}>
    <${Field} label="Params (JSON object)" error=${error?.field === 'params' ? error.message : null}>
      <textarea name="command_params" rows="2" spellcheck="false" value=${f.params} onInput=${set('params')}></textarea></${Field}>
    <div class="row">
      <${Field} label="Ack timeout (s)" hint="1–86400; default 10"><input name="ack_timeout_s" type="number" min="1" max="86400"
        value=${f.ack_timeout_s} onInput=${set('ack_timeout_s')} /></${Field}>
      ${withExpiry ? html`<${Field} label="Expires after (s)" hint="while offline; default 3600"><input name="expires_s" type="number" min="1"
        max="2592000" value=${f.expires_s} onInput=${set('expires_s')} /></${Field}>` : null}
    </div>`;
}

/** Form state plus its local (before the API) validation error. */
export function useCommandForm() {
  const [f, setF] = useState(emptyCommand());
  const [localErr, setLocalErr] = useState(null);
  const build = () => {
    setLocalErr(null);
    try {
      return commandBody(f);
    } catch (e) {
      setLocalErr(e);
      return null;
    }
  };
  return { f, setF, localErr, build };
}
