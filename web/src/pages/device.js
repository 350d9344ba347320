// Device: live chart per metric, history for any range (aggregates when the
// range is long and the server has them, else raw readings), readings table,
// open alerts, metadata/location, commands (history for all; sending for operators).
import { useEffect, useRef, useState, useMemo } from 'preact/hooks';
import { html, Time, fmtValue, fmtAgo, fmtUtc, Severity, roleAtLeast, toMs, iso, toLocalInput, fromLocalInput } from '../util.js';
import { get, enc, role, ApiError } from '../api.js';
import { devices, latest, alerts, alertsVersion, readingsVersion, onReading, fetchState, isStale, now, expectedIntervalMs, resyncCount } from '../live.js';
import { Chart, ErrorBox } from '../components.js';
import { CommandForm, CommandHistory } from './device_commands.js';

const RANGES = [
  ['live', 'Live (15 min)', 15 * 60e3],
  ['1h', 'Last hour', 3600e3],
  ['6h', 'Last 6 h', 6 * 3600e3],
  ['24h', 'Last 24 h', 86400e3],
  ['7d', 'Last 7 days', 7 * 86400e3],
  ['30d', 'Last 30 days', 30 * 86400e3],
  ['custom', 'Custom…', 0],
];
const BUCKETS = [[60, '1m'], [300, '5m'], [900, '15m'], [3600, '1h'], [6 * 3600, '6h'], [86400, '1d']];
const LIVE_MAX_POINTS = 5000;

/** Points [[ms, value]…] for a metric over [from, to). */
async function loadSeries(id, metric, from, to) {
  const span = to - from;
  if (span > 6 * 3600e3) {
    const want = span / 1000 / 600;
    const bucket = (BUCKETS.find(([s]) => s >= want) || BUCKETS[BUCKETS.length - 1])[1];
    try {
      const r = await get(`/devices/${enc(id)}/aggregates?metric=${enc(metric)}&from=${iso(from)}&to=${iso(to)}&bucket=${bucket}&fn=avg,min,max,count`);
      const pts = r?.points || r?.buckets || r?.items || [];
      return { source: `aggregates (${bucket} avg)`, points: pts.map((p) => [toMs(p.ts ?? p.bucket ?? p.t), p.avg ?? p.value ?? null]) };
    } catch (e) {
      if (!(e instanceof ApiError) || ![404, 405, 501].includes(e.status)) throw e;
    }
  }
  const r = await get(`/devices/${enc(id)}/readings?metric=${enc(metric)}&from=${iso(from)}&to=${iso(to)}&limit=20000`);
  let pts = (r?.points || []).map((p) => [toMs(p.ts), p.value]);
  let source = 'readings';
  if (pts.length > 4000) {
    // Even stride keeps the chart fast; the table still lists raw readings.
    const step = Math.ceil(pts.length / 4000);
    pts = pts.filter((_, i) => i % step === 0);
    source = `readings (every ${step}th shown)`;
  }
  if (r?.next) source += ' — truncated at 20,000';
  return { source, points: pts };
}

export function DevicePage({ id }) {
  const [dev, setDev] = useState(devices.get(id) || null);
  const [err, setErr] = useState(null);
  const [range, setRange] = useState('live');
  const [custom, setCustom] = useState({ from: toLocalInput(Date.now() - 86400e3), to: toLocalInput(Date.now()) });
  const [hist, setHist] = useState({}); // metric -> {source, points, error}
  const [tableMetric, setTableMetric] = useState('');
  const [ver, setVer] = useState(0);
  const [sent, setSent] = useState(null); // the command this page last sent
  const liveRef = useRef({}); // metric -> [[ms, v]…] in live mode
  readingsVersion.value;
  alertsVersion.value;
  const t = now.value;

  useEffect(() => {
    setErr(null);
    get(`/devices/${enc(id)}`).then(setDev, setErr);
    fetchState(id, true);
  }, [id, resyncCount.value]);

  const e = latest.get(id);
  const metrics = useMemo(() => Object.keys(e?.metrics || {}).sort(), [id, Object.keys(e?.metrics || {}).join(',')]);

  // History (or the live window's backfill).
  useEffect(() => {
    let from, to;
    if (range === 'custom') {
      from = fromLocalInput(custom.from);
      to = fromLocalInput(custom.to);
    } else {
      to = Date.now() + 1000;
      from = to - RANGES.find((r) => r[0] === range)[2];
    }
    let cancelled = false;
    liveRef.current = {};
    for (const m of metrics) {
      loadSeries(id, m, from, to).then(
        (s) => {
          if (cancelled) return;
          if (range === 'live') liveRef.current[m] = mergeLive(s.points, liveRef.current[m] || []);
          setHist((h) => ({ ...h, [m]: s }));
          setVer((v) => v + 1);
        },
        (error) => !cancelled && setHist((h) => ({ ...h, [m]: { error, points: [] } })),
      );
    }
    return () => (cancelled = true);
  }, [id, range, custom.from, custom.to, metrics.join(','), resyncCount.value]);

  // Live readings append to the live window.
  useEffect(() => {
    if (range !== 'live') return undefined;
    return onReading((dev2, ts, values) => {
      if (dev2 !== id) return;
      for (const [m, v] of Object.entries(values)) {
        const arr = (liveRef.current[m] ||= []);
        if (arr.length && arr[arr.length - 1][0] > ts) continue;
        arr.push([ts, v]);
        const cut = Date.now() - 15 * 60e3;
        while (arr.length > LIVE_MAX_POINTS || (arr.length && arr[0][0] < cut)) arr.shift();
      }
      setVer((x) => x + 1);
    });
  }, [id, range]);

  const open = [...alerts.values()].filter((a) => a.device === id && a.state !== 'resolved');
  const lastTs = e?.lastTs || toMs(dev?.last_seen) || 0;
  const stale = isStale(id, lastTs, t);
  const canOperate = roleAtLeast(role.value, 'operator');
  const tm = tableMetric || metrics[0];
  const tablePts = (range === 'live' ? liveRef.current[tm] : hist[tm]?.points) || [];

  return html`<section class="device">
    <div class="toolbar">
      <h1><a href="#/fleet" class="muted">Fleet</a> / <span data-testid="device-title">${dev?.name || id}</span></h1>
      <span class=${'pill ' + (dev?.online ? 'on' : 'off')}>${dev?.online ? 'online' : 'offline'}</span>
      <span class=${stale ? 'stale-text' : 'muted'} title=${fmtUtc(lastTs)}>${stale ? 'stale — ' : ''}last reading ${fmtAgo(lastTs, t)}
         ${' '}(expected every ${Math.round(expectedIntervalMs(id) / 1000)} s)</span>
    </div>
    <${ErrorBox} error=${err} label="Device" />
    <div class="device-grid">
      <div class="charts">
        <div class="toolbar">
          <label>Range <select value=${range} onChange=${(ev) => setRange(ev.target.value)} data-testid="range">
            ${RANGES.map(([k, l]) => html`<option value=${k}>${l}</option>`)}</select></label>
          ${range === 'custom' ? html`
            <label>From <input type="datetime-local" value=${custom.from} onChange=${(ev) => setCustom({ ...custom, from: ev.target.value })} /></label>
            <label>To <input type="datetime-local" value=${custom.to} onChange=${(ev) => setCustom({ ...custom, to: ev.target.value })} /></label>` : null}
        </div>
        ${metrics.length === 0 ? html`<p class="muted">No readings yet.</p>` : null}
        ${metrics.map((m) => html`<${MetricChart} key=${m} id=${id} m=${m} ver=${ver} range=${range}
            pts=${range === 'live' ? liveRef.current[m] : hist[m]?.points} info=${hist[m]} cur=${e?.metrics[m]} stale=${stale} />`)}
        <${CommandHistory} id=${id} added=${sent} />
        ${metrics.length ? html`<div class="card">
          <div class="toolbar"><h2>Readings</h2>
            <select aria-label="Metric for table" value=${tm} onChange=${(ev) => setTableMetric(ev.target.value)}>
              ${metrics.map((m) => html`<option value=${m}>${m}</option>`)}</select>
            <span class="muted small">newest first, up to 200</span></div>
          <div class="table-wrap"><table data-testid="readings-table"><thead><tr><th>Time</th><th>${tm}</th></tr></thead><tbody>
            ${tablePts.slice(-200).reverse().map(([ts, v]) => html`<tr><td><${Time} t=${ts} /></td><td class="num">${fmtValue(v)}</td></tr>`)}
          </tbody></table></div></div>` : null}
      </div>
      <aside>
        <div class="card"><h2>Open alerts</h2>
          ${open.length ? html`<ul class="plain">${open.map((a) => html`<li><${Severity} s=${a.severity} /> ${a.metric} ${fmtValue(a.value)} — ${a.message || ''}
            <br /><span class="muted small">${a.state} · opened <${Time} t=${a.opened_at} /> · <a href=${'#/alerts/' + enc(a.id)}>timeline</a></span></li>`)}</ul>`
            : html`<p class="muted">None.</p>`}
          <a href=${'#/alerts?device=' + enc(id)}>Alert history</a></div>
        <div class="card"><h2>Details</h2>
          <dl class="kvlist">
            <dt>Id</dt><dd>${id}</dd>
            <dt>Type</dt><dd>${dev?.type || '—'}</dd>
            <dt>Groups</dt><dd>${(dev?.group_ids || []).length ? dev.group_ids.map((g, i) => html`${i ? ', ' : ''}<a href=${'#/groups/' + enc(g)}>${g}</a>`) : '—'}</dd>
            <dt>Location</dt><dd>${dev?.location ? html`${dev.location.lat}, ${dev.location.lon} <a href="#/map">map</a>` : '—'}</dd>
            <dt>Sequence gaps</dt><dd>${dev?.seq_gaps ?? '—'}</dd>
            ${Object.entries(dev?.metadata || {}).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>`)}
          </dl></div>
        ${canOperate ? html`<${CommandForm} id=${id} onSent=${setSent} />` : null}
      </aside>
    </div>
  </section>`;
}

function mergeLive(hist, live) {
  const lastHist = hist.length ? hist[hist.length - 1][0] : -Infinity;
  return hist.concat(live.filter(([ts]) => ts > lastHist));
}

function MetricChart({ id, m, pts, info, cur, stale, ver, range }) {
  const data = useMemo(() => {
    const p = pts || [];
    return [p.map((x) => x[0] / 1000), p.map((x) => x[1])];
  }, [pts, ver, pts?.length]);
  return html`<div class="card" data-testid=${'chart-' + m}>
    <div class="toolbar"><h2>${m}</h2>
      <b class=${'big' + (stale ? ' stale-text' : '')} data-testid=${'current-' + m} title=${cur ? fmtUtc(cur.ts) : ''}>${fmtValue(cur?.value)}</b>
      ${stale ? html`<span class="stale-text small">stale</span>` : null}
      <span class="muted small">${range === 'live' ? 'live' : info?.source || 'loading…'}</span></div>
    ${info?.error ? html`<${ErrorBox} error=${info.error} label="History" />` : null}
    <${Chart} data=${data} series=${[m]} height=${200} testid=${'uplot-' + m} />
  </div>`;
}
