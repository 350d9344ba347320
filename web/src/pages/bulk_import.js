// Bulk provisioning (admin): a CSV or JSON file goes to POST /devices/bulk
// as it is, with the matching Content-Type; the answer has one result per
// row. Created rows carry the device's token, which is shown only here.
import { useState } from 'preact/hooks';
import { html } from '../util.js';
import { postText } from '../api.js';
import { loadDevices } from '../live.js';
import { ErrorBox, Field } from '../components.js';

const MAX_SHOWN = 1000;
const TYPES = { csv: 'text/csv', json: 'application/json' };

/** "csv" or "json" from the file's name, its type, or its first character. */
function detectFormat(file, text) {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv') || file.type === 'text/csv') return 'csv';
  if (name.endsWith('.json') || file.type === 'application/json') return 'json';
  return /^\s*\[/.test(text) ? 'json' : 'csv';
}

const csvCell = (s) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function BulkImport() {
  const [file, setFile] = useState(null); // {name, size, text}
  const [format, setFormat] = useState('csv');
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const [errorsOnly, setErrorsOnly] = useState(false);

  const pick = async (ev) => {
    setRes(null);
    setErr(null);
    const f = ev.target.files?.[0];
    if (!f) return setFile(null);
    try {
      const text = await f.text();
      setFile({ name: f.name, size: f.size, text });
      setFormat(detectFormat(f, text));
    } catch (e) {
      setFile(null);
      setErr(Object.assign(e, { problem: { title: 'File not read', detail: e.message } }));
    }
  };
  const upload = async (ev) => {
    ev.preventDefault();
    if (!file) return;
    setBusy(true);
    setErr(null);
    setRes(null);
    try {
      setRes(await postText('/devices/bulk', file.text, TYPES[format]));
      loadDevices();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const download = () => {
    const rows = res.results.filter((r) => r.status === 'created');
    const text = 'id,token\n' + rows.map((r) => `${csvCell(r.id)},${csvCell(r.token)}`).join('\n') + '\n';
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    a.download = `device-tokens-job-${res.job_id}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  };

  const results = res ? res.results.filter((r) => !errorsOnly || r.status !== 'created') : [];
  return html`<div class="cols">
    <div>
      ${res ? html`<div class="card" data-testid="bulk-result">
        <div class="toolbar"><h2>Import results</h2>
          <span><b class="ok" data-testid="bulk-created">${res.created}</b> created · <b class=${res.failed ? 'sev-critical' : 'muted'} data-testid="bulk-failed">${res.failed}</b> failed</span>
          <span class="muted small">recorded as job ${res.job_id}</span>
          <label class="check"><input type="checkbox" checked=${errorsOnly} onChange=${(e) => setErrorsOnly(e.target.checked)} /> Errors only</label>
          ${res.created ? html`<button onClick=${download} data-testid="download-tokens">Download tokens (CSV)</button>` : null}</div>
        ${res.created ? html`<p class="note" role="note">Each created device's token is shown <b>once</b>, here: store it on the device now
          (HTTP header <code>X-Device-Token</code>, MQTT password) or download them. It cannot be read again; a lost token means a new one.</p>` : null}
        <div class="table-wrap"><table data-testid="bulk-results"><thead><tr><th class="num">Row</th><th>Id</th><th>Result</th><th>Field</th><th>Detail</th><th>Token</th></tr></thead>
          <tbody>${results.slice(0, MAX_SHOWN).map((r) => html`<tr data-testid=${'bulk-row-' + r.row} data-status=${r.status} class=${r.status === 'created' ? '' : 'row-error'}>
            <td class="num">${r.row}</td><td>${r.id}</td>
            <td>${r.status === 'created' ? html`<span class="ok">✓ created</span>` : html`<span class="sev-critical">✗ error</span>`}</td>
            <td data-testid="bulk-field">${r.field || ''}</td><td data-testid="bulk-detail">${r.detail || ''}</td>
            <td>${r.token ? html`<code class="token-inline" data-testid="bulk-token">${r.token}</code>` : ''}</td></tr>`)}</tbody></table></div>
        ${results.length > MAX_SHOWN ? html`<p class="muted small">First ${MAX_SHOWN} of ${results.length} rows shown; the token download has them all.</p>` : null}
      </div>` : html`<div class="card"><h2>Bulk import</h2><p class="muted">Pick a file to create many devices at once. Each row is created or refused on its own:
        good rows are created even when others fail.</p></div>`}
    </div>
    <form class="card" onSubmit=${upload} data-testid="bulk-form"><h2>Import devices</h2>
      <${Field} label="File (CSV or JSON)"><input type="file" name="file" accept=".csv,.json,text/csv,application/json" onChange=${pick} data-testid="bulk-file" /></${Field}>
      ${file ? html`<p class="small">${file.name}, ${file.size} bytes</p>` : null}
      <${Field} label="Format"><select name="format" value=${format} onChange=${(e) => setFormat(e.target.value)}>
        <option value="csv">CSV (text/csv)</option><option value="json">JSON array (application/json)</option></select></${Field}>
      <p class="hint">CSV: a header row with <code>id</code> and any of <code>name, type, group, lat, lon</code>; <code>group</code> is a group id or name,
        several separated by <code>;</code>; other columns become metadata. JSON: an array of <code>{"id", "name", "type", "group", "group_ids", "location": {"lat", "lon"}, "metadata"}</code>.
        At most 10,000 rows.</p>
      <${ErrorBox} error=${err} label="Import refused" />
      <button class="primary" disabled=${!file || busy} data-testid="bulk-upload">${busy ? 'Importing…' : 'Import'}</button>
    </form>
  </div>`;
}
