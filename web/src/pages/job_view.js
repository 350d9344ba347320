// One job (a batch command): state, a progress bar fed by the `jobs`
// WebSocket topic, done/failed counts and the per-item table. Items come
// from GET /jobs/{id}; the `commands` topic moves each item's status on
// between fetches (items are written to PostgreSQL behind the live state).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Time, roleAtLeast } from '../util.js';
import { get, post, enc, role } from '../api.js';
import { useFrames, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';
import { CommandStatus, newerCommand } from '../commands.js';

const FINAL_JOB = new Set(['done', 'failed', 'cancelled']);
const MAX_ITEMS = 5000;

export const isFinalJob = (j) => FINAL_JOB.has(j?.state);
const ended = (j) => (j?.progress?.done || 0) + (j?.progress?.failed || 0);

/** The newer of two views of one job: counts only grow and a final state stays. */
export function newerJob(old, next) {
  if (!old || old.id !== next?.id) return next || old;
  if (isFinalJob(old) && !isFinalJob(next)) return old;
  if (!isFinalJob(next) && ended(next) < ended(old)) return old;
  return { ...old, ...next };
}

const itemKey = (i) => (i.command_id ? 'c:' + i.command_id : 's:' + i.seq);

async function loadItems(id) {
  let job = null;
  const items = [];
  let cursor = null;
  do {
    const r = await get(`/jobs/${enc(id)}?limit=1000${cursor ? '&cursor=' + enc(cursor) : ''}`);
    job = job || r;
    items.push(...(r.items || []));
    cursor = r.next ?? null;
  } while (cursor && items.length < MAX_ITEMS);
  return { job, items, truncated: !!cursor };
}

export function JobView({ job: initial, onChange }) {
  const [job, setJob] = useState(initial);
  const [items, setItems] = useState(new Map()); // itemKey -> item
  const [truncated, setTruncated] = useState(false);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = initial.id;
  const reported = useRef(null);

  const mergeItems = (list) => setItems((cur) => {
    const m = new Map(cur);
    for (const i of list) m.set(itemKey(i), newerCommand(m.get(itemKey(i)), i));
    return m;
  });
  const refresh = () => loadItems(id).then(
    (r) => {
      setJob((j) => newerJob(j, { ...r.job, items: undefined, next: undefined }));
      mergeItems(r.items);
      setTruncated(r.truncated);
    },
    setErr,
  );

  // Mounted per job (the caller keys it by id); after a reconnect, frames may have been missed.
  useEffect(() => {
    refresh();
  }, [resyncCount.value]);

  // The final state's items once the job has ended (and once more a moment later, for rows still being written).
  const final = isFinalJob(job);
  useEffect(() => {
    if (!final) return undefined;
    refresh();
    const t = setTimeout(refresh, 1500);
    return () => clearTimeout(t);
  }, [final]);

  useEffect(() => {
    if (reported.current !== job && onChange) onChange(job);
    reported.current = job;
  }, [job]);

  useFrames('jobs', 'job', (msg) => {
    if (msg.job?.id === id) setJob((j) => newerJob(j, msg.job));
  }, [id]);
  useFrames('commands', 'command', (msg) => {
    const c = msg.command;
    if (c?.job_id !== id) return;
    mergeItems([{ key: c.device, status: c.status, detail: c.detail, command_id: c.id }]);
  }, [id]);

  const cancel = async () => {
    setBusy(true);
    setErr(null);
    try {
      setJob(newerJob(job, await post(`/jobs/${enc(id)}/cancel`, {})));
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };

  const p = job.progress || { total: 0, done: 0, failed: 0 };
  const total = p.total || 0;
  const pct = (n) => (total ? (100 * n) / total : 0);
  const rows = [...items.values()].sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || String(a.key).localeCompare(String(b.key)));
  const params = job.params || {};
  return html`<div class="card job" data-testid=${'job-' + id} data-state=${job.state}>
    <div class="toolbar"><h2>Job ${id}: ${job.kind === 'batch_command' ? `${params.command || 'command'} to ${params.group_name || 'group ' + params.group}` : job.kind}</h2>
      <span class=${'pill job-' + job.state} data-testid="job-state">${job.state}</span>
      <span class="muted small">by ${job.created_by} · <${Time} t=${job.created_at} />${job.finished_at ? html` · ended <${Time} t=${job.finished_at} date=${false} />` : null}</span>
      ${!final && roleAtLeast(role.value, 'operator') ? html`<button onClick=${cancel} disabled=${busy} data-testid="cancel-job">Cancel job</button>` : null}</div>
    <div class="progress" role="progressbar" aria-label=${'Job ' + id + ' progress'} aria-valuemin="0" aria-valuemax=${total} aria-valuenow=${p.done + p.failed}
      data-testid="job-progress" data-done=${p.done} data-failed=${p.failed} data-total=${total}>
      <span class="bar-ok" style=${{ width: pct(p.done) + '%' }}></span><span class="bar-fail" style=${{ width: pct(p.failed) + '%' }}></span>
    </div>
    <p class="progress-text"><b data-testid="job-ended">${p.done + p.failed}/${total}</b> ended${' · '}<span class="ok"><b data-testid="job-done">${p.done}</b> ok</span>${' · '}<span class=${p.failed ? 'sev-critical' : 'muted'}><b data-testid="job-failed">${p.failed}</b> failed</span></p>
    <${ErrorBox} error=${err} label="Job" />
    <div class="table-wrap"><table data-testid="job-items"><thead><tr><th>#</th><th>Device</th><th>Status</th><th>Detail</th></tr></thead>
      <tbody>${rows.map((i) => html`<tr data-testid=${'job-item-' + i.key} data-status=${i.status}>
        <td class="num">${i.seq ?? ''}</td><td><a href=${'#/device/' + enc(i.key)}>${i.key}</a></td>
        <td><${CommandStatus} s=${i.status} /></td><td class="small">${i.detail || ''}</td></tr>`)}</tbody></table>
      ${rows.length === 0 ? html`<p class="muted empty">No items yet.</p>` : null}</div>
    ${truncated ? html`<p class="muted small">First ${MAX_ITEMS} items shown.</p>` : null}
  </div>`;
}
