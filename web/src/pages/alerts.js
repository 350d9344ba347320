// Alerts: live feed of open alerts, history from REST, filters, ack/resolve
// (operator), optional sound and desktop notification for critical alerts;
// each row links to its timeline (alert_detail.js).
import { useEffect, useState } from 'preact/hooks';
import { html, Time, Severity, SEVERITIES, fmtValue, roleAtLeast, sevRank, toMs } from '../util.js';
import { getAll, post, enc, role } from '../api.js';
import { alerts, alertsVersion, putAlert, onAlert, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';

const PREF_KEY = 'peregrine.alert_prefs';
const prefs = () => {
  try {
    return JSON.parse(localStorage.getItem(PREF_KEY)) || {};
  } catch {
    return {};
  }
};

function beep() {
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.15;
    o.connect(g).connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.4);
  } catch {
    /* no audio output */
  }
}

// Sound and notification work on every page once enabled, not only on this one.
onAlert((a) => {
  if (a.severity !== 'critical' || a.state !== 'active') return;
  const p = prefs();
  if (p.sound) beep();
  if (p.notify && 'Notification' in window && Notification.permission === 'granted') {
    new Notification(`CRITICAL: ${a.device} ${a.metric}`, { body: a.message || `value ${a.value}`, tag: String(a.id) });
  }
});

export function AlertsPage({ query }) {
  const [state, setState] = useState('open');
  const [severity, setSeverity] = useState('');
  const [device, setDevice] = useState(query?.get('device') || '');
  const [history, setHistory] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState({});
  const [p, setP] = useState(prefs());
  alertsVersion.value;
  const canOperate = roleAtLeast(role.value, 'operator');

  useEffect(() => {
    if (state !== 'resolved' && state !== 'all') return;
    setErr(null);
    setHistory(null);
    const qs = new URLSearchParams();
    if (state === 'resolved') qs.set('state', 'resolved');
    if (severity) qs.set('severity', severity);
    if (device) qs.set('device', device);
    getAll('/alerts?' + qs, 2000, 500).then(
      (items) => {
        setHistory(items);
        items.forEach((a) => alerts.has(a.id) && putAlert(a));
      },
      setErr,
    );
  }, [state, severity, device, resyncCount.value]);

  const setPref = (k, v) => {
    const n = { ...p, [k]: v };
    if (k === 'notify' && v && 'Notification' in window) Notification.requestPermission();
    localStorage.setItem(PREF_KEY, JSON.stringify(n));
    setP(n);
  };

  let rows;
  if (state === 'open') rows = [...alerts.values()].filter((a) => a.state !== 'resolved');
  else if (state === 'active' || state === 'acknowledged') rows = [...alerts.values()].filter((a) => a.state === state);
  else rows = (history || []).map((a) => ({ ...a, ...alerts.get(a.id) }));
  rows = rows.filter((a) => (!severity || a.severity === severity) && (!device || a.device === device));
  rows.sort((a, b) => (state === 'open' ? sevRank(b.severity) - sevRank(a.severity) : 0) || toMs(b.opened_at) - toMs(a.opened_at));

  const act = async (a, what) => {
    setBusy({ ...busy, [a.id]: what });
    setErr(null);
    try {
      const r = await post(`/alerts/${enc(a.id)}/${what}`, {});
      if (r && r.id != null) putAlert(r);
      else putAlert({ ...a, state: what === 'ack' ? 'acknowledged' : 'resolved' });
    } catch (e) {
      setErr(e);
    } finally {
      setBusy((b) => ({ ...b, [a.id]: null }));
    }
  };

  return html`<section class="alerts">
    <div class="toolbar">
      <h1>Alerts</h1>
      <select aria-label="State" value=${state} onChange=${(e) => setState(e.target.value)} data-testid="alert-state">
        <option value="open">Open (live)</option><option value="active">Active</option><option value="acknowledged">Acknowledged</option>
        <option value="resolved">Resolved (history)</option><option value="all">All (history)</option></select>
      <select aria-label="Severity" value=${severity} onChange=${(e) => setSeverity(e.target.value)}>
        <option value="">Any severity</option>${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select>
      <input type="search" aria-label="Device" placeholder="Device id" value=${device} onChange=${(e) => setDevice(e.target.value.trim())} />
      <label class="check"><input type="checkbox" checked=${!!p.sound} onChange=${(e) => setPref('sound', e.target.checked)} /> Sound for critical</label>
      <label class="check"><input type="checkbox" checked=${!!p.notify} onChange=${(e) => setPref('notify', e.target.checked)} /> Notify for critical</label>
    </div>
    <${ErrorBox} error=${err} label="Alerts" />
    <div class="table-wrap"><table class="alert-table" data-testid="alert-table">
      <thead><tr><th>Severity</th><th>State</th><th>Device</th><th>Metric</th><th>Value</th><th>Message</th><th>Opened</th><th>Acknowledged</th><th>Resolved</th><th>Events</th>${canOperate ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>
        ${rows.map((a) => html`<tr class=${'row-' + a.severity + ' st-' + a.state} data-testid=${'alert-' + a.id} data-state=${a.state} data-device=${a.device}>
          <td><${Severity} s=${a.severity} /></td>
          <td class="state">${a.state}${a.silenced ? html` <span class="pill silenced" title="a silence covered it: no actions ran">silenced</span>` : null}</td>
          <td><a href=${'#/device/' + enc(a.device)}>${a.device}</a></td>
          <td>${a.metric}</td><td class="num">${fmtValue(a.value)}</td><td>${a.message}</td>
          <td><${Time} t=${a.opened_at} /></td>
          <td>${a.acknowledged_at ? html`<${Time} t=${a.acknowledged_at} /> <span class="muted">by ${a.acknowledged_by || '?'}</span>` : '—'}</td>
          <td>${a.resolved_at ? html`<${Time} t=${a.resolved_at} />${a.resolved_by ? html` <span class="muted">by ${a.resolved_by}</span>` : null}` : '—'}</td>
          <td><a href=${'#/alerts/' + enc(a.id)} data-testid="timeline-link">Timeline</a></td>
          ${canOperate ? html`<td class="actions">
            ${a.state === 'active' ? html`<button onClick=${() => act(a, 'ack')} disabled=${!!busy[a.id]} data-testid="ack">Acknowledge</button>` : null}
            ${a.state !== 'resolved' ? html`<button onClick=${() => act(a, 'resolve')} disabled=${!!busy[a.id]} data-testid="resolve">Resolve</button>` : null}
          </td>` : null}
        </tr>`)}
      </tbody></table>
      ${rows.length === 0 ? html`<p class="muted empty">${history === null && (state === 'resolved' || state === 'all') ? 'Loading…' : 'No alerts.'}</p>` : null}
    </div>
  </section>`;
}
