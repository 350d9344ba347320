// A device's commands: the send form (operator) and the history, newest
// first, whose rows follow the `commands` WebSocket topic as each command
// moves queued → sent → ok | error | timed_out (or queued → expired).
import { useEffect, useState } from 'preact/hooks';
import { html, Time } from '../util.js';
import { get, post, enc } from '../api.js';
import { useFrames, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';
import { CommandFields, CommandStatus, newerCommand, useCommandForm, emptyCommand } from '../commands.js';

const PAGE = 20;

export function CommandForm({ id, onSent }) {
  const { f, setF, localErr, build } = useCommandForm();
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (ev) => {
    ev.preventDefault();
    setErr(null);
    const body = build();
    if (!body) return;
    setBusy(true);
    try {
      onSent(await post(`/devices/${enc(id)}/commands`, body));
      setF({ ...emptyCommand(), ack_timeout_s: f.ack_timeout_s, expires_s: f.expires_s });
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${send} data-testid="command-form"><h2>Send command</h2>
    <${CommandFields} f=${f} setF=${setF} error=${localErr} />
    <button class="primary" disabled=${busy} data-testid="send-command">${busy ? 'Sending…' : 'Send'}</button>
    <${ErrorBox} error=${err} label="Command not sent" />
  </form>`;
}

export function CommandHistory({ id, added }) {
  const [items, setItems] = useState(null); // newest first
  const [next, setNext] = useState(null);
  const [err, setErr] = useState(null);

  const upsert = (c) => setItems((list) => {
    const cur = list || [];
    const i = cur.findIndex((x) => x.id === c.id);
    if (i < 0) return [c, ...cur];
    const copy = cur.slice();
    copy[i] = newerCommand(cur[i], c);
    return copy;
  });

  useEffect(() => {
    setErr(null);
    get(`/devices/${enc(id)}/commands?limit=${PAGE}`).then(
      (r) => {
        // Frames that arrived while the page loaded are newer than the answer.
        setItems((live) => {
          const fetched = r.items || [];
          const byId = new Map((live || []).map((c) => [c.id, c]));
          const merged = fetched.map((c) => newerCommand(c, byId.get(c.id)));
          const known = new Set(fetched.map((c) => c.id));
          return [...(live || []).filter((c) => !known.has(c.id)), ...merged];
        });
        setNext(r.next ?? null);
      },
      (e) => {
        setErr(e);
        setItems((l) => l || []);
      },
    );
  }, [id, resyncCount.value]);

  useFrames('commands', 'command', (msg) => {
    if (msg.command?.device === id) upsert(msg.command);
  }, [id]);

  useEffect(() => {
    if (added) upsert(added);
  }, [added]);

  const more = async () => {
    try {
      const r = await get(`/devices/${enc(id)}/commands?limit=${PAGE}&cursor=${enc(next)}`);
      setItems((l) => [...(l || []), ...(r.items || []).filter((c) => !(l || []).some((x) => x.id === c.id))]);
      setNext(r.next ?? null);
    } catch (e) {
      setErr(e);
    }
  };

  return html`<div class="card" data-testid="command-history">
    <div class="toolbar"><h2>Commands</h2><span class="muted small">newest first; statuses update live</span></div>
    <${ErrorBox} error=${err} label="Command history" />
    <div class="table-wrap"><table><thead><tr><th>Created</th><th>Command</th><th>Status</th><th>Sent</th><th>Finished</th><th>Detail</th><th>By</th></tr></thead>
      <tbody>${(items || []).map((c) => html`<tr data-testid=${'command-' + c.id} data-status=${c.status} data-name=${c.name}>
        <td><${Time} t=${c.created_at} /></td>
        <td><b>${c.name}</b>${c.params && Object.keys(c.params).length ? html`<br /><code class="small">${JSON.stringify(c.params)}</code>` : null}</td>
        <td><${CommandStatus} s=${c.status} /></td>
        <td><${Time} t=${c.sent_at} date=${false} /></td>
        <td><${Time} t=${c.finished_at} date=${false} /></td>
        <td class="small">${c.detail || ''}</td>
        <td class="small">${c.alert_id != null ? html`<a href=${'#/alerts/' + c.alert_id}>alert ${c.alert_id}</a>` : c.job_id != null ? `job ${c.job_id}` : c.created_by}</td>
      </tr>`)}</tbody></table>
      ${items && items.length === 0 ? html`<p class="muted empty">No commands sent to this device yet.</p>` : null}
      ${items === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
    ${next ? html`<button onClick=${more}>Older commands</button>` : null}
  </div>`;
}
