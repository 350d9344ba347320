// History charts of the device page: the window picked (the live 15 minutes up
// to a year, or custom), drawn from raw readings when short and from the
// server's aggregates (avg line over the min–max band) when long. Dragging
// across a chart asks again for the selected stretch, at a finer bucket; the
// same chart is offered as the server's SVG (a link, or a download).
import { useMemo, useRef, useState } from 'preact/hooks';
import { html, Time, fmtValue, fmtUtc, toMs, iso, fromLocalInput } from '../util.js';
import { get, api, enc, ApiError } from '../api.js';
import { Chart, ErrorBox } from '../components.js';

export const LIVE_SPAN_MS = 15 * 60e3;
export const RANGES = [
  ['live', 'Live (15 min)', LIVE_SPAN_MS],
  ['1h', 'Last hour', 3600e3],
  ['6h', 'Last 6 h', 6 * 3600e3],
  ['24h', 'Last 24 h', 86400e3],
  ['7d', 'Last 7 days', 7 * 86400e3],
  ['30d', 'Last 30 days', 30 * 86400e3],
  ['90d', 'Last 90 days', 90 * 86400e3],
  ['1y', 'Last year', 365 * 86400e3],
  ['custom', 'Custom…', 0],
];
// Up to about an hour a chart shows every reading; a longer window, or a short
// one holding more readings than a chart can show, is drawn from buckets.
const RAW_MAX_SPAN_MS = 65 * 60e3;
const RAW_LIMIT = 5000;
const MAX_POINTS = 2000;

/** The window {from, to} (ms) a range stands for now; null for a custom one that is not a window. */
export function rangeWindow(range, custom) {
  if (range === 'custom') {
    const from = fromLocalInput(custom.from);
    const to = fromLocalInput(custom.to);
    return Number.isFinite(from) && Number.isFinite(to) && from < to ? { from, to } : null;
  }
  const to = Date.now() + 1000;
  return { from: to - RANGES.find((r) => r[0] === range)[2], to };
}

/** Buckets to ask for a chart `width` px wide: one per 2 px. */
export const pointsFor = (width) => Math.max(50, Math.min(MAX_POINTS, Math.round(width / 2)));

/**
 * One metric over [from, to): {source: 'readings', points: [[ms, value]…]} or
 * {source: 'aggregates', bucket, points: [[ms, avg, min, max, count]…]}, both
 * oldest first and carrying the window they were asked for.
 */
export async function loadSeries(id, metric, from, to, points) {
  const q = `metric=${enc(metric)}&from=${iso(from)}&to=${iso(to)}`;
  if (to - from <= RAW_MAX_SPAN_MS) {
    const r = await get(`/devices/${enc(id)}/readings?${q}&limit=${RAW_LIMIT}`);
    if (!r?.next) return { source: 'readings', bucket: null, from, to, points: (r?.points || []).map((p) => [toMs(p.ts), p.value]) };
  }
  const r = await get(`/devices/${enc(id)}/aggregates?${q}&bucket=auto&points=${points}&fn=avg,min,max,count`);
  return {
    source: 'aggregates',
    bucket: r.bucket,
    from,
    to,
    points: (r.points || []).map((p) => [toMs(p.ts), p.avg, p.min, p.max, p.count]),
  };
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };
/** "30m" -> 1800000. */
export function durationMs(text) {
  const m = /^(\d+)(us|ms|s|m|h|d)$/.exec(text || '');
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

/** The browser's IANA zone (charts follow its DST), else its offset now. */
function browserZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) return zone;
  const off = -new Date().getTimezoneOffset();
  if (off === 0) return 'UTC';
  const a = Math.abs(off);
  return `${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Path under /api/v1 of the server-rendered chart of one metric over a window. */
export function chartSvgPath(id, metric, win, { width = 800, title = '' } = {}) {
  const w = Math.max(200, Math.min(4000, Math.round(width)));
  return `/devices/${enc(id)}/chart.svg?metric=${enc(metric)}&from=${iso(win.from)}&to=${iso(win.to)}`
    + `&width=${w}&height=300&theme=light&tz=${enc(browserZone())}&rules=true&title=${enc(title.slice(0, 150))}`;
}

/**
 * Aggregate points as uPlot columns [xs, mins, maxs, avgs]. Buckets are left
 * out when empty, so a stretch without data longer than `gapMs` is broken
 * with a null instead of being bridged by the line.
 */
function aggColumns(points, gapMs, bucketMs) {
  const cols = [[], [], [], []];
  let prev = null;
  for (const [ts, avg, min, max] of points) {
    if (prev != null && ts - prev > gapMs) {
      cols[0].push((prev + bucketMs) / 1000);
      cols[1].push(null), cols[2].push(null), cols[3].push(null);
    }
    cols[0].push(ts / 1000), cols[1].push(min), cols[2].push(max), cols[3].push(avg);
    prev = ts;
  }
  return cols;
}

/** One metric's chart card: current value, the chart, SVG link and export. */
export function HistoryChart({ id, name, m, pts, info, cur, stale, ver, live, intervalMs, onZoom }) {
  const card = useRef();
  const [link, setLink] = useState(null); // {url, copied}
  const [svgErr, setSvgErr] = useState(null);
  const agg = !live && info?.source === 'aggregates';
  const data = useMemo(() => {
    const p = pts || [];
    if (agg) {
      const bucketMs = durationMs(info.bucket) || 60e3;
      return aggColumns(p, Math.max(3 * bucketMs, 3 * intervalMs), bucketMs);
    }
    return [p.map((x) => x[0] / 1000), p.map((x) => x[1])];
  }, [pts, ver, pts?.length, agg, intervalMs]);
  const xRange = !live && info?.from != null ? [info.from / 1000, info.to / 1000] : undefined;

  const win = () => (live || info?.from == null ? { from: Date.now() - LIVE_SPAN_MS, to: Date.now() } : { from: info.from, to: info.to });
  const svgPath = () => chartSvgPath(id, m, win(), { width: (card.current?.clientWidth || 826) - 26, title: `${name} — ${m}` });
  const copyLink = async () => {
    const url = location.origin + '/api/v1' + svgPath();
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      /* no clipboard here: the field below is there to copy from */
    }
    setLink({ url, copied });
  };
  // Raw rows for a short range, the chart's buckets when it shows aggregates.
  const csvPath = () => {
    const w = win();
    const base = `/export/readings.csv?device=${enc(id)}&metric=${enc(m)}&from=${iso(w.from)}&to=${iso(w.to)}`;
    return agg ? `${base}&bucket=${enc(info.bucket)}&fn=avg,min,max,count` : base;
  };
  const download = async (path, fallbackName) => {
    setSvgErr(null);
    try {
      // The API wants the bearer token, which a plain link cannot carry.
      const res = await api('GET', path, undefined, { raw: true });
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({ title: res.statusText })));
      const named = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
      const href = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = href;
      a.download = named ? named[1] : fallbackName;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60e3);
    } catch (e) {
      setSvgErr(e);
    }
  };

  const label = live ? 'live' : !info ? 'loading…' : info.error ? '' : agg ? `avg per ${info.bucket}, min–max shaded` : 'readings';
  return html`<div class="card" ref=${card} data-testid=${'chart-' + m} data-source=${info?.source || ''}
      data-bucket=${info?.bucket || (info?.source ? 'raw' : '')} data-from=${info?.from ?? ''} data-to=${info?.to ?? ''}>
    <div class="toolbar"><h2>${m}</h2>
      <b class=${'big' + (stale ? ' stale-text' : '')} data-testid=${'current-' + m} title=${cur ? fmtUtc(cur.ts) : ''}>${fmtValue(cur?.value)}</b>
      ${stale ? html`<span class="stale-text small">stale</span>` : null}
      <span class="muted small" data-testid=${'source-' + m}>${label}</span>
      <span class="chart-actions">
        <button class="small" onClick=${copyLink} data-testid=${'svg-copy-' + m} title="Link to this chart as SVG (the API needs a bearer token)">Copy SVG link</button>
        <button class="small" onClick=${() => download(svgPath(), `${id}-${m}.svg`)} data-testid=${'svg-export-' + m} title="Download this chart as SVG, rendered by the server">Export SVG</button>
        <button class="small" onClick=${() => download(svgPath().replace('/chart.svg?', '/chart.png?'), `${id}-${m}.png`)} data-testid=${'png-export-' + m} title="Download this chart as PNG, rendered by the server">Export PNG</button>
        <button class="small" onClick=${() => download(csvPath(), `${id}-${m}.csv`)} data-testid=${'csv-export-' + m} title="Download the shown range as CSV">Export CSV</button>
      </span></div>
    ${link ? html`<div class="svg-link small"><span class="muted">${link.copied ? 'Copied:' : 'Copy this link:'}</span>
      <input readonly value=${link.url} data-testid=${'svg-link-' + m} data-copied=${String(link.copied)}
        onFocus=${(ev) => ev.target.select()} aria-label=${'SVG link for ' + m} />
      <button class="icon" aria-label="Close" onClick=${() => setLink(null)}>✕</button></div>` : null}
    ${info?.error ? html`<${ErrorBox} error=${info.error} label="History" />` : null}
    <${ErrorBox} error=${svgErr} label="SVG" />
    <${Chart} data=${data} series=${[m]} height=${200} minmax=${agg} xRange=${xRange} onSelect=${onZoom}
      testid=${'uplot-' + m} />
  </div>`;
}

/** Table rows of the newest 200 points: readings, or buckets with their spread and count. */
export function HistoryTable({ m, pts, agg, bucket, metrics, onMetric }) {
  const rows = (pts || []).filter((p) => p[1] != null).slice(-200).reverse();
  return html`<div class="card">
    <div class="toolbar"><h2>Readings</h2>
      <select aria-label="Metric for table" value=${m} onChange=${(ev) => onMetric(ev.target.value)}>
        ${metrics.map((x) => html`<option value=${x}>${x}</option>`)}</select>
      <span class="muted small">${agg ? `per ${bucket} bucket, ` : ''}newest first, up to 200</span></div>
    <div class="table-wrap"><table data-testid="readings-table"><thead><tr><th>${agg ? 'Bucket start' : 'Time'}</th>
      ${agg ? html`<th>${m} avg</th><th>min</th><th>max</th><th>count</th>` : html`<th>${m}</th>`}</tr></thead><tbody>
      ${rows.map((p) => html`<tr><td><${Time} t=${p[0]} /></td>
        ${agg ? html`<td class="num">${fmtValue(p[1])}</td><td class="num">${fmtValue(p[2])}</td><td class="num">${fmtValue(p[3])}</td>
          <td class="num">${p[4]}</td>` : html`<td class="num">${fmtValue(p[1])}</td>`}</tr>`)}
    </tbody></table></div></div>`;
}
